import path from 'node:path';
import type { Config } from '../config';
import { ensureDatabase, initOrm, migrateUp } from '../db/orm';
import { startEmbeddedPostgres } from '../embedded/postgres';
import { ensureTemporalCli } from '../embedded/temporal-cli';
import { startTemporalDevServer } from '../embedded/temporal-dev-server';
import type { Logger } from '../logger';

export interface Infrastructure {
  readonly databaseUrl: string;
  /** Empty when Temporal was not needed (migrations only) and TEMPORAL_ADDRESS is unset. */
  readonly temporalAddress: string;
  /** Set when the Temporal dev server (and its Web UI) was started here. */
  readonly temporalUiUrl?: string;
  readonly embedded: { postgres: boolean; temporal: boolean };
  /** Stops what was started here, Temporal first, PostgreSQL last. */
  stop(): Promise<void>;
}

/**
 * The embedded default (SPEC §2): PostgreSQL when DATABASE_URL is unset and the Temporal dev
 * server when TEMPORAL_ADDRESS is unset, both keeping their data under DATA_DIR. With both set,
 * nothing is started.
 */
export async function provideInfrastructure(
  config: Config,
  logger: Logger,
  needs: { temporal: boolean } = { temporal: true },
): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.splice(0).reverse()) {
      await fn().catch((error: unknown) => logger.error({ err: error }, 'failed to stop a service'));
    }
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const pgLog = logger.child({ component: 'postgres' });
      const postgres = await startEmbeddedPostgres({
        dataDir: path.join(config.embedded.dataDir, 'postgres'),
        port: config.embedded.postgresPort,
        log: (line) => pgLog.debug(line),
      });
      stops.push(() => postgres.stop());
      databaseUrl = postgres.databaseUrl;
      logger.info({ port: postgres.port }, 'embedded PostgreSQL started');
    }

    let temporalAddress = config.temporalAddress ?? '';
    let temporalUiUrl: string | undefined;
    if (!temporalAddress && needs.temporal) {
      const temporalLog = logger.child({ component: 'temporal-dev-server' });
      const cli = await ensureTemporalCli({ log: (line) => temporalLog.info(line) });
      const devServer = await startTemporalDevServer({
        cliPath: cli.path,
        dbFilename: path.join(config.embedded.dataDir, 'temporal.db'),
        port: config.embedded.temporalPort,
        uiPort: config.embedded.temporalUiPort,
        namespace: config.temporalNamespace,
        log: (line) => temporalLog.debug(line),
      });
      stops.push(() => devServer.stop());
      temporalAddress = devServer.address;
      temporalUiUrl = devServer.uiUrl;
      logger.info({ address: temporalAddress, route: cli.route }, 'embedded Temporal dev server started');
    }

    return {
      databaseUrl,
      temporalAddress,
      temporalUiUrl,
      embedded: { postgres: !config.databaseUrl, temporal: !!temporalUiUrl },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Creates the database if needed and applies pending migrations. */
export async function prepareDatabase(databaseUrl: string, logger: Logger): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const orm = await initOrm({ databaseUrl, poolMax: 2 });
  try {
    return await migrateUp(orm, logger);
  } finally {
    await orm.close();
  }
}
