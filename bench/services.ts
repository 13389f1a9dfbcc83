/**
 * What every benchmark (`npm run bench`, `--only scale`, `--only fleet`) starts before its
 * scenarios: PostgreSQL and a Temporal dev server in a temporary folder (or those of
 * DATABASE_URL / TEMPORAL_ADDRESS, whose figures it then cannot read), the mock Discord, and the
 * environment its API and worker processes run with, as production configures them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { Config } from '../src/config';
import { type Orm, prepareDatabase } from '../src/db/orm';
import { loadDynamicConfig } from '../src/embedded/dynamic-config';
import { startEmbeddedPostgres } from '../src/embedded/postgres';
import { getFreePort } from '../src/embedded/ports';
import { ensureTemporalCli } from '../src/embedded/temporal-cli';
import { startTemporalDevServer } from '../src/embedded/temporal-dev-server';
import { createLogger, type Logger } from '../src/logger';
import { SCHEDULE_ID_PREFIX } from '../src/temporal/contracts';
import { type ReconcileSummary, reconcileSchedules } from '../src/temporal/reconcile';
import { type ScheduleGateway, scheduleSettings } from '../src/temporal/schedules';
import { startBenchDiscord } from './mock-discord';
import { type RealTemporal, startRealTemporal } from './real-temporal';

const ROOT = path.resolve(__dirname, '..');

export interface BenchServices {
  /** The run's temporary folder (removed at cleanup). */
  tmp: string;
  databaseUrl: string;
  temporalAddress: string;
  /** The embedded PostgreSQL's postmaster; undefined with DATABASE_URL. */
  postgresPid?: number;
  /** The dev server's (or real server's) process; undefined with TEMPORAL_ADDRESS. */
  temporalPid?: number;
  /** The real server's own PostgreSQL (its postmaster); undefined otherwise. */
  temporalPostgresPid?: number;
  /** The real server's databases (`temporal`, `temporal_visibility`) on disk, bytes. */
  temporalDatabasesBytes?: () => Promise<number>;
  discord: Awaited<ReturnType<typeof startBenchDiscord>>;
}

export async function startBenchServices(options: {
  /** The temporary folder's prefix, e.g. `dts-fleet-`. */
  prefix: string;
  /** Where each started thing registers its stop, run in reverse by the caller. */
  cleanups: (() => Promise<unknown>)[];
  /** The dev server's state file inside the temporary folder (default `temporal.db`). */
  temporalDbFile?: string;
  /** Dev server knobs over the shipped deploy/temporal/dynamicconfig.yaml. */
  dynamicConfig?: Record<string, unknown>;
  /** SQLite pragmas of the dev server instead of ours (`--sqlite-defaults` passes none). */
  sqlitePragmas?: Record<string, string>;
  /**
   * `real`: the topology's Temporal server (bench/real-temporal.ts) on a PostgreSQL of its own,
   * instead of the dev server.
   */
  temporal?: 'dev' | 'real';
}): Promise<BenchServices> {
  const { cleanups } = options;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), options.prefix));
  await fs.chmod(tmp, 0o755);
  cleanups.push(() => fs.rm(tmp, { recursive: true, force: true }));
  let databaseUrl = process.env.DATABASE_URL;
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  let postgresPid: number | undefined;
  let temporalPid: number | undefined;
  let real: RealTemporal | undefined;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(tmp, 'postgres'),
      port: await getFreePort(),
    });
    cleanups.push(() => pg.stop());
    databaseUrl = pg.databaseUrl;
    postgresPid = pg.pid;
  }
  if (!temporalAddress && options.temporal === 'real') {
    real = await startRealTemporal({ dir: path.join(tmp, 'temporal-real'), cleanups });
    temporalAddress = real.address;
    temporalPid = real.pid;
  } else if (!temporalAddress) {
    const cli = await ensureTemporalCli();
    const dbFilename = path.join(tmp, options.temporalDbFile ?? 'temporal.db');
    await fs.mkdir(path.dirname(dbFilename), { recursive: true });
    const dev = await startTemporalDevServer({
      cliPath: cli.path,
      uiPort: false,
      dbFilename,
      dynamicConfig: { ...loadDynamicConfig(), ...options.dynamicConfig },
      ...(options.sqlitePragmas ? { sqlitePragmas: options.sqlitePragmas } : {}),
    });
    cleanups.push(() => dev.stop());
    temporalAddress = dev.address;
    temporalPid = dev.pid;
  }
  await prepareDatabase(databaseUrl, createLogger({ level: 'error', name: 'bench' }));
  const discord = await startBenchDiscord();
  cleanups.push(() => discord.close());
  return {
    tmp,
    databaseUrl,
    temporalAddress,
    postgresPid,
    temporalPid,
    ...(real
      ? { temporalPostgresPid: real.postgresPid, temporalDatabasesBytes: real.databasesBytes }
      : {}),
    discord,
  };
}

