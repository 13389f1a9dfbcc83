"""schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

The OpenAPI document's examples use real Discord webhook URLs. The fuzzed product only allows
FUZZ_WEBHOOK_ORIGIN (a local port nothing listens on), so that no generated or triggered task can
reach the internet. Rewriting the examples' origin to it lets the examples create tasks (201), which
gives the stateful phase real ids to follow (GET, PATCH, toggle, trigger, logs, DELETE). Generated
values are not touched.
"""

import os

import schemathesis

DISCORD_WEBHOOKS = "https://discord.com/api/webhooks/"
FUZZ_ORIGIN = os.environ.get("FUZZ_WEBHOOK_ORIGIN", "http://127.0.0.1:9")


def _rewrite(node):
    if isinstance(node, dict):
        return {key: _rewrite(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if isinstance(node, str) and node.startswith(DISCORD_WEBHOOKS):
        return FUZZ_ORIGIN + "/api/webhooks/" + node[len(DISCORD_WEBHOOKS):]
    return node


@schemathesis.hook
def before_load_schema(context, raw_schema):
    rewritten = _rewrite(raw_schema)
    raw_schema.clear()
    raw_schema.update(rewritten)
