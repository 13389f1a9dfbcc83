import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { TEMPORAL_HISTORY_SHARDS } from '../../src/embedded/temporal-server';
import { ROOT, acceptsConnections } from '../helpers/process';
import { waitFor } from '../helpers/product';

const run = promisify(execFile);

/** A process of the topology, started in its own process group so a signal reaches all of it. */
export interface TopologyProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
  /** SIGTERM (or SIGKILL) to the whole group, as a container stop (or kill) does. */
  signal(signal: NodeJS.Signals): void;
  running(): boolean;
}

export function spawnInGroup(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): TopologyProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  // A group of its own does not die with the test process: a watchdog kills it when that goes
  // (Jest killed by CI's timeout, a crash), so no server or app outlives the run.
  spawn(
    '/bin/sh',
    [
      '-c',
      `while kill -0 ${process.pid} 2>/dev/null && kill -s 0 -- -${child.pid} 2>/dev/null; do sleep 2; done; kill -s KILL -- -${child.pid} 2>/dev/null`,
    ],
    { detached: true, stdio: 'ignore' },
  ).unref();
  return {
    name,
    child,
    exited,
    output: () => out,
    signal(signal) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    },
    running: () => child.exitCode === null && child.signalCode === null,
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopProcess(proc: TopologyProcess, graceMs = 60_000): Promise<void> {
  if (!proc.running()) return;
  proc.signal('SIGTERM');
  const timer = setTimeout(() => proc.signal('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/**
 * A stand-in for `nc -z -w <s> <host> <port>`, which deploy/temporal/setup-postgres.sh uses to
 * wait for PostgreSQL (the admin-tools image has netcat; this machine may not).
 */
export async function writeNcShim(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'nc');
  await fs.writeFile(
    file,
    [
      '#!/bin/sh',
      '# nc -z [-w secs] host port: exit 0 when host:port accepts a TCP connection.',
      'host=; port=',
      'for arg; do host="$port"; port="$arg"; done',
      `exec "${process.execPath}" -e 'const s=require("net").connect(+process.argv[2],process.argv[1]);s.setTimeout(5000,()=>process.exit(1));s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1))' "$host" "$port"`,
      '',
    ].join('\n'),
  );
  await fs.chmod(file, 0o755);
}

/** Runs one of deploy/temporal/*.sh as the compose files' one-shot jobs do (`/bin/sh <script>`). */
export async function runDeployScript(
  script: string,
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; seconds: number }> {
  const started = performance.now();
  try {
    const { stdout, stderr } = await run('/bin/sh', [path.join(ROOT, 'deploy/temporal', script)], {
      env,
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { output: stdout + stderr, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, {
      cause: error,
    });
  }
}

export interface TemporalServerProcess extends TopologyProcess {
  readonly address: string;
  /** The frontend's HTTP API (`/api/v1/...`): the routes the Web UI's pages ask. */
  readonly httpUrl: string;
}

/**
 * The real Temporal server, all services in one process, configured as the `temporalio/server`
 * image configures it: the configuration template built into the binary, filled from the same
 * environment variables the compose files set (DB, POSTGRES_*, NUM_HISTORY_SHARDS,
 * DYNAMIC_CONFIG_FILE_PATH), plus free ports for each service.
 */
export async function startTemporalServer(options: {
  binary: string;
  postgresPort: number;
  dynamicConfigFile: string;
  env?: NodeJS.ProcessEnv;
}): Promise<TemporalServerProcess> {
  const port = async () => String(await freePortBelow32768());
  const frontend = await port();
  const http = await port();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DB: 'postgres12',
    DB_PORT: String(options.postgresPort),
    POSTGRES_SEEDS: '127.0.0.1',
    POSTGRES_USER: 'postgres',
    POSTGRES_PWD: 'postgres',
    BIND_ON_IP: '127.0.0.1',
    NUM_HISTORY_SHARDS: String(TEMPORAL_HISTORY_SHARDS),
    // Absolute: the server resolves a relative path against its working directory.
    DYNAMIC_CONFIG_FILE_PATH: path.resolve(options.dynamicConfigFile),
    LOG_LEVEL: 'warn',
    FRONTEND_GRPC_PORT: frontend,
    FRONTEND_HTTP_PORT: http,
    FRONTEND_MEMBERSHIP_PORT: await port(),
    INTERNAL_FRONTEND_HTTP_PORT: await port(),
    MATCHING_GRPC_PORT: await port(),
    MATCHING_MEMBERSHIP_PORT: await port(),
    HISTORY_GRPC_PORT: await port(),
    HISTORY_MEMBERSHIP_PORT: await port(),
    WORKER_GRPC_PORT: await port(),
    WORKER_MEMBERSHIP_PORT: await port(),
    ...options.env,
  };
  const proc = spawnInGroup('temporal-server', options.binary, ['--allow-no-auth', 'start'], {
    env,
  });
  await waitFor(
    'the Temporal frontend to accept connections',
    async () => {
      if (!proc.running()) throw new Error(`temporal-server exited:\n${proc.output()}`);
      return (await acceptsConnections(Number(frontend))) ? true : undefined;
    },
    120_000,
    200,
  ).catch((error: unknown) => {
    proc.signal('SIGKILL');
    throw new Error(`${(error as Error).message}\n${proc.output().slice(-4000)}`, {
      cause: error,
    });
  });
  return Object.assign(proc, {
    address: `127.0.0.1:${frontend}`,
    httpUrl: `http://127.0.0.1:${http}`,
  });
}

/**
 * A free TCP port under 32768: the server stores membership ports in a PostgreSQL smallint
 * (cluster_membership.rpc_port), and the kernel's ephemeral ports (getFreePort) start above it.
 */
async function freePortBelow32768(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ port: candidate, host: '127.0.0.1', exclusive: true }, () =>
        server.close(() => resolve(true)),
      );
    });
    if (free) return candidate;
  }
  throw new Error('no free port between 20000 and 32000');
}

export interface AppProcess extends TopologyProcess {
  readonly role: 'api' | 'worker';
  /** The API's base URL, or the worker's /health and /metrics endpoint. */
  readonly url: string;
}

/**
 * One process of the product as a deployment runs it: `npm run start:prod` (the compiled
 * `node dist/src/main/start.js`, as the image's CMD) in its ROLE, resolving once it printed its
 * banner and its /health says ok.
 */
export async function startApp(options: {
  name: string;
  role: 'api' | 'worker';
  port: number;
  env: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}): Promise<AppProcess> {
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    ROLE: options.role,
    ...(options.role === 'api'
      ? { PORT: String(options.port) }
      : { METRICS_PORT: String(options.port) }),
  };
  const proc = spawnInGroup(options.name, 'npm', ['run', '--silent', 'start:prod'], { env });
  const url = `http://127.0.0.1:${options.port}`;
  try {
    await waitFor(
      `${options.name} to print its banner and report healthy`,
      async () => {
        if (!proc.running()) throw new Error(`exited ${proc.child.exitCode}`);
        if (!proc.output().includes('Press Ctrl-C to stop.')) return undefined;
        const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3_000) });
        return health.status === 200 ? true : undefined;
      },
      options.readyTimeoutMs ?? 90_000,
      200,
    );
  } catch (error) {
    proc.signal('SIGKILL');
    throw new Error(`${(error as Error).message}\n${proc.output().slice(-4000)}`, {
      cause: error,
    });
  }
  return Object.assign(proc, { role: options.role, url });
}

/** The pino JSON lines a process wrote whose `msg` is `message`. */
export function logLines(proc: TopologyProcess, message: string): Record<string, unknown>[] {
  return proc
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((entry) => entry.msg === message);
}
