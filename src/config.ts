import path from 'node:path';
import Joi from 'joi';
import type { LogFormat } from './logger';
import { parseEncryptionKey } from './crypto/secrets';
import { validateWebhookUrl } from './discord/webhook-url';
import { MAX_WEBHOOK_TIMEOUT_MS } from './temporal/contracts';

/** PostgreSQL connections a process's pool opens at most unless DATABASE_POOL_MAX says. */
export const DEFAULT_POOL_MAX = 10;

export type Role = 'api' | 'worker' | 'all';

export interface Config {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly role: Role;
  readonly port: number;
  /** Keys from API_KEY; empty in development when the key is generated under DATA_DIR. */
  readonly apiKeys: readonly string[];
  /** Keys from API_KEYS_READ_ONLY: they may read and preview schedules, nothing else (SPEC §14). */
  readonly apiKeysReadOnly: readonly string[];
  /**
   * Keys from ENCRYPTION_KEYS (SPEC §15): the first seals webhook URLs at rest, all open them.
   * Empty in development when the key is generated under DATA_DIR (see encryption-keys.ts).
   */
  readonly encryptionKeys: readonly Buffer[];
  /** Unset: start the embedded PostgreSQL. */
  readonly databaseUrl: string | undefined;
  /** Unset: start the embedded Temporal dev server. */
  readonly temporalAddress: string | undefined;
  readonly temporalNamespace: string;
  readonly temporalTaskQueue: string;
  readonly webhookAllowedOrigins: readonly string[];
  /** ALERT_WEBHOOK_URL: where failure and recovery alerts go, unless a task has its own (§14). */
  readonly alertWebhookUrl: string | undefined;
  /** PUBLIC_URL: the console's public address, for links in alerts (§14); localhost outside production. */
  readonly publicUrl: string | undefined;
  readonly webhookTimeoutMs: number;
  readonly retry: {
    readonly initialIntervalMs: number;
    readonly backoffCoefficient: number;
    readonly maximumIntervalMs: number;
  };
  readonly scheduleCatchupWindowMs: number;
  /**
   * DELIVERY_FIRST_ATTEMPT: `local` runs a delivery's first attempt as a local activity (one
   * workflow task per delivery that succeeds at once); `activity` runs every attempt as a regular
   * activity (docs/decisions.md says what each costs and shows).
   */
  readonly deliveryFirstAttempt: 'local' | 'activity';
  /** DELIVERY_RATE_LIMIT_DEADLINE: a run rate-limited this long ends FAILED (SPEC §13). */
  readonly deliveryRateLimitDeadlineMs: number;
  /** DISCORD_INVALID_REQUEST_BUDGET: invalid answers per 10 minutes before sending pauses. */
  readonly discordInvalidRequestBudget: number;
  /** The Temporal worker's capacity (WORKER_*), sized by `npm run bench` (docs/benchmarks.md). */
  readonly worker: WorkerTuning;
  readonly logLevel: string;
  /**
   * LOG_FORMAT: `json` or `pretty` whatever stdout is; unset: pretty lines on a terminal outside
   * production, JSON lines otherwise (see logger.ts).
   */
  readonly logFormat: LogFormat | undefined;
  readonly redisUrl: string | undefined;
  /** Logs older than this many days are pruned daily (SPEC §12); 0 keeps every log. */
  readonly logRetentionDays: number;
  /** Rows the prune deletes per statement (one short transaction each). */
  readonly logPruneBatchSize: number;
  /** DATABASE_POOL_MAX: PostgreSQL connections each API or worker process opens at most. */
  readonly databasePoolMax: number;
  /**
   * V8_HEAP_GROWING_PERCENT: how far V8 lets the heap grow past what a full collection kept
   * before it collects again (`--heap-growing-percent`); 0 leaves V8's own factor (up to 4x).
   * Default: 50 for a worker; 0 for a process that serves the API (ROLE api or all), whose reads
   * spent 11-32 % more CPU and doubled their p99 under the flag (docs/benchmarks.md, "Memory").
   */
  readonly heapGrowingPercent: number;
  /** Requests per minute each API key may make (SPEC §7); 0: no limit. */
  readonly rateLimitPerMinute: number;
  /**
   * Where a reverse proxy exposes this service's `/api` routes (e.g. `/api/task-scheduler`), for
   * the served OpenAPI document and Swagger UI; unset: `/api`, or derived from X-Forwarded-Prefix.
   */
  readonly publicApiPath: string | undefined;
  /**
   * TEMPORAL_UI_URL: the Temporal Web UI the web console links executions to (GET /api/config);
   * unset: the embedded dev server's UI when it runs, otherwise no link.
   */
  readonly temporalUiUrl: string | undefined;
  /** ROLE=worker: port of the worker's own /metrics and /health endpoints. */
  readonly metricsPort: number;
  readonly embedded: {
    readonly dataDir: string;
    readonly postgresPort: number;
    readonly temporalPort: number;
    readonly temporalUiPort: number;
  };
}

