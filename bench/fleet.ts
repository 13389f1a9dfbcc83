/**
 * `npm run bench -- --only fleet [--fleet-sizes 10000,30000,100000] [--fleet-burst 1000]`: what a
 * fleet of tasks costs while it waits (issue 25). The fleet grows in place: tasks are created
 * through the API (POST /api/tasks, 32 in flight) up to the first size, measured, created up to
 * the next size, measured, and so on. Every task is a daily cron at a scattered time at least
 * five hours ahead, so nothing of the fleet is due while it is measured. At each size:
 * - `create_per_s`: the creates of that step;
 * - `settle_s`: from the last create until the dev server is quiet (under 10 % of a core over
 *   30 s, watched once Temporal's schedule list shows every task; capped by `--fleet-settle-cap`,
 *   seconds, 900 by default: then `settled` is false);
 * - `reconcile_s`: reconciliation of every task on the quiet server, as `npm run reconcile` does
 *   it after a restart (`reconcile_list_s` of it listing Temporal's schedules);
 * - idle CPU over `--fleet-idle` seconds (60) with nothing due, as % of one core: the API and
 *   worker together (`idle_app_cpu_pct`) and each, the dev server, PostgreSQL (the postmaster and
 *   every backend);
 * - peak RSS (VmHWM) of the API, the worker and the dev server; PostgreSQL's as the peak of its
 *   processes' summed PSS (shared buffers counted once), sampled every 5 s;
 * - `GET /api/tasks?limit=20` and a name search matching 10 tasks at 32 connections;
 * - the dev server's SQLite files (with the WAL) and its RSS when idle, in all and their growth
 *   since start per task (the deleted burst schedules' histories stay in the state meanwhile);
 *   the tasks table with its indexes;
 * - `due_burst`: `--fleet-burst` (1,000) more tasks due on one minute, their lateness at the mock
 *   Discord, then deleted; then as many bare schedules due together on the same server
 *   (bench/baseline.ts), and the ratio of the p99s.
 *
 * Starts its own PostgreSQL and Temporal dev server (or uses DATABASE_URL / TEMPORAL_ADDRESS: then
 * the figures of what it did not start are n/a; with `--fleet-temporal real`, the topology's
 * Temporal server on a PostgreSQL of its own, bench/real-temporal.ts: its CPU then counts that
 * PostgreSQL's, its state is that PostgreSQL's tables and indexes), the API and a worker from the build (under tsx
 * with --from-sources), and a mock Discord. Prints a table; writes the entries under the key
 * `fleet` of bench/results/latest.json (replacing those of an earlier run on the same kind of
 * Temporal server, keeping the rest of the file), the growth of each cost from the smallest to
 * the largest size under `fleet_growth`, and the curves as bench/results/fleet.svg.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { forEachLimited } from '../src/concurrency';
import { loadConfig } from '../src/config';
import { initOrm, type Orm } from '../src/db/orm';
import { createLogger } from '../src/logger';
import { createServices } from '../src/services';
import { createTemporalClient } from '../src/temporal/client';
import { dynamicConfigFlags, startBareTemporal } from './baseline';
import { type ChartPanel, costChart } from './chart';
import {
  benchEnv,
  buildUnlessFromSources,
  launchApiAndWorker,
  launchRole,
  reconcileAll,
  startBenchServices,
  waitForWorkerPolling,
  waitUntilListed,
} from './services';
import { percentile, round, sleep } from './figures';
import { cpuMs, folderBytes, peakRssMiB } from './proc';

const ROOT = path.resolve(__dirname, '..');
const MINUTE_MS = 60_000;
/** Creates in flight, as a client loading a fleet would run them. */
const CREATE_CONCURRENCY = 32;
/** The name fragment searched for: `fleet 000770` to `fleet 000779`, at every size. */
const SEARCH = 'fleet 00077';
const SEARCH_MATCHES = 10;
/** The fleet's tasks fall due this many hours ahead at the soonest, so none fires during a run. */
const QUIET_HOURS = 5;

const log = (line: string) => process.stdout.write(`[bench:fleet] ${line}\n`);
const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

type Temporal = 'dev server' | 'real server' | 'external';

interface BurstFigures {
  n: number;
  received: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  baseline_received: number;
  baseline_p99_ms: number;
  ratio: number;
  /** The last create returned after the minute had started (the tasks were due while created). */
  note?: string;
}

interface ReadFigures {
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  failed_requests: number;
  api_cpu_ms_per_req: number;
  db_cpu_ms_per_req: number | 'n/a';
}

export interface FleetEntry {
  tasks: number;
  temporal: Temporal;
  date: string;
  machine: string;
  create_per_s: number;
  create_retries: number;
  listed_after_s: number;
  reconcile_s: number;
  /** Of reconcile_s, listing Temporal's schedules. */
  reconcile_list_s: number;
  reconcile_changed: number;
  reconcile_failed: number;
  settle_s: number | 'n/a';
  settled: boolean | 'n/a';
  idle_s: number;
  idle_app_cpu_pct: number;
  idle_api_cpu_pct: number;
  idle_worker_cpu_pct: number;
  idle_temporal_cpu_pct: number | 'n/a';
  idle_postgres_cpu_pct: number | 'n/a';
  peak_rss_mib: {
    api: number;
    worker: number;
    temporal: number | 'n/a';
    /** The real server's PostgreSQL (its processes' summed PSS). */
    temporal_postgres?: number;
    postgres: number | 'n/a';
  };
  /** The dev server's RSS after the idle minute, and its growth since start per task. */
  temporal_rss_mib: number | 'n/a';
  temporal_rss_kib_per_task: number | 'n/a';
  list_p99_ms: number;
  list_req_per_s: number;
  list: ReadFigures;
  search_p99_ms: number;
  search_req_per_s: number;
  search: ReadFigures & { query: string; matches: number };
  temporal_state_mib: number | 'n/a';
  /** Its growth since the services started, per task. */
  temporal_state_kib_per_task: number | 'n/a';
  tasks_table_mib: number;
  due_burst: BurstFigures;
  startup?: StartupFigures;
}

