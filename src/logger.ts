import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type DestinationStream, type Logger } from 'pino';
import { redactWebhookTokens } from './discord/webhook-url';

export type { Logger };

/** Per-request context (request id), read by every log line written while serving it. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/**
 * Paths pino censors wherever they appear. Webhook URLs carry the Discord token and API keys are
 * credentials; neither may reach a log line (SPEC §7).
 */
export const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'apiKey',
  'apiKeys',
  'webhookUrl',
  'webhook_url',
  '*.webhookUrl',
  '*.webhook_url',
  'config.apiKeys',
];

/**
 * pino, JSON lines, with the request id of the request being served on every line. Secrets are
 * kept out in three layers: the REDACT_PATHS keys are censored; every string of a line (message,
 * fields, error messages and stacks) has its Discord webhook tokens masked, wherever they hide
 * (an SQL error quoting an insert, an axios error); and the exact `secrets` given (the API keys
 * from the environment) are replaced wherever they appear.
 */
export function createLogger(
  options: { level: string; name?: string; secrets?: readonly string[] },
  destination?: DestinationStream,
): Logger {
  const scrub = createScrubber(options.secrets ?? []);
  return pino(
    {
      name: options.name ?? 'discord-task-scheduler',
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin() {
        const store = requestContext.getStore();
        return store ? { requestId: store.requestId } : {};
      },
      serializers: {
        // pino's serialized error is not a plain object: copy its fields to scrub them. Anything
        // else given as `err` (a string, a number) is kept as scrubbed text, not spread into
        // one field per character.
        err: (error: unknown) =>
          error instanceof Error || (typeof error === 'object' && error !== null)
            ? scrubDeep({ ...pino.stdSerializers.err(error as Error) }, scrub)
            : scrub(String(error)),
      },
      formatters: { log: (object) => scrubDeep(object, scrub) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg: unknown) => (typeof arg === 'string' ? scrub(arg) : arg));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}

function createScrubber(secrets: readonly string[]): (text: string) => string {
  const exact = secrets.filter((secret) => secret.length > 0);
  return (text) => {
    let result = redactWebhookTokens(text);
    for (const secret of exact) {
      if (result.includes(secret)) result = result.split(secret).join('[redacted]');
    }
    return result;
  };
}

/**
 * Strings in plain objects and arrays, a few levels deep. Error instances are left to the `err`
 * serializer (copying one here would lose its non-enumerable message and stack).
 */
function scrubDeep(value: unknown, scrub: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 6 || value === null || typeof value !== 'object' || value instanceof Error)
    return value;
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, scrub, depth + 1));
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) result[key] = scrubDeep(item, scrub, depth + 1);
  return result;
}
