import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app';
import { createRedisRateLimitStore } from '../api/redis-rate-limit-store';
import type { Config } from '../config';
import { initOrm } from '../db/orm';
import type { Logger } from '../logger';
import { createMetrics, type Metrics } from '../metrics';
import { createServices } from '../services';
import { createTemporalClient } from '../temporal/client';
import { reconcileSchedules } from '../temporal/reconcile';
import { scheduleSettings } from '../temporal/schedules';
import { registerTaskSearchAttributes } from '../temporal/search-attributes';
import { ensurePruneLogsSchedule } from '../temporal/retention';

export interface RunningApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** How long in-flight requests may take to finish on shutdown before their sockets are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Composition root of ROLE=api: config -> ORM -> Temporal client -> Express app -> HTTP server. */
export async function startApi(deps: {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  temporalAddress: string;
  apiKeys: readonly string[];
  host?: string;
  /** The process's metrics (shared with its worker in ROLE=all); a fresh registry when omitted. */
  metrics?: Metrics;
  /** The Temporal Web UI that GET /api/config points clients at (the embedded one by default). */
  temporalUiUrl?: string;
}): Promise<RunningApi> {
  const { config, logger } = deps;
  const orm = await initOrm({
    databaseUrl: deps.databaseUrl,
    poolMax: config.databasePoolMax,
    logger,
  });
  const temporal = createTemporalClient({
    address: deps.temporalAddress,
    namespace: config.temporalNamespace,
  });
  const services = createServices({ config, orm, temporal, logger });
  // In this process unless REDIS_URL names a store that every API replica shares.
  const rateLimitStore =
    config.redisUrl && config.rateLimitPerMinute > 0
      ? createRedisRateLimitStore(config.redisUrl, logger)
      : undefined;
  const app = createApp({
    logger,
    orm,
    temporal,
    metrics: deps.metrics ?? createMetrics(),
    services,
    apiKeys: deps.apiKeys,
    readOnlyApiKeys: config.apiKeysReadOnly,
    publicApiPath: config.publicApiPath,
    rateLimit: { perMinute: config.rateLimitPerMinute, store: rateLimitStore },
    clientConfig: {
      temporalUiUrl: deps.temporalUiUrl,
      temporalNamespace: config.temporalNamespace,
    },
  });

  const server = app.listen(config.port, deps.host ?? '0.0.0.0');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, 'API listening');

  // Start-up reconciliation runs beside serving: 10,000 tasks must not hold the port closed.
  // The task search attributes come first (SPEC §15): every schedule it writes carries them, and
  // Temporal refuses a schedule whose attributes the namespace lacks.
  const stopReconcile = new AbortController();
  const reconciled = registerTaskSearchAttributes({
    connection: temporal.connection,
    namespace: config.temporalNamespace,
    logger,
  }).then(async (attributesReady) => {
    if (!attributesReady || stopReconcile.signal.aborted) return;
    await reconcileSchedules({
      signal: stopReconcile.signal,
      orm,
      client: temporal.client,
      schedules: services.schedules,
      settings: scheduleSettings(config),
      logger,
    }).then(
      (summary) =>
        logger.info(
          { ...summary, failures: summary.failures.slice(0, 10) },
          'schedules reconciled',
        ),
      (error: unknown) =>
        logger.error({ err: error }, 'schedule reconciliation failed; run npm run reconcile'),
    );
  });

  // The daily log prune's schedule, one per deployment: every API start makes it match its config.
  const pruneScheduled = ensurePruneLogsSchedule({
    signal: stopReconcile.signal,
    client: temporal.client,
    taskQueue: config.temporalTaskQueue,
    retentionDays: config.logRetentionDays,
    batchSize: config.logPruneBatchSize,
    logger,
  }).catch((error: unknown) => {
    if (stopReconcile.signal.aborted) return; // stopped before Temporal answered
    logger.error({ err: error }, 'could not create the log prune schedule; the next start retries');
  });

  let closing: Promise<void> | undefined;
  const close = async () => {
    stopReconcile.abort();
    await reconciled;
    await pruneScheduled;
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    await drained;
    clearTimeout(timer);
    await orm.close();
    await temporal.close();
    await rateLimitStore?.close();
    logger.info('API stopped');
  };
  return {
    url: `http://localhost:${port}`,
    port,
    close: () => (closing ??= close()),
  };
}