/** The API started again on the fleet: what its start-up reconciliation costs the rest. */
interface StartupFigures {
  /** From the new process's spawn to its first 200 on /health. */
  health_after_s: number;
  /** The start-up pass, as the API logged it ('schedules reconciled'). */
  reconcile_s: number;
  reconcile_tasks: number;
  /** /health asked one after the other (every 100 ms) while the pass ran. */
  health_during: { n: number; p50_ms: number; p99_ms: number; max_ms: number; failed: number };
  /**
   * Tasks due on one minute that began during the pass, their lateness at the mock Discord,
   * against as many due on the minute before (no restart).
   */
  due: {
    n: number;
    /** The due minute's start, seconds after the pass began. */
    due_after_reconcile_start_s: number;
    /** Whether it fell within the pass (a small fleet's pass is over by then). */
    within_pass: boolean;
    received: number;
    p99_ms: number;
    baseline_received: number;
    baseline_p99_ms: number;
    ratio: number;
  };
}

interface FleetOptions {
  sizes: number[];
  burst: number;
  idleSeconds: number;
  readSeconds: number;
  settleCapSeconds: number;
  quick: boolean;
  fromSources: boolean;
  dynamicConfig: Record<string, unknown>;
  /** `--fleet-temporal real`: the topology's Temporal server on its own PostgreSQL. */
  temporal: 'dev' | 'real';
}

/** `--name value` from the command line, as numbers (a list for --fleet-sizes). */
function numbers(argv: string[], name: string, fallback: number[]): number[] {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const values = (argv[i + 1] ?? '').split(',').map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v <= 0))
    throw new Error(`${name} takes positive integers separated by commas, not "${argv[i + 1]}"`);
  return values;
}

export function fleetOptions(
  argv: string[],
  base: { quick: boolean; fromSources: boolean },
): FleetOptions {
  const sizes = numbers(
    argv,
    '--fleet-sizes',
    base.quick ? [1_000, 3_000] : [10_000, 30_000, 100_000],
  );
  if (sizes.some((size, i) => i > 0 && size <= sizes[i - 1]!))
    throw new Error('--fleet-sizes must grow: the fleet grows in place from one size to the next');
  return {
    ...base,
    sizes,
    burst: numbers(argv, '--fleet-burst', [base.quick ? 100 : 1_000])[0]!,
    idleSeconds: numbers(argv, '--fleet-idle', [base.quick ? 20 : 60])[0]!,
    readSeconds: base.quick ? 3 : 10,
    settleCapSeconds: numbers(argv, '--fleet-settle-cap', [900])[0]!,
    dynamicConfig: dynamicConfigFlags(argv),
    temporal: temporalFlag(argv),
  };
}

function temporalFlag(argv: string[]): 'dev' | 'real' {
  const i = argv.indexOf('--fleet-temporal');
  if (i < 0) return 'dev';
  const value = argv[i + 1];
  if (value !== 'dev' && value !== 'real')
    throw new Error(`--fleet-temporal takes dev or real, not "${value}"`);
  return value;
}

