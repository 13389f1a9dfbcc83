import { ConfigError, loadConfig } from '../config';
import { secretBoxOf } from '../crypto/stored-secrets';
import { withEncryptionKeys } from '../crypto/encryption-keys';
import { provideInfrastructure } from '../embedded/infrastructure';
import { createLogger } from '../logger';
import { prepareDatabase } from './orm';

/**
 * `npm run migrate` (or `node dist/src/db/migrate.cli.js`): applies pending migrations to
 * DATABASE_URL, or to the embedded PostgreSQL when it is unset.
 */
async function run(): Promise<void> {
  const config = await withEncryptionKeys(loadConfig(process.env));
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    nodeEnv: config.nodeEnv,
  });
  const infra = await provideInfrastructure(config, logger, { temporal: false });
  try {
    const applied = await prepareDatabase(infra.databaseUrl, logger, secretBoxOf(config));
    console.log(
      applied.length > 0
        ? `Applied ${applied.length} migration(s): ${applied.join(', ')}`
        : 'Database schema is up to date.',
    );
  } finally {
    await infra.stop();
  }
}

run().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
