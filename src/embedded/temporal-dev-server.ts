import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http2 from 'node:http2';
import path from 'node:path';
import readline from 'node:readline';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { settlesWithin } from '../async';
import { closedChannelGuard } from '../temporal/client';
import { devServerSearchAttributeFlags } from '../temporal/search-attributes';
import { loadDynamicConfig } from './dynamic-config';
import { getFreePort } from './ports';
import type { ExitStatus, ServiceProcess } from './supervisor';

export interface TemporalDevServerOptions {
  /** The `temporal` binary, e.g. from ensureTemporalCli(). */
  cliPath: string;
  /** SQLite file that keeps the state across restarts; omit for an in-memory server. */
  dbFilename?: string;
  /** Frontend gRPC port; a free one when omitted. */
  port?: number;
  /** Web UI port; a free one when omitted; false for no UI (`--headless`). */
  uiPort?: number | false;
  /** Namespace to register besides `default` (which always exists). Default `default`. */
  namespace?: string;
  /** Address every listener binds to. Default 127.0.0.1. */
  host?: string;
  /** Receives the server's output, line by line. */
  log?: (line: string) => void;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /**
   * SQLite pragmas for the state store file (`--sqlite-pragma NAME=VALUE`). Default
   * DEFAULT_SQLITE_PRAGMAS; `{}` for SQLite's own defaults. Not used without dbFilename.
   */
  sqlitePragmas?: Record<string, string>;
  /**
   * Dynamic config (`--dynamic-config-value KEY=JSON`), e.g. `{ 'frontend.rps': 10000 }`. Default:
   * the project's deploy/temporal/dynamicconfig.yaml (loadDynamicConfig); `{}` for the server's own.
   */
  dynamicConfig?: Record<string, unknown>;
  /** Aborting it while the server starts stops it, and the start rejects. */
  signal?: AbortSignal;
  /**
   * Register the task search attributes (SPEC §15) when the server creates its state. Default
   * true; false makes a server as the versions before them did (tests of the upgrade).
   */
  searchAttributes?: boolean;
}

export interface TemporalDevServer extends ServiceProcess {
  /** host:port of the frontend, for Connection.connect / NativeConnection.connect. */
  readonly address: string;
  readonly uiUrl?: string;
  readonly pid: number;
  /** Settles once the process has exited (stopped, crashed or killed). */
  readonly exited: Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL without waiting: for a process that must exit now. */
  kill(): void;
}

/**
 * Write-ahead log, synced at checkpoints rather than on every commit: the dev server then runs
 * about 2.5 times as many workflows and schedule writes per second on this 2-core machine (see
 * bench/temporal-baseline.ts) than with SQLite's rollback journal. A crash of the server process
 * loses nothing; a power loss or kernel crash can lose the last moments of Temporal state, which
 * `npm run reconcile` repairs for schedules (see docs/decisions.md, "Embedded Temporal's state file").
 */
export const DEFAULT_SQLITE_PRAGMAS: Readonly<Record<string, string>> = {
  journal_mode: 'wal',
  synchronous: 'normal',
};

const STOP_GRACE_MS = 10_000;
const MAX_PORT_ATTEMPTS = 3;
const STDERR_TAIL_LINES = 20;
/** Error lines kept besides the tail: a Go panic's trace alone would push them out of it. */
const STDERR_ERROR_LINES = 5;
const ERROR_LINE = /^(panic:|Error:|fatal error:)|level=(ERROR|FATAL)|address already in use/;
/** Go's wording when a listener cannot bind, for any of the server's listeners. */
const PORT_IN_USE = /:(\d+): bind: address already in use/;

class PortInUseError extends Error {
  constructor(
    message: string,
    readonly port: number,
  ) {
    super(message);
    this.name = 'PortInUseError';
  }
}

/**
 * Runs `temporal server start-dev` as a child process with every port it listens on pinned
 * (frontend gRPC, frontend HTTP, metrics, UI), so that several dev servers, and one on the
 * default 7233/8233, run side by side, with the task search attributes registered. Resolves once
 * the frontend answers and the namespace is registered. The child stays in this process group, so
 * a terminal's Ctrl-C reaches it too; stopping it on other exits is the caller's job (stop()).
 */
