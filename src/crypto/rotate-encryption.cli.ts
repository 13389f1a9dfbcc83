import { ConfigError, loadConfig } from '../config';
import { initOrm } from '../db/orm';
import { provideInfrastructure } from '../embedded/infrastructure';
import { createLogger } from '../logger';
import { withEncryptionKeys } from './encryption-keys';
import { SecretKeyError } from './secrets';
import { rotateEncryption, secretBoxOf } from './stored-secrets';

/**
 * `npm run rotate-encryption`: re-seals every stored webhook URL under the first key of
 * ENCRYPTION_KEYS, while the service runs. First give every API and worker the new key first in
 * ENCRYPTION_KEYS with the old ones after it; run this; then the old keys may go.
 */
async function run(): Promise<void> {
  const config = await withEncryptionKeys(loadConfig(process.env));
  const logger = createLogger({
    level: config.logLevel === 'info' ? 'warn' : config.logLevel,
    format: config.logFormat,
    nodeEnv: config.nodeEnv,
  });
  const infra = await provideInfrastructure(config, logger, { temporal: false });
  const orm = await initOrm({ databaseUrl: infra.databaseUrl, poolMax: 2 });
  try {
    const box = secretBoxOf(config);
    const startedAt = Date.now();
    const summary = await rotateEncryption(orm, box);
    console.log(
      `Re-encrypted ${summary.rows} task(s) under key ${box.currentKeyId} in ${summary.batches} batch(es), ${Date.now() - startedAt} ms.`,
    );
  } finally {
    await orm.close();
    await infra.stop();
  }
}

run().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError || error instanceof SecretKeyError ? error.message : error,
  );
  process.exit(1);
});
