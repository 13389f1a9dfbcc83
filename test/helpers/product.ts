import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getFreePort } from '../../src/embedded/ports';
import { startFromSources, type StartedProcess } from './process';

/**
 * The product as a user runs it (`npm start`: tsx src/main/start.ts, embedded PostgreSQL and
 * Temporal dev server under its own DATA_DIR, on free ports), for the fault suite. `start()` can
 * be called again after a kill: same data, same ports, as a user restarting it.
 */
export interface Product {
  readonly url: string;
  readonly apiKey: string;
  readonly dataDir: string;
  readonly ports: { api: number; postgres: number; temporal: number; ui: number };
  readonly env: NodeJS.ProcessEnv;
  /** The running process, or undefined before start() and after it exited. */
  readonly process: StartedProcess | undefined;
  start(readyTimeoutMs?: number): Promise<StartedProcess>;
  /** PID of the embedded postmaster (from its postmaster.pid). */
  postgresPid(): Promise<number>;
  /** PID of the embedded `temporal server start-dev`. */
  temporalPid(): number;
  /** Everything the current process wrote so far. */
  output(): string;
  /** SIGINT (Ctrl-C) and wait; then removes DATA_DIR. Safe to call twice. */
  dispose(): Promise<void>;
}

export const FAULT_API_KEY = 'fault-suite-key-0123456789abcdef';

export async function createProduct(options: { env?: NodeJS.ProcessEnv } = {}): Promise<Product> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-faults-'));
  const ports = {
    api: await getFreePort(),
    postgres: await getFreePort(),
    temporal: await getFreePort(),
    ui: await getFreePort(),
  };
  const env: NodeJS.ProcessEnv = withoutUndefined({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH,
    NODE_ENV: 'development',
    API_KEY: FAULT_API_KEY,
    PORT: String(ports.api),
    DATA_DIR: dataDir,
    EMBEDDED_POSTGRES_PORT: String(ports.postgres),
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    LOG_LEVEL: 'info',
    ...options.env,
  });
  let current: StartedProcess | undefined;

  return {
    url: `http://127.0.0.1:${ports.api}`,
    apiKey: FAULT_API_KEY,
    dataDir,
    ports,
    env,
    get process() {
      return current && current.child.exitCode === null && current.child.signalCode === null
        ? current
        : undefined;
    },
    async start(readyTimeoutMs = 150_000) {
      current = await startFromSources(env, readyTimeoutMs);
      return current;
    },
    async postgresPid() {
      const text = await fs.readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
      return Number(text.split('\n')[0]);
    },
    temporalPid() {
      if (!current?.child.pid) throw new Error('the product is not running');
      const pid = descendantsOf(current.child.pid).find(({ args }) =>
        /\bserver start-dev\b/.test(args),
      )?.pid;
      if (!pid) throw new Error('no temporal dev server among the product’s processes');
      return pid;
    },
    output() {
      return current?.output() ?? '';
    },
    async dispose() {
      const running = current;
      current = undefined;
      if (running && running.child.exitCode === null && running.child.signalCode === null) {
        running.child.kill('SIGINT');
        const timer = setTimeout(() => running.child.kill('SIGKILL'), 30_000);
        await running.exited;
        clearTimeout(timer);
      }
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

function withoutUndefined(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
}

/** Every process below `pid`, with its command line. */
export function descendantsOf(pid: number): { pid: number; args: string }[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => {
      const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
      return match ? { pid: Number(match[1]), ppid: Number(match[2]), args: match[3] } : undefined;
    })
    .filter((row): row is { pid: number; ppid: number; args: string } => row !== undefined);
  const result: { pid: number; args: string }[] = [];
  const walk = (parent: number) => {
    for (const row of table) {
      if (row.ppid === parent) {
        result.push({ pid: row.pid, args: row.args });
        walk(row.pid);
      }
    }
  };
  walk(pid);
  return result;
}

/** Sends SIGKILL to the process and every descendant (a `kill -9` of the whole app). */
export function killTree(pid: number): void {
  for (const { pid: child } of descendantsOf(pid)) {
    try {
      process.kill(child, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * One call to the product's API with its key, as a client would make it: JSON in and out, a
 * 10 s timeout; the body parsed when there is one.
 */
export async function callApi<T>(
  target: { url: string; apiKey: string },
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${target.url}${route}`, {
    method,
    headers: {
      'X-API-Key': target.apiKey,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}