export async function startTemporalDevServer(
  opts: TemporalDevServerOptions,
): Promise<TemporalDevServer> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.dbFilename)
    await fs.mkdir(path.dirname(path.resolve(opts.dbFilename)), { recursive: true });

  for (let attempt = 1; ; attempt++) {
    const picked = new Set<number>();
    const pick = async (): Promise<number> => {
      for (;;) {
        const port = await getFreePort(host);
        if (!picked.has(port) && port !== opts.port && port !== opts.uiPort) {
          picked.add(port);
          return port;
        }
      }
    };
    const ports = {
      frontend: opts.port ?? (await pick()),
      ui: opts.uiPort === false ? undefined : (opts.uiPort ?? (await pick())),
      http: await pick(),
      metrics: await pick(),
    };
    opts.signal?.throwIfAborted();
    try {
      return await startOnce(opts, host, ports);
    } catch (error) {
      if (opts.signal?.aborted) {
        throw new Error('temporal dev server start interrupted: a stop was requested', {
          cause: error,
        });
      }
      // A port was taken between its pick and its bind: one we picked, or one of the internal
      // ports the server picks for itself while it starts. Start again on other ports; a port
      // the caller asked for is theirs to free.
      if (
        error instanceof PortInUseError &&
        error.port !== opts.port &&
        error.port !== opts.uiPort &&
        attempt < MAX_PORT_ATTEMPTS
      ) {
        opts.log?.(`port ${error.port} was taken meanwhile; starting again on other ports`);
        continue;
      }
      throw error;
    }
  }
}

interface Ports {
  frontend: number;
  ui: number | undefined;
  http: number;
  metrics: number;
}

interface ExitState {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

async function startOnce(
  opts: TemporalDevServerOptions,
  host: string,
  ports: Ports,
): Promise<TemporalDevServer> {
  const log = opts.log ?? (() => undefined);
  const namespace = opts.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(ports.frontend),
    '--http-port',
    String(ports.http),
    '--metrics-port',
    String(ports.metrics),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    // The task search attributes (SPEC §15), on every namespace. start-dev registers them only
    // when it creates its state: a state file from before them gets them from the API's start
    // (ensureTaskSearchAttributes).
    ...(opts.searchAttributes === false ? [] : devServerSearchAttributeFlags()),
    ...(ports.ui === undefined ? ['--headless'] : ['--ui-port', String(ports.ui)]),
    ...(opts.dbFilename
      ? [
          '--db-filename',
          path.resolve(opts.dbFilename),
          ...Object.entries(opts.sqlitePragmas ?? DEFAULT_SQLITE_PRAGMAS).flatMap(
            ([name, value]) => ['--sqlite-pragma', `${name}=${value}`],
          ),
        ]
      : []),
    ...Object.entries(opts.dynamicConfig ?? loadDynamicConfig()).flatMap(([key, value]) => [
      '--dynamic-config-value',
      `${key}=${JSON.stringify(value)}`,
    ]),
  ];

