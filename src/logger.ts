import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { redactWebhookTokens } from './discord/webhook-url';

export type { Logger };

/** `json`: one JSON object per line, for machines. `pretty`: one readable line, for a person. */
export type LogFormat = 'json' | 'pretty';

/**
 * The format when none is configured: pretty for a person at a terminal during development, JSON
 * for everything else (pipes, files, containers, production).
 */
export function defaultLogFormat(options: { isTTY: boolean; nodeEnv?: string }): LogFormat {
  return options.isTTY && options.nodeEnv !== 'production' ? 'pretty' : 'json';
}

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
 * pino, with the request id of the request being served on every line. Secrets are kept out in
 * three layers: the REDACT_PATHS keys are censored; every string of a line (message, fields,
 * error messages and stacks) has its Discord webhook tokens masked, wherever they hide (an SQL
 * error quoting an insert, an axios error); and the exact `secrets` given (the API keys from the
 * environment) are replaced wherever they appear. All three happen before a line is formatted,
 * so they hold for both formats.
 *
 * `format` (LOG_FORMAT) unset: pretty when the destination (stdout unless given) is a terminal
 * and `nodeEnv` is not production, JSON lines otherwise.
 */
export function createLogger(
  options: {
    level: string;
    name?: string;
    secrets?: readonly string[];
    format?: LogFormat;
    nodeEnv?: string;
  },
  destination?: DestinationStream,
): Logger {
  const scrub = createScrubber(options.secrets ?? []);
  const isTTY = destination
    ? (destination as { isTTY?: boolean }).isTTY === true
    : process.stdout.isTTY === true;
  const format = options.format ?? defaultLogFormat({ isTTY, nodeEnv: options.nodeEnv });
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
    format === 'pretty' ? prettyDestination(destination) : destination,
  );
}

/**
 * pino-pretty in the process, synchronously: each line is formatted as it is written, so the
 * lines keep their order with the start-up banner and none is lost when the process exits.
 * Errors keep their stack on the lines below the event.
 */
function prettyDestination(destination?: DestinationStream): DestinationStream {
  // Colours on the terminal (colorette's detection: NO_COLOR, FORCE_COLOR); none for a stream
  // handed in (tests).
  const target = destination ?? pino.destination({ dest: 1, sync: true });
  const prettify = prettyFactory({
    ...(destination ? { colorize: false } : {}),
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: prettyMessage,
  });
  const stream: Flushable = { write: (line: string) => target.write(prettify(line)) };
  // pino's logger.flush() (before process.exit) reaches the terminal through this.
  const { flush } = target as Flushable;
  if (flush) stream.flush = (done) => flush.call(target, done);
  return stream;
}

type Flushable = DestinationStream & { flush?: (done: (error?: Error) => void) => void };

/** Characters that could steer the terminal (escape sequences); tab and newline stay. */
// eslint-disable-next-line no-control-regex
const UNSAFE_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

/**
 * `[component] message` on one line. A message of several lines (webpack's report on the
 * workflow bundle, through the Temporal SDK) shows its first and counts the rest, which the JSON
 * format keeps.
 */
function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const [first = '', ...rest] = String(log[messageKey] ?? '')
    .replace(UNSAFE_CONTROL, '')
    .trimEnd()
    .split('\n');
  const component = typeof log.component === 'string' ? `[${log.component}] ` : '';
  const more = rest.length > 0 ? ` (+${rest.length} more lines)` : '';
  return `${component}${first}${more}`;
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