export async function runFleetBench(options: FleetOptions): Promise<void> {
  const started = Date.now();
  const cleanups: (() => Promise<unknown>)[] = [];
  const failureHints: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse())
      await fn().catch((e: unknown) => log(`cleanup: ${String(e)}`));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${round(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`;

  try {
    // --- services ------------------------------------------------------------------------------
    const benchServices = await startBenchServices({
      prefix: 'dts-fleet-',
      cleanups,
      // In a folder of its own, so that its size is the state's.
      temporalDbFile: path.join('temporal', 'temporal.db'),
      dynamicConfig: options.dynamicConfig,
      temporal: options.temporal,
    });
    const { tmp, databaseUrl, temporalAddress, temporalPid, discord } = benchServices;
    const postmaster = benchServices.postgresPid;
    const temporalPostmaster = benchServices.temporalPostgresPid;
    const temporalKind: Temporal =
      temporalPid === undefined
        ? 'external'
        : temporalPostmaster === undefined
          ? 'dev server'
          : 'real server';
    const temporalRssAtStart = temporalPid === undefined ? NaN : rssMiB(temporalPid);
    /**
     * Temporal's state on disk, MiB: the dev server's SQLite files (state, WAL, shared memory), the
     * real server's tables and indexes; NaN for an external one.
     */
    const temporalStateMiB = async () =>
      temporalPid === undefined
        ? NaN
        : (benchServices.temporalDatabasesBytes
            ? await benchServices.temporalDatabasesBytes()
            : await folderBytes(path.join(tmp, 'temporal'))) /
          2 ** 20;
    /** Temporal's CPU so far, ms: the server's, and the real server's PostgreSQL's with it. */
    const temporalCpuMs =
      temporalPid === undefined
        ? undefined
        : () =>
            cpuMs(temporalPid) +
            (temporalPostmaster === undefined ? 0 : postgresCpuMs(temporalPostmaster));
    const postgresPeak = postmaster === undefined ? undefined : trackPostgresMemory(postmaster);
    if (postgresPeak) cleanups.push(async () => postgresPeak.stop());
    const temporalPostgresPeak =
      temporalPostmaster === undefined ? undefined : trackPostgresMemory(temporalPostmaster);
    if (temporalPostgresPeak) cleanups.push(async () => temporalPostgresPeak.stop());
    const logger = createLogger({ level: 'error', name: 'bench' });
    const env = await benchEnv(
      { databaseUrl, temporalAddress, discord },
      { taskQueuePrefix: 'bench-fleet-' },
    );
    const apiKey = env.API_KEY!;
    const port = Number(env.PORT);
    buildUnlessFromSources(options.fromSources, log);
    const launched = launchApiAndWorker(env, {
      fromSources: options.fromSources,
      tmp,
      cleanups,
      failureHints,
      log,
    });
    // The API is started again at each size (the start-up reconciliation phase).
    let api = launched.api;
    const worker = launched.worker;
    const base = `http://127.0.0.1:${port}`;
    /** Stops the API (SIGTERM, as a deploy does) and starts it again with `apiEnv`. */
    const restartApi = async (apiEnv: NodeJS.ProcessEnv, logFile: string) => {
      const old = api;
      if (old.exitCode === null && old.signalCode === null) {
        const exited = new Promise((resolve) => old.once('exit', resolve));
        old.kill('SIGTERM');
        await exited;
      }
      api = launchRole('api', apiEnv, { fromSources: options.fromSources, logFile, cleanups });
    };
    const temporal = createTemporalClient({ address: temporalAddress, namespace: 'default' });
    cleanups.push(() => temporal.close());
    await waitHealthy(base);
    await waitForWorkerPolling(temporal.connection, env.TEMPORAL_TASK_QUEUE!);
    const stateAtStart = await temporalStateMiB();
    // The real server (with its PostgreSQL) is never under 10 % of a core with no task at all (its
    // own timers, 18 % seen), so "quiet" is 10 % above what it uses with no task.
    let quietPct = 10;
    if (temporalKind === 'real server' && temporalCpuMs) {
      const before = temporalCpuMs();
      await sleep(30_000);
      quietPct += ((temporalCpuMs() - before) / 30_000) * 100;
      log(
        `real server with no task: ${round(quietPct - 10, 1)} % of a core; quiet is under ${round(quietPct, 1)} %`,
      );
    }
    const settle = (cpu: () => number, capMs: number) => settleBelow(cpu, capMs, quietPct);
    // The bare schedules' worker polls from the start, so that every size's idle figures have it.
    const bare = await startBareTemporal(temporalAddress);
    cleanups.push(() => bare.close());

    const orm = await initOrm({ databaseUrl, poolMax: 32 });
    cleanups.push(() => orm.close());
    const config = loadConfig(env);
    const services = createServices({ config, orm, temporal, logger });

    const headers = { 'X-API-Key': apiKey, 'Content-Type': 'application/json' };
    let webhookSeq = 2_000_000;
    /** A create, again after a 503 or 429 (when the answer says to) up to five times. */
    let retries = 0;
    const create = async (name: string, schedule: string, content: string): Promise<string> => {
      const body = JSON.stringify({
        name,
        schedule,
        webhookUrl: `${discord.url}/api/webhooks/${webhookSeq++}/${randomBytes(34).toString('hex')}`,
        payload: { content },
        maxRetry: 0,
      });
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${base}/api/tasks`, { method: 'POST', headers, body });
        if (res.status === 201) return ((await res.json()) as { id: string }).id;
        const text = await res.text();
        if ((res.status !== 503 && res.status !== 429) || attempt === 5)
          throw new Error(`POST /api/tasks -> ${res.status}: ${text}`);
        retries += 1;
        await sleep(Number(res.headers.get('retry-after') ?? 1) * 1_000);
      }
    };

    // --- sizes -----------------------------------------------------------------------------------
    const entries: FleetEntry[] = [];
    let created = 0;
    const firstHour = new Date().getUTCHours() + QUIET_HOURS;
    for (const size of options.sizes) {
      log(`--- ${size.toLocaleString('en')} tasks`);
      // Creates: the task i falls due daily at a minute and hour of its own, in the hours the run
      // is not in.
      retries = 0;
      const createStart = Date.now();
      const progress = setInterval(
        () => log(`  created ${created.toLocaleString('en')} of ${size.toLocaleString('en')}`),
        15_000,
      );
      try {
        await forEachLimited(range(created, size), CREATE_CONCURRENCY, async (i) => {
          const hour = (firstHour + (i % (24 - QUIET_HOURS))) % 24;
          const minute = (i * 7 + Math.floor(i / 60)) % 60;
          await create(
            `fleet ${String(i).padStart(6, '0')}`,
            `${minute} ${hour} * * *`,
            'fleet {{task.name}}',
          );
          created += 1;
        });
      } finally {
        clearInterval(progress);
      }
      const createsEnded = Date.now();
      const createPerSecond =
        (size - (entries.at(-1)?.tasks ?? 0)) / ((createsEnded - createStart) / 1000);
      log(`  ${round(createPerSecond)} creates/s (${retries} retried)`);

      // Every task's schedule in Temporal's list, then quiet: the dev server works through the new
      // schedules for minutes after the creates.
      const {
        listed,
        tasks: tasksNow,
        listedMs,
      } = await waitUntilListed({
        orm,
        client: temporal.client,
        since: createsEnded,
        capMs: Math.max(180_000, size * 10),
      });
      log(`  schedule list shows ${listed} of ${tasksNow} after ${(listedMs / 1000).toFixed(1)} s`);
      const settled =
        temporalCpuMs === undefined
          ? undefined
          : await settle(temporalCpuMs, options.settleCapSeconds * 1_000);
      if (settled) {
        const s = (settled.quietFrom - createsEnded) / 1000;
        log(
          `  ${temporalKind} quiet ${round(s)} s after the last create${settled.quiet ? '' : ' (capped)'}`,
        );
      } else {
        await sleep(30_000); // an external server: its CPU is not ours to read
      }

      // Reconcile on the quiet server, as after a restart or an operator's `npm run reconcile`.
      const summary = await reconcileAll({
        orm,
        client: temporal.client,
        schedules: services.schedules,
        config,
        logger,
      });
      log(
        `  reconciled ${summary.tasks} in ${(summary.durationMs / 1000).toFixed(1)} s, of which listing ${(summary.listMs / 1000).toFixed(1)} s (${summary.failed} failed)`,
      );
      if (temporalCpuMs !== undefined) await settle(temporalCpuMs, 60_000);

      // --- idle ----------------------------------------------------------------------------------
      const cpu = () => ({
        api: cpuMs(api.pid!),
        worker: cpuMs(worker.pid!),
        temporal: temporalCpuMs === undefined ? NaN : temporalCpuMs(),
        postgres: postmaster === undefined ? NaN : postgresCpuMs(postmaster),
      });
      log(`  idle for ${options.idleSeconds} s`);
      const idleBefore = cpu();
      const idleStart = Date.now();
      await sleep(options.idleSeconds * 1_000);
      const idleAfter = cpu();
      const idleMs = Date.now() - idleStart;
      const pct = (key: keyof typeof idleBefore) =>
        round(((idleAfter[key] - idleBefore[key]) / idleMs) * 100, 2);
      const temporalRss = temporalPid === undefined ? NaN : rssMiB(temporalPid);

      // --- reads ---------------------------------------------------------------------------------
      const read = async (url: string): Promise<ReadFigures> => {
        await autocannon({ url, connections: 8, duration: 1, headers }); // warm-up
        const apiBefore = cpuMs(api.pid!);
        const dbBefore = postmaster === undefined ? NaN : postgresCpuMs(postmaster);
        const result = await autocannon({
          url,
          connections: 32,
          duration: options.readSeconds,
          headers,
        });
        const total = Math.max(1, result.requests.total);
        return {
          req_per_s: round(result.requests.average, 0),
          p50_ms: result.latency.p50,
          p99_ms: result.latency.p99,
          failed_requests: result.non2xx + result.errors + result.timeouts,
          api_cpu_ms_per_req: round((cpuMs(api.pid!) - apiBefore) / total, 2),
          db_cpu_ms_per_req:
            postmaster === undefined
              ? 'n/a'
              : round((postgresCpuMs(postmaster) - dbBefore) / total, 2),
        };
      };
      const list = await read(`${base}/api/tasks?limit=20`);
      const searchUrl = `${base}/api/tasks?limit=20&search=${encodeURIComponent(SEARCH)}`;
      const matches = (
        (await (await fetch(searchUrl, { headers })).json()) as { meta: { total: number } }
      ).meta.total;
      if (matches !== SEARCH_MATCHES)
        log(`  the search "${SEARCH}" matched ${matches} tasks, not ${SEARCH_MATCHES}`);
      const search = await read(searchUrl);
      log(
        `  list p99 ${list.p99_ms} ms (${list.req_per_s} req/s), search p99 ${search.p99_ms} ms (${search.req_per_s} req/s)`,
      );

      // --- sizes on disk -------------------------------------------------------------------------
      const stateMiB = await temporalStateMiB();
      const tasksTableMiB = await tasksTableBytes(orm).then((bytes) => bytes / 2 ** 20);

      // --- due burst -----------------------------------------------------------------------------
      const burst = await dueBurst({
        n: options.burst,
        perSecond: createPerSecond,
        create: (i, schedule) =>
          create(`fleet burst ${i}`, schedule, '{{execution.scheduledTime}}'),
        remove: (id) =>
          fetch(`${base}/api/tasks/${id}`, {
            method: 'DELETE',
            headers: { 'X-API-Key': apiKey },
          }).then((res) => {
            if (res.status !== 204) throw new Error(`DELETE /api/tasks/${id} -> ${res.status}`);
          }),
        receipts: discord.receipts,
        settle: () =>
          temporalCpuMs === undefined
            ? sleep(10_000)
            : settle(temporalCpuMs, 120_000).then(() => undefined),
        bare: (n) => bare.dueTogether(n),
      });
      log(
        `  burst of ${burst.n}: ${burst.received} received, p99 ${burst.p99_ms} ms against the bare ${burst.baseline_p99_ms} ms (${burst.ratio}x)`,
      );

      const orNa = (n: number, digits = 1) => (Number.isFinite(n) ? round(n, digits) : 'n/a');
      entries.push({
        tasks: size,
        temporal: temporalKind,
        date: new Date().toISOString(),
        machine,
        create_per_s: round(createPerSecond),
        create_retries: retries,
        listed_after_s: round(listedMs / 1000),
        reconcile_s: round(summary.durationMs / 1000),
        reconcile_list_s: round(summary.listMs / 1000),
        reconcile_changed: summary.created + summary.updated + summary.deleted,
        reconcile_failed: summary.failed,
        settle_s: settled ? round((settled.quietFrom - createsEnded) / 1000, 0) : 'n/a',
        settled: settled ? settled.quiet : 'n/a',
        idle_s: round(idleMs / 1000, 0),
        idle_app_cpu_pct: round(pct('api') + pct('worker'), 2),
        idle_api_cpu_pct: pct('api'),
        idle_worker_cpu_pct: pct('worker'),
        idle_temporal_cpu_pct: orNa(pct('temporal'), 2),
        idle_postgres_cpu_pct: orNa(pct('postgres'), 2),
        peak_rss_mib: {
          api: round(peakRssMiB(api.pid!), 0),
          worker: round(peakRssMiB(worker.pid!), 0),
          temporal: temporalPid === undefined ? 'n/a' : round(peakRssMiB(temporalPid), 0),
          ...(temporalPostgresPeak
            ? { temporal_postgres: round(temporalPostgresPeak.peakMiB(), 0) }
            : {}),
          postgres: postgresPeak ? round(postgresPeak.peakMiB(), 0) : 'n/a',
        },
        temporal_rss_mib: orNa(temporalRss, 0),
        temporal_rss_kib_per_task: orNa(((temporalRss - temporalRssAtStart) * 1024) / size, 2),
        list_p99_ms: list.p99_ms,
        list_req_per_s: list.req_per_s,
        list,
        search_p99_ms: search.p99_ms,
        search_req_per_s: search.req_per_s,
        search: { ...search, query: SEARCH, matches },
        temporal_state_mib: orNa(stateMiB),
        temporal_state_kib_per_task: orNa(((stateMiB - stateAtStart) * 1024) / size, 2),
        tasks_table_mib: round(tasksTableMiB),
        due_burst: burst,
      });

      // --- start-up reconciliation -----------------------------------------------------------------
      // The API started again (as after a deploy): /health and a delivery due during the pass.
      const restarted = await startupPhase({
        base,
        n: STARTUP_DUE,
        create: (i, schedule) =>
          create(`fleet startup ${i}`, schedule, '{{execution.scheduledTime}}'),
        remove: (id) =>
          fetch(`${base}/api/tasks/${id}`, { method: 'DELETE', headers }).then((res) => {
            if (res.status !== 204) throw new Error(`DELETE /api/tasks/${id} -> ${res.status}`);
          }),
        receipts: discord.receipts,
        restart: async () => {
          const logFile = path.join(tmp, `api-${size}.log`);
          await restartApi({ ...env, LOG_LEVEL: 'info' }, logFile);
          return logFile;
        },
      });
      entries.at(-1)!.startup = restarted;
      // Once more with the bench's log level (the phase's API logs every request at info), before
      // the next size's creates; its own pass runs beside them.
      await restartApi(env, path.join(tmp, 'api.log'));
      await waitHealthy(base);
      log(
        `  API restarted: /health 200 after ${restarted.health_after_s} s; start-up reconcile ${restarted.reconcile_s} s, /health during it p99 ${restarted.health_during.p99_ms} ms (${restarted.health_during.failed} failed of ${restarted.health_during.n}); ${restarted.due.n} due ${restarted.due.due_after_reconcile_start_s} s into it${restarted.due.within_pass ? '' : ' (after it)'}: p99 ${restarted.due.p99_ms} ms against ${restarted.due.baseline_p99_ms} ms the minute before (${restarted.due.ratio}x)`,
      );
      // After each size, so that a long run stopped later keeps the sizes it measured.
      await report(entries, options, (Date.now() - started) / 1000);
    }
  } catch (error) {
    for (const hint of failureHints) await hint().catch(() => undefined);
    throw error;
  } finally {
    await cleanup();
  }
}

/** Tasks created through the API for a measurement, and the mock Discord's receipts. */
interface DueTasks {
  n: number;
  create: (i: number, schedule: string) => Promise<string>;
  remove: (id: string) => Promise<void>;
  receipts: { webhookId: string; receivedAt: number; content: string }[];
}

/** A daily cron firing at the minute of `at` (UTC). */
function minuteCron(at: number): string {
  const d = new Date(at);
  return `${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
}

/**
 * The lateness (ms, sorted) of `n` tasks due at `fireAt`: the first receipt since index `from` of
 * each webhook whose content is that scheduled time, against it. Waits up to `graceMs` past it.
 */
async function latenessAt(
  receipts: DueTasks['receipts'],
  options: { from: number; fireAt: number; n: number; graceMs: number },
): Promise<number[]> {
  const { from, fireAt, n } = options;
  const ours = () => receipts.slice(from).filter((r) => Date.parse(r.content) === fireAt);
  await waitUntil(async () => ours().length >= n, fireAt - Date.now() + options.graceMs);
  const firsts = new Map<string, number>();
  for (const r of ours()) if (!firsts.has(r.webhookId)) firsts.set(r.webhookId, r.receivedAt);
  return [...firsts.values()].map((t) => t - fireAt).sort((a, b) => a - b);
}

/**
 * `n` tasks due on one minute (the first far enough ahead to create them all at the measured
 * create rate, with room to spare), each message carrying its scheduled time so that the mock
 * Discord's clock gives its lateness; then deleted; then `n` bare schedules due together.
 */
async function dueBurst(
  deps: DueTasks & {
    perSecond: number;
    settle: () => Promise<void>;
    bare: (n: number) => Promise<number[]>;
  },
): Promise<BurstFigures> {
  const { n } = deps;
  const leadMs = 15_000 + (n / Math.max(1, deps.perSecond)) * 1_500;
  const fireAt = Math.ceil((Date.now() + leadMs) / MINUTE_MS) * MINUTE_MS;
  const at = new Date(fireAt);
  const schedule = minuteCron(fireAt);
  const from = deps.receipts.length;
  const ids: string[] = [];
  await forEachLimited(range(0, n), CREATE_CONCURRENCY, async (i) => {
    ids.push(await deps.create(i, schedule));
  });
  const lateCreate = Date.now() > fireAt;
  log(`  ${n} tasks due at ${at.toISOString()} (cron "${schedule}")`);
  const latencies = await latenessAt(deps.receipts, { from, fireAt, n, graceMs: 120_000 });
  await forEachLimited(ids, 16, deps.remove);
  await deps.settle();
  const bare = await deps.bare(n);
  const p99 = percentile(latencies, 99);
  const bareP99 = percentile(bare, 99);
  return {
    n,
    received: latencies.length,
    p50_ms: round(percentile(latencies, 50), 0),
    p99_ms: round(p99, 0),
    max_ms: round(latencies.at(-1) ?? NaN, 0),
    baseline_received: bare.length,
    baseline_p99_ms: round(bareP99, 0),
    ratio: round(p99 / bareP99, 2),
    ...(lateCreate ? { note: 'the minute started before the last create returned' } : {}),
  };
}

/** Tasks due during the start-up reconciliation (and as many the minute before). */
const STARTUP_DUE = 20;

/**
 * `n` tasks due on a minute (the baseline), `n` more on the next, and the API started again 4 s
 * before the second, so that it falls in the start-up reconciliation (about a second to start,
 * then the pass: 5 s at 10,000 tasks, over a minute at 100,000). /health is asked one request
 * after the other from the restart until the API logs the pass's end.
 */
async function startupPhase(
  deps: DueTasks & {
    base: string;
    /** Stops the API, starts it again, and returns the new process's log file. */
    restart: () => Promise<string>;
  },
): Promise<StartupFigures> {
  const { n } = deps;
  const baselineAt = Math.ceil((Date.now() + 20_000) / MINUTE_MS) * MINUTE_MS;
  const dueAt = baselineAt + MINUTE_MS;
  const from = deps.receipts.length;
  const ids: string[] = [];
  await forEachLimited(range(0, 2 * n), 8, async (i) => {
    ids.push(await deps.create(i, minuteCron(i < n ? baselineAt : dueAt)));
  });
  const lateness = (fireAt: number) =>
    latenessAt(deps.receipts, { from, fireAt, n, graceMs: 180_000 });
  const baseline = await lateness(baselineAt);

  await sleep(dueAt - 4_000 - Date.now());
  const spawnedAt = Date.now();
  const logFile = await deps.restart();
  let healthyAt: number | undefined;
  const during: number[] = [];
  let failed = 0;
  let reconciled: { at: number; durationMs: number; tasks: number } | undefined;
  const deadline = Date.now() + 15 * MINUTE_MS;
  while (!reconciled && Date.now() < deadline) {
    const asked = performance.now();
    const status = await fetch(`${deps.base}/health`, { signal: AbortSignal.timeout(10_000) })
      .then((res) => res.status)
      .catch(() => 0);
    const ms = performance.now() - asked;
    if (healthyAt === undefined && status === 200) healthyAt = Date.now();
    if (healthyAt !== undefined) {
      during.push(ms);
      if (status !== 200) failed += 1;
    }
    reconciled = await reconciledLine(logFile);
    await sleep(100);
  }
  if (!reconciled)
    throw new Error(`the restarted API did not log 'schedules reconciled' (${logFile})`);
  const late = await lateness(dueAt);
  await forEachLimited(ids, 8, deps.remove);
  const reconcileStart = reconciled.at - reconciled.durationMs;
  const sorted = during.sort((a, b) => a - b);
  const p99 = percentile(late, 99);
  const baselineP99 = percentile(baseline, 99);
  return {
    health_after_s: round(((healthyAt ?? NaN) - spawnedAt) / 1000, 2),
    reconcile_s: round(reconciled.durationMs / 1000),
    reconcile_tasks: reconciled.tasks,
    health_during: {
      n: sorted.length,
      p50_ms: round(percentile(sorted, 50), 1),
      p99_ms: round(percentile(sorted, 99), 1),
      max_ms: round(sorted.at(-1) ?? NaN, 1),
      failed,
    },
    due: {
      n,
      due_after_reconcile_start_s: round((dueAt - reconcileStart) / 1000),
      within_pass: dueAt >= reconcileStart && dueAt < reconciled.at,
      received: late.length,
      p99_ms: round(p99, 0),
      baseline_received: baseline.length,
      baseline_p99_ms: round(baselineP99, 0),
      ratio: round(p99 / baselineP99, 2),
    },
  };
}

/** The API's 'schedules reconciled' line (pino JSON) in its log, if written yet. */
async function reconciledLine(
  logFile: string,
): Promise<{ at: number; durationMs: number; tasks: number } | undefined> {
  const text = await fs.readFile(logFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.includes('schedules reconciled')) continue;
    try {
      const entry = JSON.parse(line) as { time: string; durationMs: number; tasks: number };
      return { at: Date.parse(entry.time), durationMs: entry.durationMs, tasks: entry.tasks };
    } catch {
      // a line still being written
    }
  }
  return undefined;
}

// --- processes -----------------------------------------------------------------------------------

/** The fields of /proc/<pid>/stat after the command's closing parenthesis (state is [0]). */
const statFields = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};

/** The live child processes of `parent` (a postmaster's backends and auxiliary processes). */
function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return Number(statFields(pid)[1]) === parent;
      } catch {
        return false; // ended meanwhile
      }
    });
}

