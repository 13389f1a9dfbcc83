import { existsSync } from 'node:fs';
import {
  DefaultLogger,
  type LogLevel,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { IllegalStateError } from '@temporalio/common';
import { createActivities } from '../../activities';
import type { Config } from '../config';
import { secretBoxOf } from '../crypto/stored-secrets';
import { initOrm } from '../db/orm';
import { createDiscordPacer } from '../discord/pacer';
import { createMemoryRateLimitStore, type RateLimitStore } from '../discord/rate-limit';
import { createRedisRateLimitStore } from '../discord/redis-rate-limit-store';
import { getFreePort } from '../embedded/ports';
import { abortableSleep } from '../embedded/supervisor';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { WORKFLOW_BUNDLE_PATH, WORKFLOWS_PATH } from '../temporal/workflow-bundle';

export interface RunningWorker {
  /** Settles when the worker has stopped polling and drained. */
  readonly finished: Promise<void>;
  /** RUNNING while polling; STOPPING while in-flight tasks drain; then STOPPED (or FAILED). */
  state(): string;
  shutdown(): Promise<void>;
}

/**
 * How long in-flight activities may run after shutdown is requested: longer than one delivery
 * attempt may take (its start-to-close timeout is WEBHOOK_TIMEOUT_MS + 10 s), so that a SIGTERM
 * lets every attempt in flight finish and log its outcome.
 */
export function shutdownGraceMs(config: Pick<Config, 'webhookTimeoutMs'>): number {
  return Math.max(30_000, config.webhookTimeoutMs + 15_000);
}

/** Composition root of ROLE=worker: config -> ORM -> activities -> Temporal worker. */
export async function startWorker(deps: {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  temporalAddress: string;
  /** Overrides for tests (own task queue per test). */
  taskQueue?: string;
  /** A workflow bundle built once (tests share one instead of bundling per worker). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Delivery metrics go here, and the Temporal SDK's worker metrics are added as a source. */
  metrics?: Metrics;
  /** The Temporal Web UI alerts link executions to, when not TEMPORAL_UI_URL (the embedded one). */
  temporalUiUrl?: string;
}): Promise<RunningWorker> {
  const { config, logger } = deps;
  const sdkMetricsUrl = await installTemporalRuntime(logger, config.logLevel);
  if (deps.metrics && sdkMetricsUrl) {
    deps.metrics.addSource('temporal-sdk', () => scrapeText(sdkMetricsUrl));
  }
  const orm = await initOrm({
    databaseUrl: deps.databaseUrl,
    poolMax: config.databasePoolMax,
    logger,
  });
  // Discord's buckets (SPEC §13): one state for the whole pool when REDIS_URL is set.
  const rateLimits: RateLimitStore = config.redisUrl
    ? createRedisRateLimitStore(config.redisUrl, logger)
    : createMemoryRateLimitStore();
  const pacer = createDiscordPacer({
    store: rateLimits,
    invalidBudget: config.discordInvalidRequestBudget,
    leaseMs: config.webhookTimeoutMs + 1_000,
    metrics: deps.metrics?.delivery.discord,
    onBudgetExhausted: (count, waitMs) =>
      logger.error(
        { invalidRequests: count, budget: config.discordInvalidRequestBudget, waitMs },
        "Discord's invalid requests (401, 403, 429) reached DISCORD_INVALID_REQUEST_BUDGET in the last 10 minutes: sending pauses before Cloudflare bans this IP",
      ),
  });
  let connection: NativeConnection | undefined;
  try {
    connection = await NativeConnection.connect({ address: deps.temporalAddress });
    const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> =
      deps.workflowBundle
        ? { workflowBundle: deps.workflowBundle }
        : existsSync(WORKFLOW_BUNDLE_PATH)
          ? { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }
          : { workflowsPath: WORKFLOWS_PATH };
    const worker = await Worker.create({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: deps.taskQueue ?? config.temporalTaskQueue,
      ...workflowSource,
      activities: createActivities({
        orm,
        config,
        secrets: secretBoxOf(config),
        temporal: new Client({ connection, namespace: config.temporalNamespace }),
        metrics: deps.metrics?.delivery,
        pacer,
        links: {
          publicUrl: config.publicUrl,
          temporalUiUrl: config.temporalUiUrl ?? deps.temporalUiUrl,
          namespace: config.temporalNamespace,
        },
      }),
      shutdownGraceTime: shutdownGraceMs(config),
      ...workerTuningOptions(config.worker),
    });
    const nativeConnection = connection;
    const finished = worker.run().finally(async () => {
      await rateLimits.close();
      await orm.close();
      await nativeConnection.close();
      logger.info('worker stopped');
    });
    logger.info({ taskQueue: deps.taskQueue ?? config.temporalTaskQueue }, 'worker polling');
    return {
      finished,
      state: () => worker.getState(),
      async shutdown() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await finished;
      },
    };
  } catch (error) {
    await rateLimits.close();
    await orm.close();
    await connection?.close();
    throw error;
  }
}

/** WORKER_* (sized by `npm run bench`, docs/benchmarks.md) as the SDK's worker options. */
export function workerTuningOptions(tuning: Config['worker']): Partial<WorkerOptions> {
  return {
    maxConcurrentActivityTaskExecutions: tuning.maxConcurrentActivities,
    maxConcurrentLocalActivityExecutions: tuning.maxConcurrentLocalActivities,
    maxConcurrentWorkflowTaskExecutions: tuning.maxConcurrentWorkflowTasks,
    maxCachedWorkflows: tuning.maxCachedWorkflows,
    workflowThreadPoolSize: tuning.workflowThreads,
    maxConcurrentWorkflowTaskPolls: Math.min(
      tuning.workflowTaskPollers,
      tuning.maxConcurrentWorkflowTasks,
    ),
    nonStickyToStickyPollRatio: tuning.taskQueuePollShare,
    maxConcurrentActivityTaskPolls: Math.min(
      tuning.activityTaskPollers,
      tuning.maxConcurrentActivities,
    ),
  };
}

