import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config';

export interface ResolvedApiKeys {
  keys: readonly string[];
  /** The development key kept under DATA_DIR, which start-up prints; never a key from the environment. */
  developmentKey?: string;
}

/**
 * API_KEY wins. Outside production, with no API_KEY, a random key is generated once and kept in
 * `<DATA_DIR>/api-key` (mode 0600) so that restarts and clients keep working.
 */
export async function resolveApiKeys(
  config: Pick<Config, 'apiKeys' | 'nodeEnv' | 'embedded'>,
): Promise<ResolvedApiKeys> {
  if (config.apiKeys.length > 0) return { keys: config.apiKeys };
  if (config.nodeEnv === 'production') throw new Error('API_KEY is required in production');
  const file = path.join(config.embedded.dataDir, 'api-key');
  let key = await fs.readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (!key) {
    key = `dts_dev_${randomBytes(24).toString('base64url')}`;
    await fs.mkdir(config.embedded.dataDir, { recursive: true });
    await fs.writeFile(file, `${key}\n`, { mode: 0o600 });
  }
  return { keys: [key], developmentKey: key };
}