/**
 * PostgreSQL's CPU so far, ms: the postmaster's own, that of the backends that ended (its
 * cutime and cstime) and that of the live ones.
 */
function postgresCpuMs(postmaster: number): number {
  const own = statFields(postmaster);
  const ended = (Number(own[13]) + Number(own[14])) * 10;
  return (
    cpuMs(postmaster) +
    ended +
    childrenOf(postmaster).reduce((sum, pid) => {
      try {
        return sum + cpuMs(pid);
      } catch {
        return sum;
      }
    }, 0)
  );
}

/** A process's PSS (its share of shared pages, so shared buffers count once), MiB. */
function pssMiB(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

/** The peak of PostgreSQL's summed PSS, sampled every 5 s until stopped. */
function trackPostgresMemory(postmaster: number): { peakMiB(): number; stop(): void } {
  let peak = 0;
  const sample = () => {
    const total = [postmaster, ...childrenOf(postmaster)].reduce(
      (sum, pid) => sum + pssMiB(pid),
      0,
    );
    peak = Math.max(peak, total);
  };
  sample();
  const timer = setInterval(sample, 5_000);
  timer.unref();
  return {
    peakMiB: () => (sample(), peak),
    stop: () => clearInterval(timer),
  };
}

/**
 * Waits until the `cpu` it reads (ms so far) grows under `quietPct` % of a core over 30 s (the
 * server's backlog worked off), or `capMs`.
 * `quietFrom` is when that quiet window began (or the cap, when it never came).
 */
async function settleBelow(
  cpu: () => number,
  capMs: number,
  quietPct: number,
): Promise<{ quietFrom: number; quiet: boolean }> {
  const windowSamples = 31;
  const window: { at: number; cpu: number }[] = [{ at: Date.now(), cpu: cpu() }];
  const deadline = Date.now() + capMs;
  while (Date.now() < deadline) {
    await sleep(1_000);
    window.push({ at: Date.now(), cpu: cpu() });
    if (window.length > windowSamples) window.shift();
    const first = window[0]!;
    const last = window[window.length - 1]!;
    if (
      window.length === windowSamples &&
      last.cpu - first.cpu < (quietPct / 100) * (last.at - first.at)
    )
      return { quietFrom: first.at, quiet: true };
  }
  return { quietFrom: Date.now(), quiet: false };
}

/** Until the API at `base` answers 200 on /health (90 s at most). */
async function waitHealthy(base: string): Promise<void> {
  const healthy = await waitUntil(
    async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200,
    90_000,
  );
  if (!healthy) throw new Error(`the API at ${base} did not become healthy`);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(200);
  }
  return false;
}

