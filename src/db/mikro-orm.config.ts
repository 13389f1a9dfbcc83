import path from 'node:path';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Knex, type Options } from '@mikro-orm/postgresql';
import { migrationsList } from '../../migrations';
import { DEFAULT_POOL_MAX } from '../config';
import type { Logger } from '../logger';
import { createConnectionRetirement } from './dead-connections';
import { Task, TaskLog } from './entities';

/**
 * Folder holding the migration sources. Resolved from this file so that it is `migrations/`
 * under tsx/ts-jest and `dist/migrations/` once compiled; the migrations themselves are loaded
 * from the explicit `migrationsList`, which works the same in TypeScript and in compiled JS.
 */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');

/** Tables kept by the task_logs triggers (migrations/Migration20261201171627.ts). */
export const COUNTER_TABLES = ['log_counts_hourly', 'log_counts_total'] as const;
/** Tables outside the entities that only raw SQL uses (idempotency keys, SPEC §14). */
export const RAW_SQL_TABLES = ['idempotency_keys'] as const;

export { DEFAULT_POOL_MAX };

/** How long opening a database connection may take before it counts as failed. */
export const DATABASE_CONNECT_TIMEOUT_MS = 1_000;

export function createOrmConfig(options: {
  databaseUrl: string;
  debug?: boolean;
  poolMax?: number;
  acquireTimeoutMs?: number;
  /** Where knex's own warnings go ("Connection Error: ..."); plain text on stdout without it. */
  logger?: Logger;
  /**
   * true for migration:create only: diff the entities against `migrations/.snapshot.json` and
   * rewrite it with each new migration. Off everywhere else, because MikroORM 6 rewrites the
   * snapshot after every migration it applies, from database introspection: another shape and
   * order than migration:create writes, so a migrate (a test run, a fresh DATA_DIR) would dirty
   * the file, and in production it would write into dist/migrations.
   */
  snapshot?: boolean;
  /** Where migration:create writes migrations and reads the snapshot (tests use a copy). */
  migrationsDir?: string;
}): Options {
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  return defineConfig({
    clientUrl: options.databaseUrl,
    entities: [Task, TaskLog],
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    debug: options.debug ?? false,
    // A database that is down fails fast (SPEC §5) instead of after knex's 60 s: a new connection
    // gets a second to open (locally it takes milliseconds), a query waits for a pooled one at
    // most acquireTimeoutMillis. A connection that broke (server killed, restarted, "terminating
    // connection due to administrator command") is never handed out again, nor are the ones
    // opened before it (dead-connections.ts), so the pool recovers by itself when the database
    // is back.
    pool: poolConfig(options),
    driverOptions: {
      ...(options.logger ? { log: knexLog(options.logger) } : {}),
      connection: {
        connectionTimeoutMillis: DATABASE_CONNECT_TIMEOUT_MS,
        // A server that vanished without closing the socket is found out by TCP keepalive.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      },
    },
    // Entities are serialized by our own mappers; nothing needs implicit transactions per flush.
    forceUtcTimezone: true,
    // Attempt counters written by triggers and read by raw SQL only (no entities): without this,
    // a diff against the database (migration:create without a snapshot) would drop them.
    schemaGenerator: { skipTables: [...COUNTER_TABLES, ...RAW_SQL_TABLES] },
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: migrationsDir,
      pathTs: migrationsDir,
      emit: 'ts',
      snapshot: options.snapshot ?? false,
      snapshotName: '.snapshot',
      transactional: true,
      allOrNothing: true,
      silent: true,
      migrationsList,
    },
  });
}

/**
 * The pool's settings; `validate` is knex's (3.2) and not in MikroORM's PoolConfig type, which
 * MikroORM passes to knex whole.
 */
function poolConfig(options: { poolMax?: number; acquireTimeoutMs?: number }): Options['pool'] {
  const retirement = createConnectionRetirement();
  const pool: Knex.PoolConfig = {
    min: 0,
    max: options.poolMax ?? DEFAULT_POOL_MAX,
    acquireTimeoutMillis: options.acquireTimeoutMs ?? 5_000,
    // A failed connect fails the waiting query at once rather than at acquireTimeoutMillis.
    propagateCreateError: true,
    afterCreate: retirement.afterCreate,
    validate: retirement.validate,
  };
  return pool;
}

/** knex's log hooks into pino, so that a dropped connection is one JSON line, not console text. */
function knexLog(logger: Logger) {
  return {
    warn: (message: unknown) => logger.warn({ knex: String(message) }, 'database driver warning'),
    error: (message: unknown) => logger.error({ knex: String(message) }, 'database driver error'),
    deprecate: (method: unknown, alternative: unknown) =>
      logger.debug({ method, alternative }, 'knex deprecation'),
    debug: (message: unknown) => logger.debug({ knex: message }, 'knex debug'),
  };
}
