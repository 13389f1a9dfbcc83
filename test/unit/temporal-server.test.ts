import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ensureTemporalServer,
  TEMPORAL_SERVER_VERSION,
  temporalServerCacheDir,
} from '../../src/embedded/temporal-server';

describe('Temporal server provisioning (npm run setup:temporal-server)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'temporal-server-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  // An empty cache and a PATH without `go`.
  const env = () => ({ XDG_CACHE_HOME: path.join(dir, 'cache'), PATH: path.join(dir, 'empty') });

  it('when nothing is cached and there is no Go toolchain, then one error says what to install and what to run', async () => {
    const error = await ensureTemporalServer({ env: env() }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`Temporal server ${TEMPORAL_SERVER_VERSION}`);
    expect((error as Error).message).toContain('`go` is not on PATH');
    expect((error as Error).message).toContain('npm run setup:temporal-server');
  });

  it('when a complete copy is cached outside the clone, then it is used without Go', async () => {
    const cache = temporalServerCacheDir(env());
    expect(cache).toBe(
      path.join(dir, 'cache', 'discord-task-scheduler', 'temporal-server', TEMPORAL_SERVER_VERSION),
    );
    await fs.mkdir(path.join(cache, 'bin'), { recursive: true });
    for (const name of ['temporal-server', 'temporal-sql-tool']) {
      await fs.writeFile(path.join(cache, 'bin', name), '#!/bin/sh\n', { mode: 0o755 });
    }
    // Without the marker a copy counts as interrupted.
    await expect(ensureTemporalServer({ env: env() })).rejects.toThrow('`go` is not on PATH');
    await fs.writeFile(path.join(cache, '.complete'), `${TEMPORAL_SERVER_VERSION}\n`);
    await expect(ensureTemporalServer({ env: env() })).resolves.toMatchObject({
      route: 'cache',
      server: path.join(cache, 'bin', 'temporal-server'),
      sqlTool: path.join(cache, 'bin', 'temporal-sql-tool'),
      postgresSchemaRoot: path.join(cache, 'schema', 'postgresql', 'v12'),
    });
  });
});
