import v8 from 'node:v8';
import { settlesWithin } from '../async';
import { type Config, ConfigError, loadConfig } from '../config';
import { SecretKeyError } from '../crypto/secrets';
import { secretBoxOf, verifyStoredSecrets } from '../crypto/stored-secrets';
import { initOrm, prepareDatabase } from '../db/orm';
import { type Killable, provideInfrastructure } from '../embedded/infrastructure';
import { createLogger, type Logger } from '../logger';
import { createMetrics } from '../metrics';
import { resolveApiKeys } from './api-keys';
import { withEncryptionKeys } from '../crypto/encryption-keys';
import { type RunningApi, startApi } from './api';
import { keepWorkerRunning, type RunningWorker, startWorker } from './worker';
import { startWorkerEndpoints, type WorkerEndpoints } from './worker-endpoints';

/**
 * A second SIGINT/SIGTERM this soon after the first is the same stop request: a terminal's Ctrl-C
 * reaches the whole process group, and `npm start`'s tsx relays it to us as well, so one Ctrl-C
 * often arrives twice.
 */
export const SAME_STOP_REQUEST_MS = 2_000;

/** How long a stop waits for a start-up step under way (it is interrupted where it can be). */
const STARTUP_SETTLE_MS = 20_000;

/**
 * Whether a stop signal, arriving while a stop is already running, asks to exit at once: a
 * later one, or a third within the window. `earlier` holds when each earlier signal arrived.
 */
export function exitsAtOnce(earlier: readonly number[], now: number): boolean {
  const first = earlier[0];
  if (first === undefined) return false;
  return now - first >= SAME_STOP_REQUEST_MS || earlier.length >= 2;
}

/**
 * V8 settings of every role, set before the process allocates much. V8_HEAP_GROWING_PERCENT=50
 * (a worker's default) holds a heap to 1.5x what its last full collection kept, where V8's own
 * factor (up to 4x) let the API reach 358 MiB under read load for about 50 MiB of live objects.
 * A process serving the API keeps V8's own factor: there the flag cost its reads 11-32 % more
 * CPU and a doubled p99, and tail latency wins over memory (docs/benchmarks.md, "Memory"). A V8
 * flag, not a NODE_OPTIONS one, so it is set here for every way of starting. Answers the flags it
 * set.
 */
export function applyV8Flags(config: Pick<Config, 'heapGrowingPercent'>): string[] {
  const flags =
    config.heapGrowingPercent > 0 ? [`--heap-growing-percent=${config.heapGrowingPercent}`] : [];
  for (const flag of flags) v8.setFlagsFromString(flag);
  return flags;
}