  // Not detached: same process group as ours, so a terminal's Ctrl-C stops it as well.
  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  const stderrTail: string[] = [];
  const errorLines: string[] = [];
  let portInUse: number | undefined;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.trim()) log(line);
  });
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    if (!line.trim()) return;
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    if (ERROR_LINE.test(line) && errorLines.length < STDERR_ERROR_LINES) errorLines.push(line);
    portInUse ??= Number(PORT_IN_USE.exec(line)?.[1]) || undefined;
    log(line);
  });

  let exit: ExitState | undefined;
  const ended = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      exit ??= { code: null, signal: null, error };
      resolve();
    });
    // 'close' comes after 'exit' once stdout/stderr are drained, so the tail is complete.
    child.once('close', (code, signal) => {
      exit ??= { code, signal };
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (exit) return;
      child.kill('SIGTERM');
      if (!(await settlesWithin(ended, STOP_GRACE_MS)) && !exit) {
        log(
          `temporal dev server (pid ${child.pid}) did not stop within ${STOP_GRACE_MS} ms; killing it`,
        );
        child.kill('SIGKILL');
        await ended;
      }
    })());

  const connectHost = hostToConnect(host);
  const address = `${formatHost(connectHost)}:${ports.frontend}`;
  // The error lines first, then the rest of the tail.
  const stderrText = (): string =>
    [...errorLines, ...stderrTail.filter((line) => !errorLines.includes(line))].join('\n');
  const failure = (message: string): Error =>
    portInUse ? new PortInUseError(message, portInUse) : new Error(message);
  const exitedEarly = (): Error => {
    const state = exit ?? { code: null, signal: null };
    const how = state.error
      ? `could not be started (${state.error.message})`
      : `exited with ${state.signal ? `signal ${state.signal}` : `code ${state.code}`} before it was ready`;
    const tail = stderrText();
    return failure(`temporal server start-dev ${how}${tail ? `:\n${tail}` : ''}`);
  };

  const abort = () => void stop();
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    opts.signal?.throwIfAborted();
    await waitUntilReady({
      connectHost,
      port: ports.frontend,
      address,
      namespace,
      deadline: Date.now() + (opts.readyTimeoutMs ?? 60_000),
      ended,
      hasExited: () => exit !== undefined,
      exitedEarly,
      notReady: (lastError) => {
        const tail = stderrText();
        return failure(
          `temporal dev server at ${address} was not ready in time (last error: ${lastError})${tail ? `:\n${tail}` : ''}`,
        );
      },
    });
    opts.signal?.throwIfAborted();
  } catch (error) {
    await stop();
    throw error;
  } finally {
    opts.signal?.removeEventListener('abort', abort);
  }

  return {
    address,
    uiUrl: ports.ui === undefined ? undefined : `http://${formatHost(connectHost)}:${ports.ui}`,
    pid: child.pid ?? -1,
    exited: ended.then(() => ({ code: exit?.code ?? null, signal: exit?.signal ?? null })),
    stop,
    kill() {
      if (!exit) child.kill('SIGKILL');
    },
  };
}

async function waitUntilReady(w: {
  connectHost: string;
  port: number;
  address: string;
  namespace: string;
  deadline: number;
  ended: Promise<void>;
  hasExited: () => boolean;
  exitedEarly: () => Error;
  notReady: (lastError: string) => Error;
}): Promise<void> {
  const remaining = () => w.deadline - Date.now();
  let lastError = `nothing answered HTTP/2 on port ${w.port}`;

  // The gRPC checks below only make sense once the frontend listens (and is ours, see speaksHttp2).
  const exitedFirst = w.ended.then(() => false);
  while (!(await Promise.race([speaksHttp2(w.connectHost, w.port, 1_000), exitedFirst]))) {
    if (w.hasExited()) throw w.exitedEarly();
    if (remaining() <= 0) throw w.notReady(lastError);
    await settlesWithin(w.ended, 100);
  }

  for (;;) {
    if (w.hasExited()) throw w.exitedEarly();
    if (remaining() <= 0) throw w.notReady(lastError);
    // A fresh connection per attempt: a channel that failed once backs off for seconds.
    const guard = closedChannelGuard();
    const connection = Connection.lazy({
      address: w.address,
      connectTimeout: Math.min(2_000, remaining()),
      interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), guard.interceptor],
    });
    try {
      const check = (async () => {
        await connection.ensureConnected();
        await connection.withDeadline(Date.now() + 2_000, () =>
          connection.workflowService.getSystemInfo({}),
        );
        // start-dev registers the namespaces shortly after the frontend opens.
        await connection.withDeadline(Date.now() + 2_000, () =>
          connection.workflowService.describeNamespace({ namespace: w.namespace }),
        );
      })();
      check.catch(() => undefined);
      await Promise.race([check, w.ended]);
      if (w.hasExited()) throw w.exitedEarly();
      return;
    } catch (error) {
      if (w.hasExited()) throw w.exitedEarly();
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      // The check may still be retrying when the server exited under it.
      guard.close();
      await connection.close().catch(() => undefined);
    }
    await settlesWithin(w.ended, 200);
  }
}

/**
 * True once an HTTP/2 server answers on host:port with its SETTINGS frame. This keeps the gRPC
 * client away from whatever else may hold the port: grpc-js does not drop a connection that is
 * stuck in its handshake when the client is closed, and it would keep this process alive.
 */
function speaksHttp2(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${formatHost(host)}:${port}`);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    session.once('remoteSettings', () => done(true));
    session.once('error', () => done(false));
    session.once('close', () => done(false));
  });
}

/** A wildcard bind address is reached through loopback. */
function hostToConnect(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[(.*)\]$/, '$1');
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
