import { randomUUID } from 'node:crypto';
import { bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { initOrm } from '../../src/db/orm';
import { type RunningWorker, startWorker } from '../../src/main/worker';
import type { Metrics } from '../../src/metrics';
import { WORKFLOWS_PATH } from '../../src/temporal/workflow-bundle';
import { createTestApp, testEnv, type TestApp } from './app';
import type { MockDiscord } from './mock-discord';
import { silentLogger } from './process';

export interface DeliveryStack {
  t: TestApp;
  worker: RunningWorker;
  close(): Promise<void>;
}

/**
 * The API in-process and a worker on a task queue of its own (named after `name`), both pointed at
 * `discord` with short timeouts and backoff, on the suite's PostgreSQL and Temporal dev server:
 * what an end-to-end delivery test needs. `env` overrides the defaults.
 */
export async function startDeliveryStack(options: {
  name: string;
  discord: MockDiscord;
  env?: NodeJS.ProcessEnv;
  metrics?: Metrics;
  /** A database of the test's own (migrated) instead of the suite's. */
  databaseUrl?: string;
}): Promise<DeliveryStack> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_TASK_QUEUE: `e2e-${options.name}-${randomUUID()}`,
    WEBHOOK_ALLOWED_ORIGINS: options.discord.url,
    WEBHOOK_TIMEOUT_MS: '1000',
    RETRY_INITIAL_INTERVAL: '1s',
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: silentLogger,
  });
  const databaseUrl = options.databaseUrl ?? testEnv().databaseUrl;
  const t = await createTestApp({
    env,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.databaseUrl
      ? { orm: await initOrm({ databaseUrl: options.databaseUrl, poolMax: 4 }) }
      : {}),
  });
  const worker = await startWorker({
    config: loadConfig(env),
    logger: pino({ level: 'silent' }),
    databaseUrl,
    temporalAddress: testEnv().temporalAddress,
    workflowBundle,
    metrics: options.metrics,
  });
  return {
    t,
    worker,
    async close() {
      await worker.shutdown();
      await t.close();
    },
  };
}
