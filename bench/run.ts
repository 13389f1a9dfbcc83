/**
 * `npm run bench [-- --quick]`: measures the API and the delivery path on this machine (SPEC §9).
 *
 * Starts its own PostgreSQL and Temporal dev server in a temporary folder (or uses DATABASE_URL /
 * TEMPORAL_ADDRESS: the benchmark then writes its tasks there), an API process and one worker
 * process from the sources, and a mock Discord that answers 200 at once; seeds data; runs the
 * scenarios; prints a table; writes bench/results/latest.json; stops and removes everything.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import autocannon from 'autocannon';
import { forEachLimited } from '../src/concurrency';
import { loadConfig } from '../src/config';
import { initOrm } from '../src/db/orm';
import { createLogger } from '../src/logger';
import { workerTuningOptions } from '../src/main/worker';
import { createServices } from '../src/services';
import { createTemporalClient } from '../src/temporal/client';
import { scheduleIdForTask } from '../src/temporal/contracts';
import { type AgainstSide, startAgainst } from './against';
import { dynamicConfigFlags, startBareTemporal } from './baseline';
import { sampleMemory } from './memory';
import {
  benchEnv,
  buildUnlessFromSources,
  launchRole,
  reconcileOnceListed,
  startBenchServices,
  waitForWorkerPolling,
  WORKER_NODE_OPTIONS,
} from './services';
import { percentile, round, sleep } from './figures';
import { cpuMs, machineBusyMs, peakRssMiB, threadCpuMs } from './proc';

const ROOT = path.resolve(__dirname, '..');
const QUICK = process.argv.includes('--quick');
/**
 * `--from-sources`: run the API and worker from the TypeScript sources under tsx instead of the
 * build that production runs (`npm run build`, then `node dist/src/main/start.js`). The build is
 * what memory is measured on: tsx adds its loader's thread, and a worker without the prebuilt
 * workflow bundle runs webpack at start.
 */
const FROM_SOURCES = process.argv.includes('--from-sources');
/**
 * `--dynamic-config key=json` (repeatable): a dev server knob over the shipped
 * deploy/temporal/dynamicconfig.yaml, to size it by measurement, e.g.
 * `--dynamic-config worker.schedulerNamespaceStartWorkflowRPS=30` (Temporal's default).
 */
const DYNAMIC_CONFIG_FLAGS = dynamicConfigFlags(process.argv);
/** `--profile`: the API and worker write V8 CPU profiles to bench/results/profiles/. */
const PROFILE = process.argv.includes('--profile');
/** `--only reads,deliveries`: run just these scenarios (creates, reads, deliveries, due, bulk). */
const ONLY = ((i) => (i >= 0 ? new Set(process.argv[i + 1]?.split(',')) : null))(
  process.argv.indexOf('--only'),
);
/**
 * `--against <commit>`: each read also runs, alternating with ours over two rounds, against the API
 * of that earlier commit, built and run beside ours on the same seed (bench/against.ts), and its
 * row gains the commit's figures and our ratio to them (issue 25 item 6). Without it the reads run
 * as before: ours alone, one round each.
 */
const AGAINST = ((i) => {
  const commit = i >= 0 ? process.argv[i + 1] : undefined;
  if (i >= 0 && (!commit || commit.startsWith('-'))) throw new Error('--against needs a commit');
  return commit;
})(process.argv.indexOf('--against'));
const runs = (scenario: 'creates' | 'reads' | 'deliveries' | 'due' | 'bulk') =>
  !ONLY || ONLY.has(scenario);
const SIZES = QUICK
  ? { listTasks: 200, logs: 2_000, duration: 3, posts: 50, deliveries: 100, due: 30, bulk: 300 }
  : {
      listTasks: 1_000,
      logs: 10_000,
      duration: 10,
      posts: 200,
      deliveries: 500,
      due: 200,
      bulk: 10_000,
    };

interface Row {
  scenario: string;
  figures: Record<string, number | string>;
  target: string;
  met: boolean | null;
}

