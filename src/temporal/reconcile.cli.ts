import { ConfigError, loadConfig } from '../config';
import { secretBoxOf } from '../crypto/stored-secrets';
import { withEncryptionKeys } from '../crypto/encryption-keys';
import { initOrm, prepareDatabase } from '../db/orm';
import { provideInfrastructure } from '../embedded/infrastructure';
import { createLogger } from '../logger';
import { createServices } from '../services';
import { createTemporalClient } from './client';
import { ORPHAN_GRACE_MS, reconcileSchedules } from './reconcile';
import { scheduleSettings } from './schedules';
import { registerTaskSearchAttributes } from './search-attributes';

const USAGE = `Usage: npm run reconcile [-- --deep]

Makes every task's Temporal Schedule match its database row and deletes task-* schedules whose
task is gone, then prints what it changed. Exit code 2 when some schedule could not be repaired.

By default a schedule whose entry in Temporal's schedule list shows the expected configuration
fingerprint (the end of its note), paused state, workflow type and spec is taken as unchanged
without reading it in full; every other schedule is described and compared field by field.

  --deep   describe every schedule: also catches edits the list cannot show, e.g. a workflow
           argument changed with the Temporal CLI while the note was left alone (slower: one
           DescribeSchedule per task)
  --help   show this text

Uses DATABASE_URL / TEMPORAL_ADDRESS, or the embedded default's data when they are unset (stop
npm start first: it owns those ports).`;

/**
 * `npm run reconcile`: makes every task's Temporal Schedule match its row and deletes orphan
 * `task-*` schedules, then prints what it changed. Uses DATABASE_URL / TEMPORAL_ADDRESS, or the
 * embedded default's data when they are unset (with `npm start` stopped: it owns those ports).
 */
async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const unknown = args.filter((arg) => arg !== '--deep');
  if (unknown.length > 0) {
    console.error(`Unknown argument(s): ${unknown.join(' ')}\n\n${USAGE}`);
    return 1;
  }
  const deep = args.includes('--deep');
  const config = await withEncryptionKeys(loadConfig(process.env));
  const logger = createLogger({
    level: config.logLevel === 'info' ? 'warn' : config.logLevel,
    format: config.logFormat,
    nodeEnv: config.nodeEnv,
  });
  const infra = await provideInfrastructure(config, logger);
  try {
    await prepareDatabase(infra.databaseUrl, logger, secretBoxOf(config));
    const orm = await initOrm({ databaseUrl: infra.databaseUrl, poolMax: 4 });
    const temporal = createTemporalClient({
      address: infra.temporalAddress,
      namespace: config.temporalNamespace,
    });
    try {
      const { schedules } = createServices({ config, orm, temporal, logger });
      // Every schedule it writes carries the task search attributes (SPEC §15).
      const attributesReady = await registerTaskSearchAttributes({
        connection: temporal.connection,
        namespace: config.temporalNamespace,
        logger,
      });
      if (!attributesReady) return 2;
      const summary = await reconcileSchedules({
        orm,
        client: temporal.client,
        schedules,
        settings: scheduleSettings(config),
        logger,
        deep,
      });
      console.log(
        `Reconciled ${summary.tasks} task(s) in ${(summary.durationMs / 1000).toFixed(1)} s ` +
          `(listing Temporal's schedules ${(summary.listMs / 1000).toFixed(1)} s): ` +
          `${summary.created} created, ${summary.updated} updated, ${summary.deleted} orphan(s) deleted ` +
          `(${summary.youngOrphans} younger than ${ORPHAN_GRACE_MS / 60_000} min kept), ` +
          `${summary.unchanged} unchanged, ${summary.fingerprinted} fingerprinted, ` +
          `${summary.failed} failed (${deep ? 'deep: ' : ''}${summary.described} described).`,
      );
      for (const failure of summary.failures)
        console.log(`  failed ${failure.scheduleId}: ${failure.error}`);
      return summary.failed > 0 ? 2 : 0;
    } finally {
      await orm.close();
      await temporal.close();
    }
  } finally {
    await infra.stop();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
