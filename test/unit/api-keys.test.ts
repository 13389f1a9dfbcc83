import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { resolveApiKeys } from '../../src/main/api-keys';

describe('resolveApiKeys', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-keys-'));
  });
  afterEach(() => fs.rm(dataDir, { recursive: true, force: true }));

  it('when API_KEY is set, then its keys are used and no development key is made or shown', async () => {
    const config = loadConfig({
      API_KEY: 'first-key-0123456789,second-key-0123456789',
      DATA_DIR: dataDir,
    });
    await expect(resolveApiKeys(config)).resolves.toEqual({
      keys: ['first-key-0123456789', 'second-key-0123456789'],
    });
    await expect(fs.readdir(dataDir)).resolves.toEqual([]);
  });

  it('when API_KEY is unset in development, then a key is generated once, kept private, and reused', async () => {
    const config = loadConfig({ DATA_DIR: dataDir });
    const first = await resolveApiKeys(config);
    expect(first.developmentKey).toMatch(/^dts_dev_[\w-]{32}$/);
    expect(first.keys).toEqual([first.developmentKey]);
    const stat = await fs.stat(path.join(dataDir, 'api-key'));
    expect(stat.mode & 0o077).toBe(0);
    const second = await resolveApiKeys(loadConfig({ DATA_DIR: dataDir }));
    expect(second.developmentKey).toBe(first.developmentKey);
  });

  it('when in production without a key, then it refuses', async () => {
    const config = { ...loadConfig({ DATA_DIR: dataDir }), nodeEnv: 'production' as const };
    await expect(resolveApiKeys(config)).rejects.toThrow(/API_KEY is required/);
  });
});