/** Waits before restarting a failed worker: doubling from 1 s, at most 30 s, without end. */
export function workerRestartDelay(attempt: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5));
}

/** A restarted worker that has polled this long counts as recovered (the delays start over). */
const WORKER_STABLE_AFTER_MS = 60_000;

/**
 * Keeps a worker running: when its run() fails (Temporal gone for longer than the SDK retries,
 * a fatal poll error), the failure is logged and a new worker (new connection, new ORM) is
 * started with backoff, instead of the process exiting while the API keeps serving. The first
 * start is the caller's: it throws as startWorker does. `finished` settles once shutdown() has
 * stopped the current worker.
 */
export async function keepWorkerRunning(
  start: () => Promise<RunningWorker>,
  logger: Logger,
  options: {
    delay?: (attempt: number) => number;
    stableAfterMs?: number;
    now?: () => number;
    sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  } = {},
): Promise<RunningWorker> {
  const delay = options.delay ?? workerRestartDelay;
  const stableAfterMs = options.stableAfterMs ?? WORKER_STABLE_AFTER_MS;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const stopRequested = new AbortController();
  let current: RunningWorker | undefined = await start();
  let attempts = 0;

  const loop = async (): Promise<void> => {
    let startedAt = now();
    for (;;) {
      const error = await current!.finished.then(
        () => undefined,
        (failure: unknown) => failure ?? new Error('worker failed'),
      );
      if (stopRequested.signal.aborted) return;
      if (!error) {
        // run() ended without shutdown() from us: not expected either; start it again.
        logger.error('worker stopped polling without being asked to; restarting it');
      } else {
        logger.error({ err: error }, 'worker failed; restarting it');
      }
      current = undefined;
      if (now() - startedAt >= stableAfterMs) attempts = 0;
      for (;;) {
        const waitMs = delay(attempts);
        attempts += 1;
        logger.info(
          { attempt: attempts, delayMs: waitMs },
          `restarting the worker in ${waitMs} ms`,
        );
        await sleep(waitMs, stopRequested.signal);
        if (stopRequested.signal.aborted) return;
        try {
          const worker = await start();
          if (stopRequested.signal.aborted) {
            await worker.shutdown();
            return;
          }
          current = worker;
          startedAt = now();
          logger.info({ attempt: attempts }, 'worker restarted');
          break;
        } catch (startError) {
          logger.error({ err: startError, attempt: attempts }, 'worker could not be restarted');
        }
      }
    }
  };
  const looping = loop();

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      stopRequested.abort();
      // The loop waits on the current worker's end (or on a restart under way, which it then
      // stops itself), so the current worker is stopped first.
      await current?.shutdown();
      await looping;
    })());
  return {
    finished: looping.then(async () => {
      await stopping;
    }),
    state: () => current?.state() ?? (stopRequested.signal.aborted ? 'STOPPED' : 'RESTARTING'),
    shutdown,
  };
}

const PINO_LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal Runtime is a process-wide singleton, installed once: its logger goes into pino, and
 * so do the logs of the SDK's native core (forwarded, not printed to stderr as coloured text),
 * its metrics go to a Prometheus exporter on a loopback port (returned, for /metrics to include),
 * and it installs no signal handlers of its own, so that the process's shutdown keeps its order
 * (STYLE 11).
 */
export async function installTemporalRuntime(
  logger: Logger,
  level: string,
): Promise<string | undefined> {
  const temporalLogger = temporalRuntimeLogger(logger, level);
  const logging = { forward: {}, filter: { core: temporalLogger.level, other: 'ERROR' as const } };
  const bindAddress = `127.0.0.1:${await getFreePort()}`;
  try {
    Runtime.install({
      logger: temporalLogger,
      shutdownSignals: [],
      telemetryOptions: { logging, metrics: { prometheus: { bindAddress } } },
    });
    return `http://${bindAddress}/metrics`;
  } catch (error) {
    if (error instanceof IllegalStateError) return installedMetricsUrl();
    // The exporter could not bind (the port was taken meanwhile): run without SDK metrics.
    logger.warn({ err: error }, 'Temporal SDK metrics exporter unavailable');
    Runtime.install({ logger: temporalLogger, shutdownSignals: [], telemetryOptions: { logging } });
    return undefined;
  }
}

/**
 * The SDK's logger, writing into pino under component "temporal". The SDK logs every workflow
 * bundle build at INFO, so below debug only warnings and errors pass. Core's entries carry
 * `sdkComponent: "core"` and `target` (the Rust module), and their own timestamp, which pino's
 * replaces.
 */
export function temporalRuntimeLogger(logger: Logger, level: string): DefaultLogger {
  const temporalLevel = (
    ['trace', 'debug', 'error'].includes(level) ? level.toUpperCase() : 'WARN'
  ) as LogLevel;
  const child = logger.child({ component: 'temporal' });
  return new DefaultLogger(temporalLevel, ({ level: entryLevel, message, meta }) => {
    child[PINO_LEVELS[entryLevel]](meta ?? {}, message);
  });
}

/** The exporter of a Runtime installed earlier in this process (another worker), if it has one. */
function installedMetricsUrl(): string | undefined {
  const exporter = (Runtime.instance().options.runtimeOptions as { metricsExporter?: unknown })
    .metricsExporter as { type?: string; socketAddr?: string } | null | undefined;
  return exporter?.type === 'prometheus' && exporter.socketAddr
    ? `http://${exporter.socketAddr}/metrics`
    : undefined;
}

async function scrapeText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.text();
}