export interface WorkerTuning {
  /** Delivery attempts (regular activities) run at once. */
  readonly maxConcurrentActivities: number;
  /** First attempts (local activities) run at once. */
  readonly maxConcurrentLocalActivities: number;
  readonly maxConcurrentWorkflowTasks: number;
  /** Workflows kept in memory between their workflow tasks (a delivery needs one or two). */
  readonly maxCachedWorkflows: number;
  readonly workflowTaskPollers: number;
  /**
   * The share of the workflow task pollers that poll the task queue itself (new workflows, and
   * workflows no longer cached) rather than this worker's sticky queue (the next task of a cached
   * workflow). A delivery that succeeds at once is one task from the task queue itself.
   */
  readonly taskQueuePollShare: number;
  readonly activityTaskPollers: number;
  /**
   * Threads that run workflow code. Each is a V8 isolate of its own (about 50 MiB here); on 2
   * cores a second one measured no faster (docs/benchmarks.md, "Worker sizing").
   */
  readonly workflowThreads: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `500ms`, `2s`, `5m`, `1h`, `1d` into milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

const duration = (min: number) =>
  Joi.string().custom((value: string, helpers) => {
    const ms = parseDuration(value);
    if (ms === undefined) return helpers.error('duration.format');
    if (ms < min) return helpers.error('duration.min', { min: `${min}ms` });
    return ms;
  }, 'duration');

const durationMessages = {
  'duration.format': '{{#label}} must be a duration such as 500ms, 2s, 5m or 1h',
  'duration.min': '{{#label}} must be at least {{#min}}',
};

const origin = Joi.string().custom((value: string, helpers) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return helpers.error('origin.format');
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.origin !== value.replace(/\/$/, '')) {
    return helpers.error('origin.format');
  }
  return url.origin;
}, 'origin');

const port = Joi.number().integer().min(1).max(65535);

