/**
 * `npx tsx bench/temporal-baseline.ts [count]`: the Temporal dev server's own ceiling on this
 * machine, with none of our code in the path: `count` workflows that run one no-op activity,
 * on one worker, and `count` bare schedule creations. Compare with `npm run bench`'s deliveries
 * and creates to tell the server's limit from ours.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { ensureTemporalCli } from '../src/embedded/temporal-cli';
import {
  DEFAULT_SQLITE_PRAGMAS,
  startTemporalDevServer,
} from '../src/embedded/temporal-dev-server';

const COUNT = Number(process.argv[2] ?? 300);
/**
 * `--pragma name=value` (repeatable): SQLite pragmas for the dev server's state store instead of
 * our default (DEFAULT_SQLITE_PRAGMAS); `--pragma none` for SQLite's own defaults.
 */
const PRAGMA_ARGS = process.argv.flatMap((arg, i, all) =>
  arg === '--pragma' && all[i + 1] ? [all[i + 1] as string] : [],
);
const PRAGMAS: Record<string, string> | undefined = PRAGMA_ARGS.includes('none')
  ? {}
  : PRAGMA_ARGS.length === 0
    ? undefined
    : Object.fromEntries(PRAGMA_ARGS.map((pair) => pair.split('=', 2) as [string, string]));

const WORKFLOW_SOURCE = `
const { proxyActivities } = require('@temporalio/workflow');
const { noop } = proxyActivities({ startToCloseTimeout: '10s' });
async function baseline() { await noop(); }
module.exports = { baseline };
`;

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-baseline-'));
  const cli = await ensureTemporalCli();
  const dev = await startTemporalDevServer({
    cliPath: cli.path,
    uiPort: false,
    dbFilename: path.join(tmp, 'temporal.db'),
    sqlitePragmas: PRAGMAS,
  });
  console.log(`dev server pragmas: ${JSON.stringify(PRAGMAS ?? DEFAULT_SQLITE_PRAGMAS)}`);
  try {
    const workflowsPath = path.join(tmp, 'baseline-workflows.js');
    await fs.writeFile(workflowsPath, WORKFLOW_SOURCE);
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath,
      webpackConfigHook: (config) => ({
        ...config,
        resolve: { ...config.resolve, modules: [path.resolve(__dirname, '../node_modules')] },
      }),
    });
    const taskQueue = `baseline-${randomBytes(4).toString('hex')}`;
    const nativeConnection = await NativeConnection.connect({ address: dev.address });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle,
      activities: { noop: async () => undefined },
    });
    const connection = await Connection.connect({ address: dev.address });
    const client = new Client({ connection });

    await worker.runUntil(async () => {
      const started = Date.now();
      const handles = await Promise.all(
        Array.from({ length: COUNT }, (_, i) =>
          client.workflow.start('baseline', {
            taskQueue,
            workflowId: `baseline-${i}-${randomBytes(4).toString('hex')}`,
          }),
        ),
      );
      await Promise.all(handles.map((h) => h.result()));
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `${COUNT} no-op workflows with one activity: ${seconds.toFixed(1)} s, ${(COUNT / seconds).toFixed(1)}/s`,
      );

      const createStart = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < COUNT) {
            const i = next++;
            await client.schedule.create({
              scheduleId: `baseline-${i}`,
              spec: { intervals: [{ every: '365d' }] },
              action: { type: 'startWorkflow', workflowType: 'baseline', taskQueue, args: [] },
              state: { paused: true },
            });
          }
        }),
      );
      const createSeconds = (Date.now() - createStart) / 1000;
      console.log(
        `${COUNT} schedule creations (32 at a time): ${createSeconds.toFixed(1)} s, ${(COUNT / createSeconds).toFixed(1)}/s`,
      );

      // One at a time, as the API's sequential-create scenario does: the server's own latency.
      const latencies: number[] = [];
      for (let i = 0; i < Math.min(COUNT, 200); i++) {
        const t0 = performance.now();
        await client.schedule.create({
          scheduleId: `baseline-sequential-${i}`,
          spec: { calendars: [{ comment: 'yearly', month: 'JANUARY', dayOfMonth: 1 }] },
          action: { type: 'startWorkflow', workflowType: 'baseline', taskQueue, args: [] },
        });
        latencies.push(performance.now() - t0);
      }
      latencies.sort((a, b) => a - b);
      const at = (p: number) => latencies[Math.ceil((p / 100) * latencies.length) - 1]!.toFixed(1);
      console.log(
        `${latencies.length} sequential schedule creations: p50 ${at(50)} ms, p99 ${at(99)} ms`,
      );
    });
    await connection.close();
    await nativeConnection.close();
  } finally {
    await dev.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
