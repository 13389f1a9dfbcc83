import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { prepareDatabase } from '../../src/db/orm';
import { startEmbeddedPostgres } from '../../src/embedded/postgres';
import { getFreePort } from '../../src/embedded/ports';
import { ensureTemporalCli } from '../../src/embedded/temporal-cli';
import { startTemporalDevServer } from '../../src/embedded/temporal-dev-server';
import { createLogger } from '../../src/logger';
import { ensureTaskSearchAttributes } from '../../src/temporal/search-attributes';
import { TEST_ENCRYPTION_KEY } from '../helpers/app';

/**
 * Starts a throwaway PostgreSQL and an in-memory Temporal dev server on free ports (or reuses
 * DATABASE_URL / TEMPORAL_ADDRESS when given), migrates, and exports their addresses through
 * process.env to the test files. TEMPORAL_CLI_PATH is exported too, for tests that start their
 * own dev server.
 */
export default async function globalSetup(): Promise<void> {
  const stops: (() => Promise<void>)[] = [];
  const logger = createLogger({ level: 'warn', name: 'test-setup' });
  const started = Date.now();
  try {
    const cli = await ensureTemporalCli({
      log: (line) => process.stderr.write(`[temporal-cli] ${line}\n`),
    });
    process.env.TEMPORAL_CLI_PATH = cli.path;

    // allSettled: when one fails, the other has finished starting (and registered its stop)
    // before the catch below stops everything.
    const [database, temporal] = await Promise.allSettled([
      process.env.DATABASE_URL ||
        (async () => {
          const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-test-pg-'));
          await fs.chmod(dir, 0o755);
          const postgres = await startEmbeddedPostgres({
            dataDir: path.join(dir, 'data'),
            port: await getFreePort(),
            database: 'scheduler_test',
          });
          stops.push(async () => {
            await postgres.stop();
            await fs.rm(dir, { recursive: true, force: true });
          });
          return postgres.databaseUrl;
        })(),
      process.env.TEMPORAL_ADDRESS ||
        (async () => {
          const devServer = await startTemporalDevServer({ cliPath: cli.path, uiPort: false });
          stops.push(() => devServer.stop());
          return devServer.address;
        })(),
    ]);
    if (database.status === 'rejected') throw database.reason;
    if (temporal.status === 'rejected') throw temporal.reason;
    const [databaseUrl, temporalAddress] = [database.value, temporal.value];
    // The task search attributes (SPEC §15), as an API start adds them: the dev server started
    // here has them from its flags already; a TEMPORAL_ADDRESS given may not.
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      await ensureTaskSearchAttributes({ connection, namespace: 'default' });
    } finally {
      await connection.close();
    }
    await prepareDatabase(databaseUrl, logger);
    process.env.DATABASE_URL = databaseUrl;
    process.env.TEMPORAL_ADDRESS = temporalAddress;
    // Every process of the run (tests, `npm start` children) seals and opens with the same key.
    process.env.ENCRYPTION_KEYS ??= TEST_ENCRYPTION_KEY;
    process.stderr.write(
      `\n[test-setup] PostgreSQL and Temporal ready in ${Date.now() - started} ms\n`,
    );
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
  globalThis.__TEST_SERVICES__ = {
    async stop() {
      for (const stop of stops.reverse()) await stop();
    },
  };
}