const rows: Row[] = [];
const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse())
      await fn().catch((e: unknown) => log(`cleanup: ${String(e)}`));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    // --- services ------------------------------------------------------------------------------
    const { databaseUrl, temporalAddress, temporalPid, discord } = await startBenchServices({
      prefix: 'dts-bench-',
      cleanups,
      dynamicConfig: DYNAMIC_CONFIG_FLAGS,
      // Our default (DEFAULT_SQLITE_PRAGMAS); `--sqlite-defaults` measures SQLite's own.
      ...(process.argv.includes('--sqlite-defaults') ? { sqlitePragmas: {} } : {}),
    });
    const logger = createLogger({ level: 'error', name: 'bench' });
    const env = await benchEnv(
      { databaseUrl, temporalAddress, discord },
      { taskQueuePrefix: 'bench-' },
    );
    const apiKey = env.API_KEY!;
    const port = Number(env.PORT);
    buildUnlessFromSources(FROM_SOURCES, log);
    const api = launchRole('api', env, {
      fromSources: FROM_SOURCES,
      cleanups,
      nodeArgs: nodeArgsOf('api'),
    });
    const worker = launchRole('worker', env, {
      fromSources: FROM_SOURCES,
      cleanups,
      nodeArgs: nodeArgsOf('worker'),
    });
    const base = `http://127.0.0.1:${port}`;
    // What each one's RSS is made of at its peak (bench/memory.ts): sampled through the whole run.
    const memory = {
      api: sampleMemory(api.pid!, `${base}/metrics`),
      worker: sampleMemory(worker.pid!, `http://127.0.0.1:${env.METRICS_PORT}/metrics`),
    };
    const temporal = createTemporalClient({ address: temporalAddress, namespace: 'default' });
    cleanups.push(() => temporal.close());
    // The bare server's own figures, measured right after ours on this same server (same dynamic
    // config, same minute): the due and deliveries targets are ratios to these.
    const bare =
      runs('due') || runs('deliveries') ? await startBareTemporal(temporalAddress) : undefined;
    if (bare) cleanups.push(() => bare.close());

    const headers = { 'X-API-Key': apiKey, 'Content-Type': 'application/json' };
    let webhookSeq = 1_000_000;
    const taskBody = (name: string, schedule = '0 0 1 1 *', content = 'bench {{task.name}}') => ({
      name,
      schedule,
      webhookUrl: `${discord.url}/api/webhooks/${webhookSeq++}/${randomBytes(34).toString('hex')}`,
      payload: { content },
      maxRetry: 0,
    });
    // --- seed the listed tasks (through the service: not measured) while the API and worker start.
    // 32: bulk creates run 32 at a time, each holding a connection until its schedule exists
    // (the row commits only after Temporal accepted the schedule).
    const orm = await initOrm({ databaseUrl, poolMax: 32 });
    cleanups.push(() => orm.close());
    const config = loadConfig(env);
    const services = createServices({ config, orm, temporal, logger });
    type CreateInput = Parameters<typeof services.tasks.create>[0];
    // The seeding overlaps the start-up of everything else: a create can outlive its deadline
    // then, which opens the service's database circuit and stops the bulk create. Seeding is not
    // measured, so it waits for the circuit and creates the tasks still missing.
    const seedTasks = async (count: number): Promise<{ ids: string[] }> => {
      const ids: string[] = [];
      for (let round = 1; ids.length < count; round++) {
        const bodies = range(count - ids.length).map(
          (i) => taskBody(`bench seeded task ${ids.length + i}`) as CreateInput,
        );
        try {
          ids.push(...(await services.tasks.createMany(bodies, { concurrency: 32 })).ids);
        } catch (error) {
          const created = (error as { createdIds?: string[] }).createdIds;
          if (!created || round >= 5) throw error;
          ids.push(...created);
          log(`seeding stopped after ${ids.length} tasks (${String(error)}); going on in 5 s`);
          await sleep(5_000);
        }
      }
      return { ids };
    };
    const seeding = seedTasks(SIZES.listTasks - (runs('creates') ? SIZES.posts : 0));
    seeding.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    await waitForHealth(base);
    // The worker bundles workflows/ at start: wait until it polls its task queue.
    await waitForWorkerPolling(temporal.connection, env.TEMPORAL_TASK_QUEUE!);
    const { ids: seeded } = await seeding;
    log(
      `services up and ${seeded.length} tasks seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    /** Waits (when the bench started the dev server) until it is quiet; returns the wait. */
    const settleTemporal = async (before: string, timeoutMs = 60_000): Promise<number> => {
      if (temporalPid === undefined) return 0;
      const waited = await settle(temporalPid, timeoutMs);
      log(`Temporal quiet after ${(waited / 1000).toFixed(1)} s, before ${before}`);
      return waited;
    };

    const post = async (body: object) => {
      const res = await fetch(`${base}/api/tasks`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      if (res.status !== 201)
        throw new Error(`POST /api/tasks -> ${res.status}: ${await res.text()}`);
      return (await res.json()) as { id: string; webhookUrl: string };
    };

    // --- 5. sequential creates (row + schedule), once the seeding's schedules are settled ---------
    if (runs('creates')) await settleTemporal('the creates');
    const createTimes: number[] = [];
    const taskIds: string[] = [];
    for (let i = 0; i < (runs('creates') ? SIZES.posts : 0); i++) {
      const t0 = performance.now();
      taskIds.push((await post(taskBody(`bench task ${i}`))).id);
      createTimes.push(performance.now() - t0);
    }
    createTimes.sort((a, b) => a - b);
    const createP50 = percentile(createTimes, 50);
    if (runs('creates'))
      rows.push({
        scenario: `${SIZES.posts} sequential POST /api/tasks (row + schedule)`,
        figures: { p50_ms: round(createP50), p99_ms: round(percentile(createTimes, 99)) },
        target: 'p50 < 20 ms',
        met: createP50 < 20,
      });

    // --- the logs (the listed tasks were seeded while the API and worker started) -------------
    taskIds.push(...seeded);
    await orm.em.getConnection().execute(
      `insert into task_logs (id, task_id, execution_time, status, retry_count, message, attempt, http_status,
         duration_ms, scheduled_time, workflow_id, run_id, created_at)
       select gen_random_uuid(), ids[1 + (g % array_length(ids, 1))], now() - g * interval '1 second',
              (array['SUCCESS','SUCCESS','SUCCESS','RETRYING','FAILED'])[1 + g % 5], 0, 'seeded', 1, 200, 120,
              now() - g * interval '1 second', 'bench-seed-' || g, 'run', now()
       from generate_series(1, ?) g, (select ?::uuid[] as ids) t`,
      [SIZES.logs, `{${taskIds.join(',')}}`],
    );
    await orm.em.getConnection().execute('analyze task_logs; analyze tasks');
    log(`seeded ${taskIds.length} tasks and ${SIZES.logs} logs`);

    // --- 7a. tasks due together (full mode): created now for the next minute they can make. The
    //     scenarios that fit in the wait for that minute (each read, the deliveries) run in it and
    //     end before the minute starts; the others run after the due tasks fired.
    const dueFull =
      runs('due') && !QUICK
        ? await scheduleDueTogether(post, taskBody, SIZES.due, discord.url)
        : undefined;

    // New schedules keep the dev server busy for a while (each runs its first workflow task):
    // measure once it is quiet, not against that backlog.
    await settleTemporal('reads');

    // --- 1-4. read throughput -------------------------------------------------------------------
    /** One side's API loaded at 32 connections after a warm-up, and that API's CPU meanwhile. */
    const load = async (url: string, pid: number) => {
      await autocannon({ url, connections: 8, duration: 1, headers }); // warm-up
      const cpuBefore = cpuMs(pid);
      const result = await autocannon({ url, connections: 32, duration: SIZES.duration, headers });
      return { result, cpuMs: cpuMs(pid) - cpuBefore };
    };
    type Load = Awaited<ReturnType<typeof load>>;
    /** A side's figures over its rounds: req/s, p50 and p99 averaged, failures and CPU summed. */
    const measured = (loads: Load[]) => {
      const sum = (of: (l: Load) => number) => loads.reduce((total, l) => total + of(l), 0);
      return {
        rps: sum((l) => l.result.requests.average) / loads.length,
        p50: sum((l) => l.result.latency.p50) / loads.length,
        p99: sum((l) => l.result.latency.p99) / loads.length,
        bad: sum(({ result: r }) => r.non2xx + r.errors + r.timeouts),
        // The API's own CPU per request: unlike req/s, it does not depend on what else runs.
        cpuPerRequest:
          sum((l) => l.cpuMs) /
          Math.max(
            1,
            sum((l) => l.result.requests.total),
          ),
      };
    };
    interface ReadScenario {
      scenario: string;
      /** `:id` stands for each side's own task. */
      route: string;
      target: string;
      minRps: number | null;
      /** With `--against`: at least this many times the commit's req/s, with p99 no worse. */
      gain?: number;
    }
    const read = async (
      { scenario, route, target, minRps, gain }: ReadScenario,
      against?: AgainstSide,
    ) => {
      const sides = [{ base, pid: api.pid!, taskId: taskIds[0]! }, ...(against ? [against] : [])];
      const loads = sides.map((): Load[] => []);
      // Ours, then the commit's, twice over: what else the machine does falls on both alike.
      for (let pass = 0; pass < (against ? 2 : 1); pass++)
        for (const [i, side] of sides.entries())
          loads[i]!.push(await load(`${side.base}${route.replace(':id', side.taskId)}`, side.pid));
      const ours = measured(loads[0]!);
      const theirs = against && { commit: against.commit, ...measured(loads[1]!) };
      const alone = minRps === null ? null : ours.rps >= minRps && ours.p99 < 50 && ours.bad === 0;
      rows.push({
        scenario,
        figures: {
          req_per_s: round(ours.rps, 0),
          p50_ms: round(ours.p50),
          p99_ms: round(ours.p99),
          failed_requests: ours.bad,
          api_cpu_ms_per_req: round(ours.cpuPerRequest, 2),
          ...(theirs && {
            against_commit: theirs.commit,
            against_req_per_s: round(theirs.rps, 0),
            against_p99_ms: round(theirs.p99),
            against_failed_requests: theirs.bad,
            against_api_cpu_ms_per_req: round(theirs.cpuPerRequest, 2),
            ratio_vs_against: round(ours.rps / theirs.rps, 2),
            cpu_ratio_vs_against: round(ours.cpuPerRequest / theirs.cpuPerRequest, 2),
          }),
        },
        target:
          theirs && gain ? `${target}; >= ${gain}x ${theirs.commit}'s req/s, p99 no worse` : target,
        met:
          theirs && gain
            ? alone !== false &&
              ours.rps >= gain * theirs.rps &&
              ours.p99 <= theirs.p99 &&
              theirs.bad === 0
            : alone,
      });
    };
    // A read takes its warm-up and load run plus a little; the slack keeps the estimate safe.
    const readMs = (SIZES.duration + 1) * 1_000 + 2_000;
    const readScenarios: ReadScenario[] = [
      {
        scenario: `GET /api/tasks?limit=20 over ${SIZES.listTasks} tasks`,
        route: '/api/tasks?limit=20',
        target: '>= 1,300 req/s, p99 < 50 ms',
        minRps: 1_300,
        gain: 1.2,
      },
      {
        scenario: `GET /api/tasks/:id with 10 logs`,
        route: '/api/tasks/:id',
        target: '>= 1,600 req/s, p99 < 50 ms',
        minRps: 1_600,
        gain: 1.2,
      },
      {
        scenario: `GET /api/logs?limit=20 over ${SIZES.logs} logs`,
        route: '/api/logs?limit=20',
        target: '>= 550 req/s, p99 < 50 ms',
        minRps: 550,
      },
      {
        scenario: 'GET /health',
        route: '/health',
        target: 'framework ceiling (reference)',
        minRps: null,
      },
    ];
    /** `--against`: the commit's API set up beside ours, then every read on both sides. */
    const readAgainst = async (commit: string) => {
      const against = await startAgainst({
        commit,
        root: ROOT,
        fromSources: FROM_SOURCES,
        nodeArgs: nodeArgsOf('api'),
        env,
        orm,
        databaseUrl: databaseUrl!,
        temporal: temporal.connection,
        headers,
        taskBody: taskBody('bench task against'),
        waitForHealth,
        cleanups,
        log,
      });
      try {
        // Its tasks' new schedules keep the dev server busy for a while, as ours did.
        await settleTemporal(`the reads against ${against.commit}`);
        for (const scenario of readScenarios) await read(scenario, against);
      } finally {
        await against.stop();
      }
    };
    // Against a commit: its build, start, seed and schedules, then each read four times.
    const againstMs = 90_000 + SIZES.listTasks * 40 + readScenarios.length * 4 * readMs;
    const reads: Filler[] = !runs('reads')
      ? []
      : AGAINST
        ? [{ estimateMs: againstMs, run: () => readAgainst(AGAINST) }]
        : readScenarios.map((scenario) => ({ estimateMs: readMs, run: () => read(scenario) }));

    // --- 7. tasks due together: fire latency ------------------------------------------------------
    const runDue = async () => {
      if (!runs('due')) return;
      // Quick mode's tasks fire every 20 s (see scheduleDueTogether), so they are created only now.
      const due = dueFull ?? (await scheduleDueTogether(post, taskBody, SIZES.due, discord.url));
      const dueIds = new Set(due.webhookIds);
      const waitMs = due.fireAt - Date.now();
      // Full mode: had the minute started before the scenario run in its wait ended, that one
      // would have disturbed it.
      const overlapped = waitMs < 0;
      log(`${SIZES.due} tasks due in ${(waitMs / 1000).toFixed(0)} s (${due.kind})`);
      await waitUntil(
        async () => discord.countFor(dueIds) >= SIZES.due,
        Math.max(0, waitMs) + 60_000,
      );
      const receipts = firstReceipts(discord.receipts, dueIds);
      const latencies = receipts.map(lateness).sort((a, b) => a - b);
      await traceSlowest(bare!.client, due, receipts);
      await forEachLimited(due.taskIds, 16, (id) =>
        fetch(`${base}/api/tasks/${id}`, {
          method: 'DELETE',
          headers: { 'X-API-Key': apiKey },
        }).then(() => undefined),
      );
      // The same number of bare schedules due on one second, on this server, right after.
      await settleTemporal('the bare due schedules');
      const bareLatencies = await bare!.dueTogether(SIZES.due);
      const p99 = percentile(latencies, 99);
      const bareP99 = percentile(bareLatencies, 99);
      rows.push({
        scenario: `${SIZES.due} tasks due at the same time (${due.kind})`,
        figures: {
          received: latencies.length,
          p50_ms: round(percentile(latencies, 50), 0),
          p99_ms: round(p99, 0),
          max_ms: round(latencies[latencies.length - 1] ?? NaN, 0),
          baseline_received: bareLatencies.length,
          baseline_p50_ms: round(percentile(bareLatencies, 50), 0),
          baseline_p99_ms: round(bareP99, 0),
          ratio: round(p99 / bareP99, 2),
          ...(overlapped ? { note: 'fired while another scenario ran' } : {}),
        },
        target: 'all received, p99 <= 1.1x the bare p99, p99 < 4 s',
        met: latencies.length === SIZES.due && p99 <= 1.1 * bareP99 && p99 < 4_000,
      });
    };

    // --- 6. triggered deliveries, one worker ------------------------------------------------------
    const runDeliveries = async () => {
      const triggered = taskIds.slice(0, SIZES.deliveries);
      const before = await countManualLogs(orm);
      // CPU per delivery of each process: unlike the rate, it hardly depends on what else runs.
      const cpu = () => ({
        temporal: temporalPid === undefined ? NaN : cpuMs(temporalPid),
        worker: cpuMs(worker.pid!),
        api: cpuMs(api.pid!),
      });
      // What the worker spends with nothing to deliver (its timers, the bench's scrape of its
      // /metrics every second): a part of its CPU per delivery that grows with the drain time.
      const idleBefore = cpuMs(worker.pid!);
      await sleep(5_000);
      const workerIdleMsPerS = (cpuMs(worker.pid!) - idleBefore) / 5;
      const cpuBefore = cpu();
      const machineBefore = machineBusyMs();
      const threadsBefore = threadCpuMs(worker.pid!);
      const t0 = Date.now();
      const workflowIds: string[] = [];
      await forEachLimited(triggered, 16, async (id) => {
        const res = await fetch(`${base}/api/tasks/${id}/trigger`, {
          method: 'POST',
          headers: { 'X-API-Key': apiKey },
        });
        if (res.status !== 202) throw new Error(`trigger -> ${res.status}`);
        workflowIds.push(((await res.json()) as { workflowId: string }).workflowId);
      });
      log(`triggered ${workflowIds.length} deliveries`);
      const drained = await waitUntil(
        async () => (await countManualLogs(orm)) - before >= SIZES.deliveries,
        180_000,
      );
      const drainSeconds = (Date.now() - t0) / 1000;
      const attempts = (await countManualLogs(orm)) - before;
      // The workflows' last steps finish after their log rows: let the server go quiet.
      await settleTemporal('the bare workflows');
      const cpuAfter = cpu();
      const machineMs = machineBusyMs() - machineBefore;
      // The worker's CPU per delivery by thread, largest first: where its share goes.
      const threadsAfter = threadCpuMs(worker.pid!);
      const byThreadOf = (msByThread: Record<string, number>) =>
        Object.entries(msByThread)
          .map(([name, ms]) => [name, ms / SIZES.deliveries] as const)
          .filter(([, ms]) => ms >= 0.1)
          .sort((a, b) => b[1] - a[1])
          .map(([name, ms]) => `${name} ${round(ms, 1)}`)
          .join(', ');
      const byThread = byThreadOf(
        Object.fromEntries(
          Object.entries(threadsAfter).map(([name, ms]) => [name, ms - (threadsBefore[name] ?? 0)]),
        ),
      );
      // As many bare one-activity workflows on this server, right after.
      const bareTemporalBefore = temporalPid === undefined ? NaN : cpuMs(temporalPid);
      const bareMachineBefore = machineBusyMs();
      // On a bare worker in a process of its own, sized and run as ours: its CPU from /proc.
      const bareRun = await bare!.workflows(SIZES.deliveries, {
        worker: workerTuningOptions(config.worker),
        nodeArgs: [WORKER_NODE_OPTIONS, ...nodeArgsOf('worker')],
      });
      // Their last steps too, as for ours above.
      await settleTemporal('what follows the deliveries');
      const bareTemporalMs =
        (temporalPid === undefined ? NaN : cpuMs(temporalPid)) - bareTemporalBefore;
      const bareMachineMs = machineBusyMs() - bareMachineBefore;
      const perDelivery = (key: 'temporal' | 'worker' | 'api') =>
        round((cpuAfter[key] - cpuBefore[key]) / SIZES.deliveries, 2);
      const perSecond = SIZES.deliveries / drainSeconds;
      const bareWorkerMs = bareRun.workerCpuMs / SIZES.deliveries;
      const workerRatio = (cpuAfter.worker - cpuBefore.worker) / SIZES.deliveries / bareWorkerMs;
      rows.push({
        scenario: `${SIZES.deliveries} triggered deliveries, one worker`,
        figures: {
          deliveries_per_s: round(perSecond),
          drain_s: round(drainSeconds, 2),
          attempts,
          drained: drained ? 'yes' : 'timed out',
          temporal_cpu_ms_per_delivery: perDelivery('temporal'),
          worker_cpu_ms_per_delivery: perDelivery('worker'),
          worker_cpu_ms_by_thread: byThread,
          worker_idle_cpu_ms_per_s: round(workerIdleMsPerS, 1),
          api_cpu_ms_per_trigger: perDelivery('api'),
          // Every process's CPU: on 2 shared cores the rates' ratio follows these two figures'.
          machine_cpu_ms_per_delivery: round(machineMs / SIZES.deliveries, 2),
          baseline_workflows_per_s: round(bareRun.perSecond),
          baseline_temporal_cpu_ms_per_workflow: round(bareTemporalMs / SIZES.deliveries, 2),
          baseline_machine_cpu_ms_per_workflow: round(bareMachineMs / SIZES.deliveries, 2),
          baseline_worker_cpu_ms_per_workflow: round(bareWorkerMs, 2),
          baseline_worker_cpu_ms_by_thread: byThreadOf(bareRun.workerCpuMsByThread),
          ratio: round(perSecond / bareRun.perSecond, 2),
          worker_ratio: round(workerRatio, 2),
        },
        target:
          ">= 1.5x the bare one-activity workflows/s, worker CPU per delivery <= 1.5x the bare worker's per workflow, attempts = deliveries",
        met:
          drained &&
          attempts === SIZES.deliveries &&
          perSecond >= 1.5 * bareRun.perSecond &&
          workerRatio <= 1.5,
      });
    };
    // At 15/s or more here, plus as many bare workflows, the waits for quiet, the idle sample and
    // the bare worker's start.
    const deliveries: Filler[] = runs('deliveries')
      ? [{ estimateMs: (SIZES.deliveries / 15) * 1_000 + 35_000, run: runDeliveries }]
      : [];

    // Whatever fits runs while the due tasks wait for their minute; then the due tasks; then the
    // rest, in order. Quick mode's due tasks are created only when their turn comes.
    const pending = [...reads, ...deliveries];
    if (dueFull) {
      const margin = 3_000;
      for (;;) {
        const fits = pending.findIndex((f) => Date.now() + f.estimateMs + margin < dueFull.fireAt);
        if (fits < 0) break;
        await pending.splice(fits, 1)[0]!.run();
      }
      await runDue();
      if (pending.length > 0) await settleTemporal('the scenarios left');
    } else {
      for (const filler of reads) await filler.run();
      pending.splice(0, reads.length);
      await runDue();
    }
    for (const filler of pending) await filler.run();

    // --- 8. bulk create through the service, then reconcile ---------------------------------------
    const runBulk = async () => {
      const bulkStart = Date.now();
      await services.tasks.createMany(
        range(SIZES.bulk).map(
          (i) => taskBody(`bulk ${i}`) as Parameters<typeof services.tasks.create>[0],
        ),
        { concurrency: 32 },
      );
      const bulkSeconds = (Date.now() - bulkStart) / 1000;
      const { listed, tasks, listedMs, summary } = await reconcileOnceListed({
        orm,
        client: temporal.client,
        schedules: services.schedules,
        config,
        logger,
        since: Date.now(),
        capMs: 180_000,
      });
      log(`schedule list shows ${listed} of ${tasks} after ${(listedMs / 1000).toFixed(1)} s`);
      rows.push({
        scenario: `${SIZES.bulk} tasks: bulk create, then reconcile all ${summary.tasks}`,
        figures: {
          create_s: round(bulkSeconds),
          creates_per_s: round(SIZES.bulk / bulkSeconds),
          listed_after_s: round(listedMs / 1000),
          reconcile_s: round(summary.durationMs / 1000),
          changed: summary.created + summary.updated + summary.deleted,
          failed: summary.failed,
        },
        target: 'reconcile < 60 s',
        met: summary.durationMs < 60_000 && summary.failed === 0,
      });
    };
    // A bulk create that gives up (its database circuit opens when the machine is starved) is
    // reported as such; the figures measured before it still are.
    if (runs('bulk')) {
      await runBulk().catch((error: unknown) =>
        rows.push({
          scenario: `${SIZES.bulk} tasks: bulk create, then reconcile`,
          figures: { error: error instanceof Error ? error.message : String(error) },
          target: 'reconcile < 60 s',
          met: false,
        }),
      );
    }

    // --- 9. memory ------------------------------------------------------------------------------
    rows.push({
      scenario: 'peak RSS',
      figures: {
        api_mib: round(peakRssMiB(api.pid!), 0),
        worker_mib: round(peakRssMiB(worker.pid!), 0),
      },
      target: 'reported',
      met: null,
    });
    for (const role of ['api', 'worker'] as const) {
      const breakdown = memory[role].stop();
      if (!breakdown) continue;
      const { heap_committed_mib: committed, heap_used_mib: used, ...rest } = breakdown;
      rows.push({
        scenario: `${role === 'api' ? 'API' : 'worker'} memory at its peak`,
        figures: {
          ...rest,
          ...Object.fromEntries(
            Object.entries(committed).map(([space, mib]) => [
              `heap_${space}_mib`,
              `${mib} (${used[space] ?? 0} used)`,
            ]),
          ),
        },
        target: 'reported',
        met: null,
      });
    }

    const totalSeconds = (Date.now() - started) / 1000;
    await report(totalSeconds);
  } finally {
    await cleanup();
  }
}

