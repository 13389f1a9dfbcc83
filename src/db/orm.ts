import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../logger';
import { createOrmConfig } from './mikro-orm.config';

export type Orm = MikroORM;

export async function initOrm(options: {
  databaseUrl: string;
  poolMax?: number;
  /** false: do not connect now (the first query connects); used by health tests. */
  connect?: boolean;
}): Promise<Orm> {
  return MikroORM.init({ ...createOrmConfig(options), connect: options.connect ?? true });
}

/** Advisory-lock key: API replicas starting together run the migrations one at a time. */
const MIGRATION_LOCK_KEY = 724_311_905;

/** Applies pending migrations (under a transaction-scoped advisory lock); returns their names. */
export async function migrateUp(orm: Orm, logger?: Logger): Promise<string[]> {
  const migrator = orm.getMigrator();
  const applied = await orm.em.fork().transactional(async (em) => {
    await em.execute(`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    return migrator.up({ transaction: em.getTransactionContext() });
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) logger?.info({ migrations: names }, 'applied database migrations');
  return names;
}

/** Creates the database named in the URL when it does not exist yet (first embedded start). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const orm = await initOrm({ databaseUrl, connect: false, poolMax: 1 });
  try {
    await orm.getSchemaGenerator().ensureDatabase();
  } finally {
    await orm.close(true);
  }
}
