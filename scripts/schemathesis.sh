#!/usr/bin/env bash
# Fuzzes the running product's HTTP API with schemathesis (SPEC §9), the way a user runs it:
# starts `tsx src/main/start.ts` (what `npm start` runs) on the embedded default with a throw-away
# DATA_DIR and free ports, waits for GET /health, runs every schemathesis phase (examples,
# coverage, fuzzing, stateful) against GET /api/openapi.json with a fixed seed, stops the product
# with SIGINT and exits with schemathesis' exit code. docs/operations.md "Fuzzing (schemathesis)" explains the
# checks. Environment knobs: SCHEMATHESIS_SEED, SCHEMATHESIS_MAX_EXAMPLES, SCHEMATHESIS_ARGS
# (extra `st run` arguments), KEEP_FUZZ_DATA=1 (keep DATA_DIR and the reports).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

SCHEMATHESIS_VERSION=4.32.5
SEED="${SCHEMATHESIS_SEED:-20260529}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-200}"
# Generated webhooks may only point here: a local port nothing listens on, so a generated task that
# fires fails at once (connection refused) and nothing leaves the machine.
FUZZ_WEBHOOK_ORIGIN="http://127.0.0.1:9"

# --- schemathesis in a venv cached outside the clone (pinned; reused between runs)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/discord-task-scheduler"
venv="$cache_root/schemathesis-$SCHEMATHESIS_VERSION"
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  mkdir -p "$cache_root"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

free_port() {
  node_modules/.bin/tsx -e 'require("./src/embedded/ports").getFreePort().then((p) => console.log(p))'
}

work="$(mktemp -d "${TMPDIR:-/tmp}/dts-fuzz.XXXXXX")"
log="$work/product.log"
product_pid=""

stop_product() {
  if [ -n "$product_pid" ] && kill -0 "$product_pid" 2>/dev/null; then
    kill -INT "$product_pid" 2>/dev/null || true
    for _ in $(seq 1 450); do
      kill -0 "$product_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$product_pid" 2>/dev/null; then
      echo "the product did not stop within 45 s of SIGINT; killing it"
      kill -KILL -- "-$product_pid" 2>/dev/null || kill -KILL "$product_pid" 2>/dev/null || true
    fi
  fi
  product_pid=""
}

# shellcheck disable=SC2329 # called by the EXIT trap below
cleanup() {
  stop_product
  if [ "${KEEP_FUZZ_DATA:-0}" = 1 ]; then
    echo "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(free_port)"
api_key="fuzz-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
base="http://127.0.0.1:$port"

# Its own session (setsid), so that a Ctrl-C on this terminal reaches the product once, from us.
env \
  NODE_ENV=development \
  ROLE=all \
  PORT="$port" \
  API_KEY="$api_key" \
  DATA_DIR="$work/data" \
  EMBEDDED_POSTGRES_PORT="$(free_port)" \
  TEMPORAL_PORT="$(free_port)" \
  TEMPORAL_UI_PORT="$(free_port)" \
  WEBHOOK_ALLOWED_ORIGINS="$FUZZ_WEBHOOK_ORIGIN" \
  WEBHOOK_TIMEOUT_MS=1000 \
  RATE_LIMIT_PER_MINUTE=0 \
  LOG_LEVEL="${FUZZ_LOG_LEVEL:-warn}" \
  setsid node_modules/.bin/tsx src/main/start.ts >"$log" 2>&1 &
product_pid=$!

echo "--- waiting for the product on $base (log: $log)"
for i in $(seq 1 180); do
  if curl -fsS -o /dev/null "$base/health" 2>/dev/null; then break; fi
  if ! kill -0 "$product_pid" 2>/dev/null; then
    echo "the product exited during start-up:"
    tail -n 50 "$log"
    exit 1
  fi
  if [ "$i" -eq 180 ]; then
    echo "no healthy product within 180 s:"
    tail -n 50 "$log"
    exit 1
  fi
  sleep 1
done

# positive_data_acceptance is excluded: it expects every request the schema allows to succeed, and
# some rules cannot be written in OpenAPI (cron syntax, the configured webhook origins, Discord's
# 6000-character embed total, reserved usernames, template variables), so schema-valid requests
# are still, rightly, 400s. See docs/operations.md "Fuzzing (schemathesis)".
echo "--- schemathesis $SCHEMATHESIS_VERSION, seed $SEED"
status=0
report_args=()
if [ "${KEEP_FUZZ_DATA:-0}" = 1 ]; then report_args=(--report junit --report-dir "$work/report"); fi
# Run from the temporary folder, where schemathesis keeps its cache (.schemathesis/). One worker:
# with two, Hypothesis' lambda descriptions race in Python 3.11's ast module ("AST constructor
# recursion depth mismatch", a runtime error rather than a finding).
# shellcheck disable=SC2086 # SCHEMATHESIS_ARGS is a list of arguments on purpose
(cd "$work" && FUZZ_WEBHOOK_ORIGIN="$FUZZ_WEBHOOK_ORIGIN" PYTHONPATH="$root/scripts" \
  SCHEMATHESIS_HOOKS=schemathesis_hooks "$venv/bin/st" --no-color \
  --config-file "$root/scripts/schemathesis.toml" run "$base/api/openapi.json" \
  --url "$base" \
  --header "X-API-Key: $api_key" \
  --phases examples,coverage,fuzzing,stateful \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --seed "$SEED" \
  --max-examples "$MAX_EXAMPLES" \
  --generation-database none \
  --request-timeout 10 \
  --workers 1 \
  "${report_args[@]}" \
  ${SCHEMATHESIS_ARGS:-}) || status=$?

if grep -q '"level":50' "$log"; then
  echo "--- errors the product logged during the run:"
  grep '"level":50' "$log" | tail -n 20
fi
stop_product
exit "$status"