// --- sizes -----------------------------------------------------------------------------------------

async function tasksTableBytes(orm: Orm): Promise<number> {
  const [row] = await orm.em
    .getConnection()
    .execute<{ bytes: string }[]>(`select pg_total_relation_size('tasks') as bytes`);
  return Number(row?.bytes ?? NaN);
}

// --- report ----------------------------------------------------------------------------------------

/** The costs drawn and compared across sizes: what a waiting fleet costs. */
const COSTS: { key: string; title: string; idle: boolean; get: (e: FleetEntry) => unknown }[] = [
  {
    key: 'idle_app_cpu_pct',
    title: 'API + worker idle CPU, % of a core',
    idle: true,
    get: (e) => e.idle_app_cpu_pct,
  },
  {
    key: 'idle_temporal_cpu_pct',
    title: 'Temporal idle CPU, % of a core',
    idle: true,
    get: (e) => e.idle_temporal_cpu_pct,
  },
  {
    key: 'idle_postgres_cpu_pct',
    title: 'PostgreSQL idle CPU, % of a core',
    idle: true,
    get: (e) => e.idle_postgres_cpu_pct,
  },
  {
    key: 'api_peak_rss_mib',
    title: 'API peak RSS, MiB',
    idle: true,
    get: (e) => e.peak_rss_mib.api,
  },
  {
    key: 'worker_peak_rss_mib',
    title: 'worker peak RSS, MiB',
    idle: true,
    get: (e) => e.peak_rss_mib.worker,
  },
  {
    key: 'temporal_peak_rss_mib',
    title: 'Temporal peak RSS, MiB',
    idle: true,
    get: (e) => e.peak_rss_mib.temporal,
  },
  {
    key: 'temporal_rss_mib',
    title: 'Temporal RSS when idle, MiB',
    idle: true,
    get: (e) => e.temporal_rss_mib,
  },
  {
    key: 'postgres_peak_mib',
    title: 'PostgreSQL peak memory (PSS), MiB',
    idle: true,
    get: (e) => e.peak_rss_mib.postgres,
  },
  {
    key: 'temporal_state_mib',
    title: 'Temporal state on disk, MiB',
    idle: true,
    get: (e) => e.temporal_state_mib,
  },
  {
    key: 'tasks_table_mib',
    title: 'tasks table with indexes, MiB',
    idle: true,
    get: (e) => e.tasks_table_mib,
  },
  {
    key: 'list_p99_ms',
    title: 'GET /api/tasks?limit=20 p99, ms',
    idle: false,
    get: (e) => e.list_p99_ms,
  },
  { key: 'search_p99_ms', title: 'name search p99, ms', idle: false, get: (e) => e.search_p99_ms },
  { key: 'reconcile_s', title: 'reconcile all, s', idle: false, get: (e) => e.reconcile_s },
  {
    key: 'settle_s',
    title: 'Temporal busy after the creates, s',
    idle: false,
    get: (e) => e.settle_s,
  },
];

