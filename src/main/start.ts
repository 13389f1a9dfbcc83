import { type Config, ConfigError, loadConfig } from '../config';
import { createLogger, type Logger } from '../logger';
import { createMetrics } from '../metrics';
import { resolveApiKeys } from './api-keys';
import { type RunningApi, startApi } from './api';
import { prepareDatabase, provideInfrastructure } from './infrastructure';
import { type RunningWorker, startWorker } from './worker';
import { startWorkerEndpoints, type WorkerEndpoints } from './worker-endpoints';

/**
 * The process entry point for every role. ROLE=all (the default) runs the API and a worker in one
 * process; with DATABASE_URL / TEMPORAL_ADDRESS unset it first starts the embedded services.
 * Shutdown (SIGINT/SIGTERM) runs in reverse: API (in-flight requests finish), worker (in-flight
 * activities finish within the grace period), embedded Temporal, embedded PostgreSQL; then the
 * process exits 0. A second signal exits at once.
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
  const logger = createLogger({ level: config.logLevel, secrets: config.apiKeys });
  const closers: { name: string; close: () => Promise<void> }[] = [];
  let shuttingDown = false;

  const shutdown = async (reason: string, exitCode: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ reason }, 'shutting down');
    for (const { name, close } of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => logger.error({ err: error, name }, 'shutdown step failed'));
    }
    logger.flush();
    process.exit(exitCode);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (shuttingDown) {
        console.error(`\n${signal} again: exiting now`);
        process.exit(130);
      }
      void shutdown(signal, 0);
    });
  }

  try {
    const infra = await provideInfrastructure(config, logger, {
      temporal: true,
    });
    closers.push({ name: 'embedded services', close: infra.stop });

    if (config.role !== 'worker') await prepareDatabase(infra.databaseUrl, logger);

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
    }
    if (config.role !== 'api') {
      worker = await startWorker({
        config,
        logger,
        databaseUrl: infra.databaseUrl,
        temporalAddress: infra.temporalAddress,
        metrics,
      });
      const running = worker;
      closers.push({ name: 'worker', close: () => running.shutdown() });
      running.finished.catch((error: unknown) => {
        logger.error({ err: error }, 'worker failed');
        void shutdown('worker failed', 1);
      });
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
      });
      closers.push({ name: 'api', close: api.close });
    }
    printBanner({ config, api, worker, endpoints, temporalUiUrl: infra.temporalUiUrl, developmentKey, logger });
  } catch (error) {
    logger.error({ err: error }, 'start-up failed');
    await shutdown('start-up failed', 1);
  }
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
    lines.push(`  API key      ${developmentKey}   (development key, kept in ${config.embedded.dataDir}/api-key)`);
  }
  lines.push('Press Ctrl-C to stop.', '');
  process.stdout.write(lines.join('\n') + '\n');
}

if (require.main === module) {
  void main();
}
