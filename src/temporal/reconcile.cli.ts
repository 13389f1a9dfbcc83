import { ConfigError, loadConfig } from '../config';
import { initOrm } from '../db/orm';
import { createLogger } from '../logger';
import { prepareDatabase, provideInfrastructure } from '../main/infrastructure';
import { createServices } from '../services';
import { createTemporalClient } from './client';
import { reconcileSchedules } from './reconcile';

/**
 * `npm run reconcile`: makes every task's Temporal Schedule match its row and deletes orphan
 * `task-*` schedules, then prints what it changed. Uses DATABASE_URL / TEMPORAL_ADDRESS, or the
 * embedded default's data when they are unset (with `npm start` stopped: it owns those ports).
 */
async function run(): Promise<number> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
  const infra = await provideInfrastructure(config, logger);
  try {
    await prepareDatabase(infra.databaseUrl, logger);
    const orm = await initOrm({ databaseUrl: infra.databaseUrl, poolMax: 4 });
    const temporal = createTemporalClient({ address: infra.temporalAddress, namespace: config.temporalNamespace });
    try {
      const { schedules } = createServices({ config, orm, temporal, logger });
      const summary = await reconcileSchedules({
        orm,
        client: temporal.client,
        schedules,
        settings: { taskQueue: config.temporalTaskQueue, catchupWindowMs: config.scheduleCatchupWindowMs },
        logger,
      });
      console.log(
        `Reconciled ${summary.tasks} task(s) in ${(summary.durationMs / 1000).toFixed(1)} s: ` +
          `${summary.created} created, ${summary.updated} updated, ${summary.deleted} orphan(s) deleted, ` +
          `${summary.unchanged} unchanged, ${summary.failed} failed.`,
      );
      for (const failure of summary.failures) console.log(`  failed ${failure.scheduleId}: ${failure.error}`);
      return summary.failed > 0 ? 2 : 0;
    } finally {
      await orm.close();
      await temporal.close();
    }
  } finally {
    await infra.stop();
  }
}

run().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
