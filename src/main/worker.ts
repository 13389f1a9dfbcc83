import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  DefaultLogger,
  type LogLevel,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { createActivities } from '../../activities';
import type { Config } from '../config';
import { initOrm } from '../db/orm';
import type { Logger } from '../logger';

export interface RunningWorker {
  /** Settles when the worker has stopped polling and drained. */
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** How long in-flight activities may run after shutdown is requested. */
const SHUTDOWN_GRACE_TIME = '30s';

/**
 * The prebuilt workflow bundle (`npm run build` writes it); without it, e.g. under tsx, the
 * worker bundles workflows/ at start-up.
 */
export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '../../workflow-bundle.js');

/** workflows/index (.ts under tsx and ts-jest, .js once compiled). */
export const WORKFLOWS_PATH = require.resolve('../../workflows');

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
}): Promise<RunningWorker> {
  const { config, logger } = deps;
  routeTemporalLogsToPino(logger, config.logLevel);
  const orm = await initOrm({ databaseUrl: deps.databaseUrl });
  let connection: NativeConnection | undefined;
  try {
    connection = await NativeConnection.connect({ address: deps.temporalAddress });
    const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = deps.workflowBundle
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
        temporal: new Client({ connection, namespace: config.temporalNamespace }),
      }),
      shutdownGraceTime: SHUTDOWN_GRACE_TIME,
    });
    const nativeConnection = connection;
    const finished = worker.run().finally(async () => {
      await orm.close();
      await nativeConnection.close();
      logger.info('worker stopped');
    });
    logger.info({ taskQueue: deps.taskQueue ?? config.temporalTaskQueue }, 'worker polling');
    return {
      finished,
      async shutdown() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await finished;
      },
    };
  } catch (error) {
    await orm.close();
    await connection?.close();
    throw error;
  }
}

const PINO_LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The Temporal Runtime is a process-wide singleton: install its logger once, into pino. */
function routeTemporalLogsToPino(logger: Logger, level: string): void {
  // The SDK logs every workflow bundle build at INFO; only debugging wants that.
  const temporalLevel = (['trace', 'debug', 'error'].includes(level) ? level.toUpperCase() : 'WARN') as LogLevel;
  const child = logger.child({ component: 'temporal' });
  try {
    Runtime.install({
      logger: new DefaultLogger(temporalLevel, ({ level: entryLevel, message, meta }) => {
        child[PINO_LEVELS[entryLevel]](meta ?? {}, message);
      }),
    });
  } catch {
    // Already installed by an earlier worker in this process.
  }
}