/**
 * The environment of the bench's API and worker: production mode, a fresh API key and encryption
 * key, free ports (the worker's /metrics too: 9464 may be held), the mock Discord allowed, and the
 * per-key rate limit as in production but too high to answer 429 (RATE_LIMIT_PER_MINUTE=0 in the
 * bench's own environment measures without it). Worker sizing, the delivery mode, the pool size
 * and the V8 settings pass through, to compare settings the same way (e.g.
 * DELIVERY_FIRST_ATTEMPT=activity npm run bench -- --only deliveries, or
 * V8_HEAP_GROWING_PERCENT=0 npm run bench -- --only reads).
 */
export async function benchEnv(
  services: Pick<BenchServices, 'databaseUrl' | 'temporalAddress' | 'discord'>,
  options: { taskQueuePrefix: string; extra?: NodeJS.ProcessEnv },
): Promise<NodeJS.ProcessEnv> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    DATABASE_URL: services.databaseUrl,
    TEMPORAL_ADDRESS: services.temporalAddress,
    TEMPORAL_TASK_QUEUE: `${options.taskQueuePrefix}${randomBytes(4).toString('hex')}`,
    API_KEY: `bench-${randomBytes(16).toString('hex')}`,
    ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    PORT: String(await getFreePort()),
    METRICS_PORT: String(await getFreePort()),
    WEBHOOK_ALLOWED_ORIGINS: services.discord.url,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: process.env.RATE_LIMIT_PER_MINUTE ?? '1000000000',
    ...Object.fromEntries(
      Object.entries(process.env).filter(([key]) =>
        /^(WORKER_|DELIVERY_|MALLOC_|V8_|DATABASE_POOL_MAX$)/.test(key),
      ),
    ),
    ...options.extra,
  };
}

/**
 * `npm run build` unless the run is `--from-sources`: the bench's API and worker run the build,
 * as production does.
 */
export function buildUnlessFromSources(fromSources: boolean, log: (line: string) => void): void {
  if (fromSources) return;
  log('npm run build (the API and worker run the build, as in production)');
  const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`npm run build failed (exit ${built.status})`);
}

/**
 * Reconciles every task once Temporal's schedule list (its visibility store) shows each task's
 * schedule: the list catches up with creates a while after the last one returned, and
 * reconciliation judges from it. (The server goes on initialising new schedules after that;
 * reconcile runs beside that work.) `listedMs` counts from `since`.
 */
