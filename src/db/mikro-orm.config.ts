import path from 'node:path';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { migrationsList } from '../../migrations';
import { Task, TaskLog } from './entities';

/**
 * Folder holding the migration sources. Resolved from this file so that it is `migrations/`
 * under tsx/ts-jest and `dist/migrations/` once compiled; the migrations themselves are loaded
 * from the explicit `migrationsList`, which works the same in TypeScript and in compiled JS.
 */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');

export function createOrmConfig(options: {
  databaseUrl: string;
  debug?: boolean;
  poolMax?: number;
}): Options {
  return defineConfig({
    clientUrl: options.databaseUrl,
    entities: [Task, TaskLog],
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    debug: options.debug ?? false,
    pool: { min: 0, max: options.poolMax ?? 10 },
    // Entities are serialized by our own mappers; nothing needs implicit transactions per flush.
    forceUtcTimezone: true,
    migrations: {
      tableName: 'mikro_orm_migrations',
      path: MIGRATIONS_DIR,
      pathTs: MIGRATIONS_DIR,
      emit: 'ts',
      snapshot: true,
      snapshotName: '.snapshot',
      transactional: true,
      allOrNothing: true,
      silent: true,
      migrationsList,
    },
  });
}