/**
 * The process entry point for every role. ROLE=all (the default) runs the API and a worker in one
 * process; with DATABASE_URL / TEMPORAL_ADDRESS unset it first starts the embedded services and
 * supervises them (SPEC §2): one that dies is started again, and when it cannot be, the process
 * stops in order and exits 1. Shutdown (SIGINT/SIGTERM, also during start-up) runs in reverse:
 * API (in-flight requests finish), worker (in-flight activities finish within the grace period),
 * embedded Temporal, embedded PostgreSQL; then the process exits 0. A repeat of the signal within
 * SAME_STOP_REQUEST_MS is the same request; a later one (or a third) kills the embedded services
 * and exits at once.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  applyV8Flags(config);
  const logger = createLogger({
    level: config.logLevel,
    secrets: [...config.apiKeys, ...config.apiKeysReadOnly],
    format: config.logFormat,
    nodeEnv: config.nodeEnv,
  });
  const closers: { name: string; close: () => Promise<void> }[] = [];
  const stopRequested = new AbortController();
  /** The embedded services running, for the last-resort kill. */
  const running = new Set<Killable>();
  const killEmbedded = () => {
    for (const service of running) {
      try {
        service.kill();
      } catch {
        // already gone
      }
    }
  };
  // Whatever ends this process (an exit at once, an uncaught error), no child outlives it.
  process.once('exit', killEmbedded);

  let startup: Promise<void> = Promise.resolve();
  const signalsSeen: number[] = [];
  let shuttingDown = false;

  const shutdown = async (reason: string, exitCode: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    stopRequested.abort();
    logger.info({ reason }, 'shutting down');
    // A start-up step under way first finishes or is interrupted, so that what it started is
    // among the closers.
    await settlesWithin(startup, STARTUP_SETTLE_MS);
    for (const { name, close } of closers.splice(0).reverse()) {
      await close().catch((error: unknown) =>
        logger.error({ err: error, name }, 'shutdown step failed'),
      );
    }
    logger.flush();
    process.exit(exitCode);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      const now = Date.now();
      if (!shuttingDown) {
        signalsSeen.push(now);
        void shutdown(signal, 0);
      } else if (!exitsAtOnce(signalsSeen, now)) {
        signalsSeen.push(now);
        logger.info({ signal }, 'already stopping (the same stop request)');
      } else {
        logger.warn(
          { signal },
          `${signal} again: stopping the embedded services at once and exiting`,
        );
        killEmbedded();
        logger.flush();
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      }
    });
  }

  const onServiceLost = (reason: string) => {
    logger.error({ reason }, `exiting: ${reason}`);
    void shutdown(reason, 1);
  };

  startup = (async () => {
    const infra = await provideInfrastructure(config, logger, {
      temporal: true,
      signal: stopRequested.signal,
      onServiceLost,
      running,
    });
    closers.push({ name: 'embedded services', close: infra.stop });
    stopRequested.signal.throwIfAborted();

    // Webhook URLs at rest (SPEC §15): the keys every role needs, checked against what is stored
    // before anything runs, so a wrong or missing key stops here and never fails a delivery.
    config = await withEncryptionKeys(config);
    const secrets = secretBoxOf(config);
    if (config.role !== 'worker') await prepareDatabase(infra.databaseUrl, logger, secrets);
    await checkStoredSecrets(infra.databaseUrl, secrets);
    stopRequested.signal.throwIfAborted();

    // One registry per process: in ROLE=all the API's /metrics also shows the worker's metrics.
    const metrics = createMetrics();
    let api: RunningApi | undefined;
    let worker: RunningWorker | undefined;
    let endpoints: WorkerEndpoints | undefined;
    let developmentKey: string | undefined;
    if (config.role === 'worker') {
      endpoints = await startWorkerEndpoints({
        port: config.metricsPort,
        metrics,
        workerState: () => worker?.state() ?? 'STARTING',
        logger,
      });
      closers.push({ name: 'worker endpoints', close: endpoints.close });
      stopRequested.signal.throwIfAborted();
    }
    if (config.role !== 'api') {
      const kept = await keepWorkerRunning(
        () =>
          startWorker({
            config,
            logger,
            databaseUrl: infra.databaseUrl,
            temporalAddress: infra.temporalAddress,
            metrics,
            temporalUiUrl: infra.temporalUiUrl,
          }),
        logger,
      );
      worker = kept;
      closers.push({ name: 'worker', close: () => kept.shutdown() });
      stopRequested.signal.throwIfAborted();
    }
    if (config.role !== 'worker') {
      const keys = await resolveApiKeys(config);
      developmentKey = keys.developmentKey;
      api = await startApi({
        config,
        logger,
        databaseUrl: infra.databaseUrl,
        temporalAddress: infra.temporalAddress,
        apiKeys: keys.keys,
        metrics,
        temporalUiUrl: config.temporalUiUrl ?? infra.temporalUiUrl,
      });
      closers.push({ name: 'api', close: api.close });
      stopRequested.signal.throwIfAborted();
    }
    printBanner({
      config,
      api,
      worker,
      endpoints,
      temporalUiUrl: infra.temporalUiUrl,
      developmentKey,
      logger,
    });
  })().catch((error: unknown) => {
    if (stopRequested.signal.aborted) {
      // Stopped during start-up: not a failure; the shutdown under way stops what was started.
      logger.info(
        { reason: error instanceof Error ? error.message : String(error) },
        'start-up interrupted',
      );
      return;
    }
    if (error instanceof SecretKeyError) {
      // One line that says what to fix, not a stack.
      logger.error(error.message);
    } else {
      logger.error({ err: error }, 'start-up failed');
    }
    void shutdown('start-up failed', 1);
  });
  await startup;
}

function printBanner(options: {
  config: Config;
  api?: RunningApi;
  worker?: RunningWorker;
  endpoints?: WorkerEndpoints;
  temporalUiUrl?: string;
  developmentKey?: string;
  logger: Logger;
}): void {
  const { config, api, worker, endpoints, temporalUiUrl, developmentKey } = options;
  const lines = ['', `Discord Task Scheduler is running (ROLE=${config.role})`];
  if (api) {
    lines.push(`  Console      ${api.url}/`);
    lines.push(`  API          ${api.url}/api`);
    lines.push(`  Swagger UI   ${api.url}/api/docs`);
    lines.push(`  Health       ${api.url}/health`);
    lines.push(`  Metrics      ${api.url}/metrics`);
  }
  if (endpoints) {
    lines.push(`  Health       http://localhost:${endpoints.port}/health`);
    lines.push(`  Metrics      http://localhost:${endpoints.port}/metrics`);
  }
  if (temporalUiUrl) lines.push(`  Temporal UI  ${temporalUiUrl}`);
  if (worker) lines.push(`  Worker       task queue "${config.temporalTaskQueue}"`);
  if (developmentKey) {
    lines.push(
      `  API key      ${developmentKey}   (development key, kept in ${config.embedded.dataDir}/api-key)`,
    );
  }
  lines.push('Press Ctrl-C to stop.', '');
  process.stdout.write(lines.join('\n') + '\n');
}

if (require.main === module) {
  void main();
}

/** verifyStoredSecrets on a connection of its own, closed after. */
async function checkStoredSecrets(
  databaseUrl: string,
  secrets: ReturnType<typeof secretBoxOf>,
): Promise<void> {
  const orm = await initOrm({ databaseUrl, poolMax: 1 });
  try {
    await verifyStoredSecrets(orm, secrets);
  } finally {
    await orm.close();
  }
}
