/**
 * The bare Temporal server's own figures, with none of our code in the path: one-activity
 * workflows on a worker of their own, and bare schedules due on one second. `npm run bench` runs
 * them on its own server right after the matching scenario (same server, same dynamic config,
 * same minute), so that its figures are ratios to what the server itself does that day;
 * bench/temporal-baseline.ts runs them on a server of its own.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, MONTHS } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { forEachLimited } from '../src/concurrency';
import { cpuMs, threadCpuMs } from './proc';

const WORKFLOW_SOURCE = `
const { proxyActivities } = require('@temporalio/workflow');
const { noop } = proxyActivities({ startToCloseTimeout: '10s' });
async function baseline() { await noop(); }
module.exports = { baseline };
`;

/** `--dynamic-config key=json` arguments (repeatable) as dynamic config values. */
export function dynamicConfigFlags(argv: string[]): Record<string, unknown> {
  return Object.fromEntries(
    argv.flatMap((arg, i, all) => {
      const pair = arg === '--dynamic-config' ? all[i + 1] : undefined;
      if (!pair?.includes('=')) return [];
      const at = pair.indexOf('=');
      return [[pair.slice(0, at), JSON.parse(pair.slice(at + 1)) as unknown]];
    }),
  );
}

/** What bench/bare-worker.ts is started with (one JSON argument). */
export interface BareWorkerArgs {
  address: string;
  namespace: string;
  taskQueue: string;
  bundlePath: string;
  /** Worker options that are plain values: our worker's sizing (WORKER_*). */
  options: Partial<WorkerOptions>;
}

export interface BareWorkflowsOptions {
  /** The worker's sizing, as ours has it (`workerTuningOptions`); the SDK's defaults otherwise. */
  worker?: Partial<WorkerOptions>;
  /** Node and V8 flags of the worker's process, as ours runs with. */
  nodeArgs?: string[];
}

export interface BareWorkflowsRun {
  seconds: number;
  perSecond: number;
  /** The bare worker's CPU (user + system, its own process) over the workflows, in ms. */
  workerCpuMs: number;
  /** The same by thread name (main, the workflow thread, the SDK's Rust runtime, ...). */
  workerCpuMsByThread: Record<string, number>;
}

export interface BareTemporal {
  readonly client: Client;
  readonly taskQueue: string;
  /**
   * `count` one-activity workflows started at once on a bare worker in a process of its own
   * (bench/bare-worker.ts): how many complete per second, and that worker's CPU from /proc, from
   * the first start until it is quiet again.
   */
  workflows(count: number, options?: BareWorkflowsOptions): Promise<BareWorkflowsRun>;
  /**
   * `count` schedules due on one second (a calendar far enough ahead to create them all first):
   * from that second to each activity's start, in ms, sorted. The schedules are deleted after.
   */
  dueTogether(count: number): Promise<number[]>;
  close(): Promise<void>;
}

export async function startBareTemporal(
  address: string,
  namespace = 'default',
): Promise<BareTemporal> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-bare-'));
  const workflowsPath = path.join(tmp, 'baseline-workflows.js');
  await fs.writeFile(workflowsPath, WORKFLOW_SOURCE);
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath,
    logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
    webpackConfigHook: (config) => ({
      ...config,
      resolve: { ...config.resolve, modules: [path.resolve(__dirname, '../node_modules')] },
    }),
  });
  try {
    // The SDK's INFO lines (worker state) would interleave with the bench's table.
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Installed already (by the caller): its logger stays.
  }
  const taskQueue = `bare-${randomBytes(4).toString('hex')}`;
  const ranAt: number[] = [];
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle,
    activities: {
      noop: async () => {
        ranAt.push(Date.now());
      },
    },
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  // The bundle the bare worker's process loads, built once here (as ours is by `npm run build`).
  const bundlePath = path.join(tmp, 'baseline-bundle.js');
  await fs.writeFile(bundlePath, workflowBundle.code);

  return {
    client,
    taskQueue,
    async workflows(count, options = {}) {
      const queue = `bare-workflows-${randomBytes(4).toString('hex')}`;
      const child = await startBareWorker(
        { address, namespace, taskQueue: queue, bundlePath, options: options.worker ?? {} },
        options.nodeArgs ?? [],
      );
      try {
        await untilPolling(client, namespace, queue);
        const cpuBefore = cpuMs(child.pid);
        const threadsBefore = threadCpuMs(child.pid);
        const started = Date.now();
        const handles = await Promise.all(
          range(count).map((i) =>
            client.workflow.start('baseline', {
              taskQueue: queue,
              workflowId: `bare-${i}-${randomBytes(4).toString('hex')}`,
            }),
          ),
        );
        await Promise.all(handles.map((h) => h.result()));
        const seconds = (Date.now() - started) / 1000;
        // Its last steps after the results (cache evictions, completions), as ours gets.
        await quiet(child.pid);
        const threadsAfter = threadCpuMs(child.pid);
        return {
          seconds,
          perSecond: count / seconds,
          workerCpuMs: cpuMs(child.pid) - cpuBefore,
          workerCpuMsByThread: Object.fromEntries(
            Object.entries(threadsAfter).map(([name, ms]) => [
              name,
              ms - (threadsBefore[name] ?? 0),
            ]),
          ),
        };
      } finally {
        await child.stop();
      }
    },
    async dueTogether(count) {
      ranAt.length = 0;
      const fireAt = Math.ceil((Date.now() + 10_000 + count * 50) / 10_000) * 10_000;
      const due = new Date(fireAt);
      const calendar = {
        second: due.getUTCSeconds(),
        minute: due.getUTCMinutes(),
        hour: due.getUTCHours(),
        dayOfMonth: due.getUTCDate(),
        month: MONTHS[due.getUTCMonth()],
      };
      const ids = range(count).map((i) => `bare-due-${i}-${randomBytes(4).toString('hex')}`);
      await forEachLimited(ids, 16, async (scheduleId) => {
        await client.schedule.create({
          scheduleId,
          spec: { calendars: [calendar] },
          action: { type: 'startWorkflow', workflowType: 'baseline', taskQueue, args: [] },
        });
      });
      while (ranAt.length < count && Date.now() < fireAt + 120_000)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const latencies = ranAt.map((t) => t - fireAt).sort((a, b) => a - b);
      await forEachLimited(ids, 16, (id) => client.schedule.getHandle(id).delete());
      return latencies;
    },
    async close() {
      worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      await nativeConnection.close();
      await fs.rm(tmp, { recursive: true, force: true });
    },
  };
}

/** Starts bench/bare-worker.ts under tsx with these node flags; resolves once its worker runs. */
async function startBareWorker(
  args: BareWorkerArgs,
  nodeArgs: string[],
): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(__dirname, 'bare-worker.ts'), JSON.stringify(args)],
    { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('polling\n')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the bare worker exited (${code})`)));
      setTimeout(() => reject(new Error('the bare worker did not start in 60 s')), 60_000).unref();
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid!, stop };
}

/** Waits until a worker polls the task queue's workflow tasks. */
async function untilPolling(client: Client, namespace: string, taskQueue: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { pollers } = await client.connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    if ((pollers?.length ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no worker polls ${taskQueue}`);
}

/** Waits until `pid` uses under 15 % of a core over a second (30 s at most), as the bench's settle. */
async function quiet(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const before = cpuMs(pid);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    if (cpuMs(pid) - before < 150) return;
  }
}