/**
 * A role's node arguments: the profiler's under `--profile`, and BENCH_API_NODE_ARGS /
 * BENCH_WORKER_NODE_ARGS, node or V8 flags to compare, e.g.
 * BENCH_API_NODE_ARGS=--heap-growing-percent=50 (V8 flags NODE_OPTIONS does not accept). The
 * bare worker of the deliveries scenario runs with the worker's.
 */
function nodeArgsOf(role: 'api' | 'worker'): string[] {
  const profile = PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench/results/profiles')}`]
    : [];
  const extra = (process.env[`BENCH_${role.toUpperCase()}_NODE_ARGS`] ?? '')
    .split(/\s+/)
    .filter(Boolean);
  return [...profile, ...extra];
}

async function waitForHealth(base: string): Promise<void> {
  const ok = await waitUntil(
    async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200,
    60_000,
  );
  if (!ok) throw new Error('the API did not become healthy');
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

async function countManualLogs(orm: Awaited<ReturnType<typeof initOrm>>): Promise<number> {
  const [row] = await orm.em
    .getConnection()
    .execute<{ n: number }[]>(
      `select count(*)::int as n from task_logs where workflow_id like '%-manual-%'`,
    );
  return row?.n ?? 0;
}

/**
 * Tasks that all fall due at one instant: in full mode the first cron minute far enough ahead to
 * create them all; in quick mode an `@every 20s` interval
 * (epoch-aligned, so every task shares the boundary) to keep the run short. The payload carries
 * the scheduled time, the mock notes the arrival.
 */
async function scheduleDueTogether(
  post: (body: object) => Promise<{ id: string; webhookUrl: string }>,
  taskBody: (name: string, schedule?: string, content?: string) => { webhookUrl: string },
  count: number,
  discordUrl: string,
): Promise<{ taskIds: string[]; webhookIds: string[]; fireAt: number; kind: string }> {
  let schedule: string;
  let kind: string;
  let fireAt: number;
  if (QUICK) {
    schedule = '@every 20s';
    kind = '@every 20s boundary';
    fireAt = Math.ceil((Date.now() + 12_000) / 20_000) * 20_000;
  } else {
    // Enough lead to create every task before the minute starts (about 60 creates/s here).
    fireAt = Math.ceil((Date.now() + 8_000 + count * 25) / 60_000) * 60_000;
    const at = new Date(fireAt);
    schedule = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
    kind = `cron "${schedule}"`;
  }
  // By index: the creates finish out of order, and traceSlowest pairs each webhook with its task.
  const taskIds: string[] = [];
  const webhookIds: string[] = [];
  await forEachLimited(range(count), 8, async (i) => {
    const body = taskBody(`due ${i}`, schedule, '{{execution.scheduledTime}}');
    webhookIds[i] = new URL(body.webhookUrl, discordUrl).pathname.split('/')[3]!;
    taskIds[i] = (await post(body)).id;
  });
  return { taskIds, webhookIds, fireAt, kind };
}

/**
 * Logs where the slowest due runs spent their time: each one's history events, in ms from the
 * scheduled time, so a tail (a timeout, a queue) shows which step it came from.
 */
async function traceSlowest(
  client: Client,
  due: { taskIds: string[]; webhookIds: string[] },
  receipts: { webhookId: string; receivedAt: number; content: string }[],
  count = 3,
): Promise<void> {
  const slowest = receipts
    .map((r) => ({ ...r, late: lateness(r) }))
    .sort((a, b) => b.late - a.late)
    .slice(0, count);
  for (const receipt of slowest) {
    const scheduleId = scheduleIdForTask(due.taskIds[due.webhookIds.indexOf(receipt.webhookId)]!);
    const scheduledAt = Date.parse(receipt.content);
    /** A workflow's events from 2 s before the scheduled time, as TYPE@ms after it. */
    const timeline = async (workflowId: string) =>
      ((await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [])
        .map((event) => ({
          type: temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? String(event.eventType),
          at: tsToMs(event.eventTime) - scheduledAt,
        }))
        .filter((event) => event.at > -2_000)
        .map((event) => `${event.type.replace('EVENT_TYPE_', '')}@${Math.round(event.at)}`)
        .join(' ');
    try {
      log(`slow due run, ${receipt.late} ms late (${scheduleId}):`);
      // The schedule's own workflow: when its timer fired and when it started the run.
      log(`  its scheduler: ${await timeline(`temporal-sys-scheduler:${scheduleId}`)}`);
      for await (const execution of client.workflow.list({
        query: `TemporalScheduledById = '${scheduleId}'`,
      })) {
        log(`  its run: ${await timeline(execution.workflowId)}`);
      }
    } catch (error) {
      log(`  could not trace it: ${String(error)}`);
    }
  }
}

/** How late a due run arrived: its message's content is the time it was scheduled for. */
function lateness(receipt: { receivedAt: number; content: string }): number {
  return receipt.receivedAt - Date.parse(receipt.content);
}

function firstReceipts<T extends { webhookId: string; receivedAt: number }>(
  receipts: T[],
  ids: Set<string>,
): T[] {
  const seen = new Map<string, T>();
  for (const r of receipts)
    if (ids.has(r.webhookId) && !seen.has(r.webhookId)) seen.set(r.webhookId, r);
  return [...seen.values()];
}

/** Waits until `pid` uses under 15 % of a core over a second (or `timeoutMs`); returns the wait. */
async function settle(pid: number, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const before = cpuMs(pid);
    await sleep(1_000);
    if (cpuMs(pid) - before < 150) break;
  }
  return Date.now() - start;
}

/** A scenario that can run while the due tasks wait for their minute. */
interface Filler {
  /** Generous estimate of its duration, so that it ends before the minute starts. */
  estimateMs: number;
  run: () => Promise<void>;
}

const range = (n: number) => Array.from({ length: Math.max(0, n) }, (_, i) => i);

/** Report order, whatever order the scenarios ran in: by the start of their names. */
const REPORT_ORDER = [
  /sequential POST/,
  /tasks due/,
  /^GET \/api\/tasks\?/,
  /^GET \/api\/tasks\/:id/,
  /^GET \/api\/logs/,
  /^GET \/health/,
  /deliveries/,
  /bulk create/,
  /peak RSS/,
];
const reportRank = (row: Row) => {
  const rank = REPORT_ORDER.findIndex((pattern) => pattern.test(row.scenario));
  return rank < 0 ? REPORT_ORDER.length : rank;
};

async function report(totalSeconds: number): Promise<void> {
  rows.sort((a, b) => reportRank(a) - reportRank(b));
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${round(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`;
  const lines = [
    '',
    `Discord Task Scheduler benchmark (${QUICK ? 'quick' : 'full'}) on ${machine}`,
    '',
    '| scenario | figures | target | met |',
    '|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${Object.entries(r.figures)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} | ${r.target} | ${r.met === null ? '-' : r.met ? 'yes' : 'no'} |`,
    ),
    '',
    `total ${totalSeconds.toFixed(0)} s`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const out = path.join(ROOT, 'bench', 'results');
  await fs.mkdir(out, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    machine,
    totalSeconds,
    scenarios: rows,
  };
  const file = ONLY
    ? `partial-${[...ONLY].join('-')}.json`
    : QUICK
      ? 'latest-quick.json'
      : 'latest.json';
  // `--only scale` and `--only fleet` keep their figures under their own keys of this file
  // (`scale`, `fleet` and `fleet_growth`): carry them over.
  const { scale, fleet, fleet_growth } = await fs
    .readFile(path.join(out, file), 'utf8')
    .then(
      (text) => JSON.parse(text) as { scale?: unknown; fleet?: unknown; fleet_growth?: unknown },
    )
    .catch(() => ({ scale: undefined, fleet: undefined, fleet_growth: undefined }));
  await fs.writeFile(
    path.join(out, file),
    JSON.stringify({ ...json, scale, fleet, fleet_growth }, null, 2) + '\n',
  );
  log(`wrote bench/results/${file}`);
}

// `--only scale` (issue 14): ten million logs, with its own services and seed (bench/scale.ts).
const scale = () =>
  import('./scale.js').then((bench) =>
    bench.runScaleBench({ quick: QUICK, fromSources: process.argv.includes('--from-sources') }),
  );

// `--only fleet` (issue 25): the cost of many waiting tasks, with its own services (bench/fleet.ts);
// beside other scenarios (`--only deliveries,fleet`) it runs after them.
const fleet = () =>
  import('./fleet.js').then((bench) =>
    bench.runFleetBench(
      bench.fleetOptions(process.argv, { quick: QUICK, fromSources: FROM_SOURCES }),
    ),
  );

(ONLY?.has('scale')
  ? scale()
  : ONLY?.has('fleet')
    ? (ONLY.size > 1 ? main() : Promise.resolve()).then(fleet)
    : main()
).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