const schema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  ROLE: Joi.string().valid('api', 'worker', 'all').default('all'),
  PORT: port.default(3005),
  API_KEY: Joi.when('NODE_ENV', {
    is: 'production',
    then: Joi.string().trim().required(),
    otherwise: Joi.string().trim().allow('').optional(),
  }),
  API_KEYS_READ_ONLY: Joi.string().trim().allow('').optional(),
  DATABASE_URL: Joi.when('NODE_ENV', {
    is: 'production',
    then: Joi.string()
      .uri({ scheme: ['postgres', 'postgresql'] })
      .required(),
    otherwise: Joi.string()
      .uri({ scheme: ['postgres', 'postgresql'] })
      .allow('')
      .optional(),
  }),
  TEMPORAL_ADDRESS: Joi.when('NODE_ENV', {
    is: 'production',
    then: Joi.string()
      .pattern(/^[\w.-]+:\d+$/)
      .required(),
    otherwise: Joi.string()
      .pattern(/^[\w.-]+:\d+$/)
      .allow('')
      .optional(),
  }).messages({ 'string.pattern.base': '{{#label}} must be host:port' }),
  TEMPORAL_NAMESPACE: Joi.string().default('default'),
  ENCRYPTION_KEYS: Joi.when('NODE_ENV', {
    is: 'production',
    then: Joi.string().trim().required(),
    otherwise: Joi.string().trim().allow('').optional(),
  }),
  TEMPORAL_TASK_QUEUE: Joi.string().default('discord-webhooks'),
  WEBHOOK_ALLOWED_ORIGINS: Joi.string().default(
    'https://discord.com,https://discordapp.com,https://ptb.discord.com,https://canary.discord.com',
  ),
  WEBHOOK_TIMEOUT_MS: Joi.number().integer().min(100).max(MAX_WEBHOOK_TIMEOUT_MS).default(10_000),
  // Temporal does not retry an activity sooner than 1 s after a failure.
  RETRY_INITIAL_INTERVAL: duration(1_000).default(2_000),
  RETRY_BACKOFF_COEFFICIENT: Joi.number().min(1).max(100).default(2),
  RETRY_MAX_INTERVAL: duration(1_000).default(300_000),
  SCHEDULE_CATCHUP_WINDOW: duration(10_000).default(300_000),
  DELIVERY_FIRST_ATTEMPT: Joi.string().valid('local', 'activity').default('local'),
  DELIVERY_RATE_LIMIT_DEADLINE: duration(1_000).default(3_600_000),
  // Cloudflare bans at 10,000; a budget at or above it would be no protection.
  DISCORD_INVALID_REQUEST_BUDGET: Joi.number().integer().min(1).max(9_999).default(5_000),
  // Measured with `npm run bench` (docs/benchmarks.md, "Worker sizing"): the SDK's defaults,
  // except a smaller workflow cache (a delivery that succeeds needs no cached workflow).
  WORKER_MAX_CONCURRENT_ACTIVITIES: Joi.number().integer().min(1).max(10_000).default(100),
  WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: Joi.number().integer().min(1).max(10_000).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: Joi.number().integer().min(2).max(10_000).default(40),
  WORKER_MAX_CACHED_WORKFLOWS: Joi.number().integer().min(0).max(100_000).default(200),
  WORKER_WORKFLOW_POLLERS: Joi.number().integer().min(2).max(100).default(10),
  WORKER_TASK_QUEUE_POLL_SHARE: Joi.number().greater(0).max(1).default(0.8),
  WORKER_ACTIVITY_POLLERS: Joi.number().integer().min(1).max(100).default(10),
  WORKER_WORKFLOW_THREADS: Joi.number().integer().min(1).max(16).default(1),
  LOG_LEVEL: Joi.string()
    .valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent')
    .default('info'),
  LOG_FORMAT: Joi.string()
    .valid('json', 'pretty')
    .allow('')
    .optional()
    .messages({ 'any.only': '{{#label}} must be json or pretty (unset: pretty on a terminal)' }),
  REDIS_URL: Joi.string()
    .uri({ scheme: ['redis', 'rediss'] })
    .allow('')
    .optional(),
  RATE_LIMIT_PER_MINUTE: Joi.number().integer().min(0).default(600),
  LOG_RETENTION_DAYS: Joi.number().integer().min(0).max(36_500).default(90),
  LOG_PRUNE_BATCH_SIZE: Joi.number().integer().min(100).max(100_000).default(5_000),
  DATABASE_POOL_MAX: Joi.number().integer().min(2).max(100).default(DEFAULT_POOL_MAX),
  V8_HEAP_GROWING_PERCENT: Joi.number().integer().min(0).max(1_000),
  PUBLIC_API_PATH: Joi.string()
    .pattern(/^(\/[\w.~-]+)+$/)
    .allow('')
    .optional()
    .messages({
      'string.pattern.base':
        '{{#label}} must be a path such as /api/task-scheduler (no trailing slash)',
    }),
  ALERT_WEBHOOK_URL: Joi.string().trim().allow('').optional(),
  PUBLIC_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .allow('')
    .optional()
    .messages({ 'string.uriCustomScheme': '{{#label}} must be an http(s) URL' }),
  TEMPORAL_UI_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .allow('')
    .optional()
    .messages({ 'string.uriCustomScheme': '{{#label}} must be an http(s) URL' }),
  METRICS_PORT: port.default(9464),
  DATA_DIR: Joi.string().default('.data'),
  EMBEDDED_POSTGRES_PORT: port.default(54329),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
})
  .messages(durationMessages)
  .unknown(true);

const originList = Joi.array()
  .items(origin.messages({ 'origin.format': '' }))
  .min(1);

