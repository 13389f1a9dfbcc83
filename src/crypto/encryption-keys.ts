import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config';
import { parseEncryptionKey } from './secrets';

/**
 * ENCRYPTION_KEYS wins (SPEC §15). Outside production, with none set, a random key is generated
 * once and kept in `<DATA_DIR>/encryption-key` (mode 0600), like the development API key, so
 * that restarts still open what was sealed. Never printed or logged.
 */
export async function resolveEncryptionKeys(
  config: Pick<Config, 'encryptionKeys' | 'nodeEnv' | 'embedded'>,
): Promise<readonly Buffer[]> {
  if (config.encryptionKeys.length > 0) return config.encryptionKeys;
  if (config.nodeEnv === 'production') throw new Error('ENCRYPTION_KEYS is required in production');
  const file = path.join(config.embedded.dataDir, 'encryption-key');
  const kept = await fs.readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (kept) return [parseEncryptionKey(kept)];
  const key = randomBytes(32);
  await fs.mkdir(config.embedded.dataDir, { recursive: true });
  await fs
    .writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
    .catch(async (error: NodeJS.ErrnoException) => {
      // Another process of the same DATA_DIR wrote it first: use that one.
      if (error.code !== 'EEXIST') throw error;
    });
  return [parseEncryptionKey(await fs.readFile(file, 'utf8'))];
}

/** The configuration with its encryption keys resolved (see resolveEncryptionKeys). */
export async function withEncryptionKeys<
  T extends Pick<Config, 'encryptionKeys' | 'nodeEnv' | 'embedded'>,
>(config: T): Promise<T> {
  return { ...config, encryptionKeys: await resolveEncryptionKeys(config) };
}
