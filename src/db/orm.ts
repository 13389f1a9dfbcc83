import { ConnectionException } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import type { SecretBox } from '../crypto/secrets';
import type { Logger } from '../logger';
import { setMigrationSecrets } from './migration-context';
import { createOrmConfig, DEFAULT_POOL_MAX } from './mikro-orm.config';

export type Orm = MikroORM;

export async function initOrm(options: {
  databaseUrl: string;
  poolMax?: number;
  /** How long a query may wait for a pooled connection (default in mikro-orm.config.ts). */
  acquireTimeoutMs?: number;
  /** false: do not connect now (the first query connects); used by health tests. */
  connect?: boolean;
  /** Receives the driver's warnings (a connection that broke) as JSON log lines. */
  logger?: Logger;
  /** migration:create only: diff against (and rewrite) the snapshot; see createOrmConfig. */
  snapshot?: boolean;
  /** Migrations folder for migration:create (default migrations/). */
  migrationsDir?: string;
}): Promise<Orm> {
  return MikroORM.init({ ...createOrmConfig(options), connect: options.connect ?? true });
}

/** How many connections the ORM's pool opens at most. */
export function poolSize(orm: Orm): number {
  return orm.config.get('pool')?.max ?? DEFAULT_POOL_MAX;
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

/**
 * Creates the database if needed and applies pending migrations; `secrets` are for the data
 * migration that seals webhook URLs (SPEC §15), needed when it finds rows to seal.
 */
export async function prepareDatabase(
  databaseUrl: string,
  logger: Logger,
  secrets?: SecretBox,
): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const orm = await initOrm({ databaseUrl, poolMax: 2, logger });
  setMigrationSecrets(secrets);
  try {
    return await migrateUp(orm, logger);
  } finally {
    setMigrationSecrets(undefined);
    await orm.close();
  }
}

/** Socket errors, and SQLSTATEs of class 08 (connection exception), 53300 and 57P0x. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '53300', // too_many_connections
  '57P01', // admin_shutdown: "terminating connection due to administrator command"
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: "the database system is starting up / shutting down"
]);

/** What pg, knex and the pool say when there is no usable connection (they set no code). */
const CONNECTION_ERROR_MESSAGES =
  /Timeout acquiring a connection|Unable to acquire a connection|Connection terminated|Connection ended unexpectedly|is not queryable|timeout expired|Query read timeout|the database system is (?:starting up|shutting down|in recovery mode|not (?:yet )?accepting connections)|terminating connection due to administrator command/i;

/**
 * True when `error` says the database could not be reached or dropped the connection (as opposed
 * to rejecting a statement): the server refused, reset or never answered the connection, the pool
 * timed out waiting for one, or PostgreSQL is shutting down or starting up. Looks through the
 * wrappers MikroORM puts around driver errors (`cause`, copied `code`) and AggregateErrors.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  if (error instanceof ConnectionException) return true;
  const e = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && CONNECTION_ERROR_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && CONNECTION_ERROR_MESSAGES.test(e.message)) return true;
  if (
    Array.isArray(e.errors) &&
    e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))
  ) {
    return true;
  }
  return isDatabaseUnavailable(e.cause, depth + 1);
}