export interface Growth {
  cost: string;
  idle: boolean;
  from: number;
  to: number;
  /** to / from of the cost, divided by that of the tasks: above 1 is more than linear. */
  ratio: number | null;
  more_than_linear: boolean;
}

function growthOf(entries: FleetEntry[]): Growth[] {
  const sorted = [...entries].sort((a, b) => a.tasks - b.tasks);
  const small = sorted[0]!;
  const large = sorted.at(-1)!;
  const taskGrowth = large.tasks / small.tasks;
  return COSTS.flatMap(({ key, idle, get }) => {
    const from = get(small);
    const to = get(large);
    if (typeof from !== 'number' || typeof to !== 'number') return [];
    const ratio = from > 0 ? round(to / from / taskGrowth, 2) : null;
    return [{ cost: key, idle, from, to, ratio, more_than_linear: ratio !== null && ratio > 1 }];
  });
}

async function report(entries: FleetEntry[], options: FleetOptions, totalSeconds: number) {
  const na = (v: unknown) => (typeof v === 'number' ? String(v) : 'n/a');
  const lines = [
    '',
    `Fleet (${entries[0]?.temporal}) on ${entries[0]?.machine}`,
    '',
    '| tasks | create/s | reconcile s | settle s | idle CPU % app (api+worker) / Temporal / PG | peak RSS MiB api / worker / Temporal / PG | list p99 ms (req/s) | search p99 ms (req/s) | Temporal state MiB (KiB/task) | burst received, p99 / bare p99 ms (ratio) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...entries.map(
      (e) =>
        `| ${e.tasks.toLocaleString('en')} | ${e.create_per_s} | ${e.reconcile_s} | ${na(e.settle_s)}${e.settled === false ? ' (cap)' : ''} ` +
        `| ${e.idle_app_cpu_pct} (${e.idle_api_cpu_pct}+${e.idle_worker_cpu_pct}) / ${na(e.idle_temporal_cpu_pct)} / ${na(e.idle_postgres_cpu_pct)} ` +
        `| ${e.peak_rss_mib.api} / ${e.peak_rss_mib.worker} / ${na(e.peak_rss_mib.temporal)} / ${na(e.peak_rss_mib.postgres)} ` +
        `| ${e.list_p99_ms} (${e.list_req_per_s}) | ${e.search_p99_ms} (${e.search_req_per_s}) ` +
        `| ${na(e.temporal_state_mib)} (${na(e.temporal_state_kib_per_task)}) ` +
        `| ${e.due_burst.received}/${e.due_burst.n}, ${e.due_burst.p99_ms} / ${e.due_burst.baseline_p99_ms} (${e.due_burst.ratio}x) |`,
    ),
  ];
  const growth = entries.length > 1 ? growthOf(entries) : [];
  if (growth.length > 0) {
    const [small, large] = [entries[0]!.tasks, entries.at(-1)!.tasks];
    lines.push(
      '',
      `Growth from ${small.toLocaleString('en')} to ${large.toLocaleString('en')} tasks (${round(large / small, 2)}x): the cost's growth over the tasks' (above 1: more than linear)`,
      '',
      '| cost | at the smallest | at the largest | ratio | |',
      '|---|---|---|---|---|',
      ...growth.map(
        (g) =>
          `| ${g.cost}${g.idle ? '' : ' (not idle)'} | ${g.from} | ${g.to} | ${g.ratio ?? 'n/a'} | ${g.more_than_linear ? 'MORE THAN LINEAR' : ''} |`,
      ),
    );
  }
  lines.push('', `total ${totalSeconds.toFixed(0)} s`);
  process.stdout.write(lines.join('\n') + '\n');
  const flagged = growth.filter((g) => g.idle && g.more_than_linear).map((g) => g.cost);
  if (flagged.length > 0) log(`idle costs growing more than linearly: ${flagged.join(', ')}`);

  // Under its own keys of the file the other scenarios write, which keeps theirs. The entries of
  // an earlier run on the other kind of Temporal server stay beside these.
  const out = path.join(ROOT, 'bench', 'results');
  const file = path.join(out, options.quick ? 'latest-quick.json' : 'latest.json');
  const existing = await fs
    .readFile(file, 'utf8')
    .then((text) => JSON.parse(text) as Record<string, unknown>)
    .catch(() => ({}) as Record<string, unknown>);
  const kind = entries[0]!.temporal;
  const fleet = [
    ...(Array.isArray(existing.fleet) ? (existing.fleet as FleetEntry[]) : []).filter(
      (e) => e.temporal !== kind,
    ),
    ...entries,
  ];
  const earlierGrowth =
    typeof existing.fleet_growth === 'object' && existing.fleet_growth !== null
      ? (existing.fleet_growth as Record<string, unknown>)
      : {};
  const fleetGrowth =
    growth.length > 0
      ? {
          ...earlierGrowth,
          [kind]: { from_tasks: entries[0]!.tasks, to_tasks: entries.at(-1)!.tasks, costs: growth },
        }
      : earlierGrowth;
  await fs.mkdir(out, { recursive: true });
  await fs.writeFile(
    file,
    JSON.stringify({ ...existing, fleet, fleet_growth: fleetGrowth }, null, 2) + '\n',
  );
  log(`wrote the keys "fleet" and "fleet_growth" of bench/results/${path.basename(file)}`);

  const svg = path.join(out, options.quick ? 'fleet-quick.svg' : 'fleet.svg');
  await fs.writeFile(svg, fleetChart(fleet, entries[0]!.machine));
  log(`drew bench/results/${path.basename(svg)}`);
}

/** Each cost against the tasks, one line per kind of server in `fleet`, as an SVG. */
export function fleetChart(fleet: FleetEntry[], machine: string): string {
  const kinds = [...new Set(fleet.map((e) => e.temporal))];
  const panels: ChartPanel[] = COSTS.map(({ title, get }) => ({
    title,
    series: kinds.map((k) => ({
      name: k,
      points: fleet
        .filter((e) => e.temporal === k)
        .map((e): [number, number] => {
          const value = get(e);
          return [e.tasks, typeof value === 'number' ? value : NaN];
        }),
    })),
  }));
  panels.push({
    title: 'due burst p99 against the bare schedules, ms',
    series: kinds.flatMap((k) => {
      const of = fleet.filter((e) => e.temporal === k);
      return [
        {
          name: `${k}: tasks`,
          points: of.map((e): [number, number] => [e.tasks, e.due_burst.p99_ms]),
        },
        {
          name: `${k}: bare schedules`,
          points: of.map((e): [number, number] => [e.tasks, e.due_burst.baseline_p99_ms]),
        },
      ];
    }),
  });
  return costChart(`What a fleet of tasks costs while it waits (${machine})`, panels);
}