/** Until Temporal's schedule list shows a schedule for every task row (or capMs since `since`). */
export async function waitUntilListed(options: {
  orm: Orm;
  client: Client;
  since: number;
  capMs: number;
}): Promise<{ listed: number; tasks: number; listedMs: number }> {
  const [row] = await options.orm.em
    .getConnection()
    .execute<{ n: number }[]>('select count(*)::int as n from tasks');
  const tasks = row?.n ?? 0;
  let listed = 0;
  while (Date.now() - options.since < options.capMs) {
    listed = 0;
    for await (const schedule of options.client.schedule.list({ pageSize: 1000 }))
      if (schedule.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) listed += 1;
    if (listed >= tasks) break;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  return { listed, tasks, listedMs: Date.now() - options.since };
}

/** Reconciliation of every task, as `npm run reconcile` runs it (32 at a time). */
export function reconcileAll(options: {
  orm: Orm;
  client: Client;
  schedules: ScheduleGateway;
  config: Config;
  logger: Logger;
}): Promise<ReconcileSummary> {
  return reconcileSchedules({
    orm: options.orm,
    client: options.client,
    schedules: options.schedules,
    settings: scheduleSettings(options.config),
    logger: options.logger,
    concurrency: 32,
  });
}

/** Reconciliation once Temporal's schedule list shows every task's schedule. */
export async function reconcileOnceListed(options: {
  orm: Orm;
  client: Client;
  schedules: ScheduleGateway;
  config: Config;
  logger: Logger;
  since: number;
  capMs: number;
}): Promise<{ listed: number; tasks: number; listedMs: number; summary: ReconcileSummary }> {
  const listed = await waitUntilListed(options);
  return { ...listed, summary: await reconcileAll(options) };
}

/** Until the worker polls its task queue (it bundles workflows/ at start, unless built). */
export async function waitForWorkerPolling(
  connection: Connection,
  taskQueue: string,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    if ((pollers?.length ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the worker did not start polling');
}

/** The worker's V8 flags as the compose files set them (NODE_OPTIONS; docs/benchmarks.md "Memory"). */
export const WORKER_NODE_OPTIONS = '--max-semi-space-size=2';

/** The node arguments of `npm run start:prod`, so that a bench runs what production runs. */
export function startProdArgs(): string[] {
  const script = (
    JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts['start:prod'];
  const [command, ...args] = script?.split(/\s+/) ?? [];
  if (command !== 'node') throw new Error(`start:prod is not a plain node command: ${script}`);
  return args;
}

/**
 * The API or a worker as production runs it (`start:prod`, the worker with the compose files'
 * NODE_OPTIONS), or from the sources under tsx; stopped by SIGTERM at cleanup (SIGKILL after
 * 15 s). Its output goes to `logFile`, or only its standard error to the bench's.
 */
export function launchRole(
  role: 'api' | 'worker',
  env: NodeJS.ProcessEnv,
  options: {
    fromSources: boolean;
    cleanups: (() => Promise<unknown>)[];
    logFile?: string;
    /** Node or V8 flags before the script (a profiler, a flag to compare). */
    nodeArgs?: string[];
  },
): ChildProcess {
  const out = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      ...(options.fromSources ? ['--import', 'tsx', 'src/main/start.ts'] : startProdArgs()),
    ],
    {
      cwd: ROOT,
      env: {
        ...env,
        ROLE: role,
        ...(role === 'worker' ? { NODE_OPTIONS: WORKER_NODE_OPTIONS } : {}),
      },
      stdio: out === undefined ? ['ignore', 'ignore', 'inherit'] : ['ignore', out, out],
    },
  );
  if (out !== undefined) closeSync(out);
  options.cleanups.push(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([
      exited,
      new Promise((r) => setTimeout(r, 15_000)).then(() => child.kill('SIGKILL')),
    ]);
  });
  return child;
}

/**
 * The API and a worker as launchRole starts them, each writing to a log in `tmp` whose last lines
 * `failureHints` prints when the bench fails.
 */
export function launchApiAndWorker(
  env: NodeJS.ProcessEnv,
  options: {
    fromSources: boolean;
    tmp: string;
    cleanups: (() => Promise<unknown>)[];
    failureHints: (() => Promise<void>)[];
    log: (line: string) => void;
  },
): { api: ChildProcess; worker: ChildProcess } {
  const { fromSources, cleanups } = options;
  const logs = {
    api: path.join(options.tmp, 'api.log'),
    worker: path.join(options.tmp, 'worker.log'),
  };
  options.failureHints.push(async () => {
    for (const [role, file] of Object.entries(logs)) {
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      options.log(`last lines of the ${role}'s output:\n${text.split('\n').slice(-30).join('\n')}`);
    }
  });
  return {
    api: launchRole('api', env, { fromSources, logFile: logs.api, cleanups }),
    worker: launchRole('worker', env, { fromSources, logFile: logs.worker, cleanups }),
  };
}
