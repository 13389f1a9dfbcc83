/**
 * The bare Temporal server's own figures, with none of our code in the path: one-activity
 * workflows on a worker of their own, and bare schedules due on one second. `npm run bench` runs
 * them on its own server right after the matching scenario (same server, same dynamic config,
 * same minute), so that its figures are ratios to what the server itself does that day;
 * bench/temporal-baseline.ts runs them on a server of its own.
 */
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
} from '@temporalio/worker';
import { forEachLimited } from '../src/concurrency';

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

export interface BareTemporal {
  readonly client: Client;
  readonly taskQueue: string;
  /** `count` one-activity workflows started at once: how many complete per second. */
  workflows(count: number): Promise<{ seconds: number; perSecond: number }>;
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

  return {
    client,
    taskQueue,
    async workflows(count) {
      const started = Date.now();
      const handles = await Promise.all(
        range(count).map((i) =>
          client.workflow.start('baseline', {
            taskQueue,
            workflowId: `bare-${i}-${randomBytes(4).toString('hex')}`,
          }),
        ),
      );
      await Promise.all(handles.map((h) => h.result()));
      const seconds = (Date.now() - started) / 1000;
      return { seconds, perSecond: count / seconds };
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