/**
 * Reads and validates the environment once. Throws a ConfigError whose message is one line
 * naming the variable and the rule it broke; the value itself is never echoed (it may be a secret).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const { value: v, error } = schema.validate(env, {
    abortEarly: true,
    convert: true,
    errors: { wrap: { label: false } },
  });
  if (error) throw new ConfigError(`Invalid configuration: ${error.details[0]?.message}`);

  const origins = String(v.WEBHOOK_ALLOWED_ORIGINS)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const originsResult = originList.validate(origins);
  if (originsResult.error) {
    throw new ConfigError(
      'Invalid configuration: WEBHOOK_ALLOWED_ORIGINS must be a comma-separated list of origins such as https://discord.com',
    );
  }

  const apiKeys = String(v.API_KEY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (apiKeys.some((key) => key.length < 16)) {
    throw new ConfigError('Invalid configuration: API_KEY keys must be at least 16 characters');
  }
  const apiKeysReadOnly = String(v.API_KEYS_READ_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (apiKeysReadOnly.some((key) => key.length < 16)) {
    throw new ConfigError(
      'Invalid configuration: API_KEYS_READ_ONLY keys must be at least 16 characters',
    );
  }
  if (apiKeysReadOnly.some((key) => apiKeys.includes(key))) {
    throw new ConfigError(
      'Invalid configuration: a key is in both API_KEY and API_KEYS_READ_ONLY; a key either writes or only reads',
    );
  }

  let encryptionKeys: Buffer[];
  try {
    encryptionKeys = String(v.ENCRYPTION_KEYS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(parseEncryptionKey);
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration: ENCRYPTION_KEYS: ${error instanceof Error ? error.message : String(error)}`,
    );
  }

  const alertWebhookUrl = v.ALERT_WEBHOOK_URL ? String(v.ALERT_WEBHOOK_URL) : undefined;
  if (alertWebhookUrl) {
    const checked = validateWebhookUrl(alertWebhookUrl, originsResult.value as string[]);
    if (!checked.ok) {
      throw new ConfigError(
        `Invalid configuration: ALERT_WEBHOOK_URL must be a Discord webhook URL: ${checked.reason}`,
      );
    }
  }

  if (v.RETRY_MAX_INTERVAL < v.RETRY_INITIAL_INTERVAL) {
    throw new ConfigError(
      'Invalid configuration: RETRY_MAX_INTERVAL must not be shorter than RETRY_INITIAL_INTERVAL',
    );
  }

  return deepFreeze<Config>({
    nodeEnv: v.NODE_ENV,
    role: v.ROLE,
    port: v.PORT,
    apiKeys,
    apiKeysReadOnly,
    encryptionKeys,
    databaseUrl: v.DATABASE_URL || undefined,
    temporalAddress: v.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: v.TEMPORAL_NAMESPACE,
    temporalTaskQueue: v.TEMPORAL_TASK_QUEUE,
    webhookAllowedOrigins: originsResult.value as string[],
    alertWebhookUrl,
    // Outside production the console is where `npm start` serves it.
    publicUrl: v.PUBLIC_URL
      ? String(v.PUBLIC_URL).replace(/\/+$/, '')
      : v.NODE_ENV === 'production'
        ? undefined
        : `http://localhost:${v.PORT}`,
    webhookTimeoutMs: v.WEBHOOK_TIMEOUT_MS,
    retry: {
      initialIntervalMs: v.RETRY_INITIAL_INTERVAL,
      backoffCoefficient: v.RETRY_BACKOFF_COEFFICIENT,
      maximumIntervalMs: v.RETRY_MAX_INTERVAL,
    },
    scheduleCatchupWindowMs: v.SCHEDULE_CATCHUP_WINDOW,
    deliveryFirstAttempt: v.DELIVERY_FIRST_ATTEMPT,
    deliveryRateLimitDeadlineMs: v.DELIVERY_RATE_LIMIT_DEADLINE,
    discordInvalidRequestBudget: v.DISCORD_INVALID_REQUEST_BUDGET,
    worker: {
      maxConcurrentActivities: v.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentLocalActivities: v.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES,
      maxConcurrentWorkflowTasks: v.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxCachedWorkflows: v.WORKER_MAX_CACHED_WORKFLOWS,
      workflowTaskPollers: v.WORKER_WORKFLOW_POLLERS,
      taskQueuePollShare: v.WORKER_TASK_QUEUE_POLL_SHARE,
      activityTaskPollers: v.WORKER_ACTIVITY_POLLERS,
      workflowThreads: v.WORKER_WORKFLOW_THREADS,
    },
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT || undefined,
    redisUrl: v.REDIS_URL || undefined,
    logRetentionDays: v.LOG_RETENTION_DAYS,
    logPruneBatchSize: v.LOG_PRUNE_BATCH_SIZE,
    databasePoolMax: v.DATABASE_POOL_MAX,
    heapGrowingPercent: v.V8_HEAP_GROWING_PERCENT ?? (v.ROLE === 'worker' ? 50 : 0),
    rateLimitPerMinute: v.RATE_LIMIT_PER_MINUTE,
    publicApiPath: v.PUBLIC_API_PATH || undefined,
    temporalUiUrl: v.TEMPORAL_UI_URL ? String(v.TEMPORAL_UI_URL).replace(/\/+$/, '') : undefined,
    metricsPort: v.METRICS_PORT,
    embedded: {
      dataDir: path.resolve(v.DATA_DIR),
      postgresPort: v.EMBEDDED_POSTGRES_PORT,
      temporalPort: v.TEMPORAL_PORT,
      temporalUiPort: v.TEMPORAL_UI_PORT,
    },
  });
}

function deepFreeze<T>(value: T): T {
  // Keys (Buffers) cannot be frozen; the array that holds them is.
  if (ArrayBuffer.isView(value)) return value;
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
