/**
 * `npx tsx bench/temporal-baseline.ts [count]`: the Temporal dev server's own ceiling on this
 * machine, with none of our code in the path: `count` workflows that run one no-op activity,
 * on one worker; `count` bare schedule creations; sequential creations and describes; and up to
 * 200 bare schedules due on the same second. Compare with `npm run bench`'s deliveries, creates
 * and due tasks to tell the server's limit from ours.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { forEachLimited } from '../src/concurrency';
import { loadDynamicConfig } from '../src/embedded/dynamic-config';
import { ensureTemporalCli } from '../src/embedded/temporal-cli';
import {
  DEFAULT_SQLITE_PRAGMAS,
  startTemporalDevServer,
} from '../src/embedded/temporal-dev-server';
import { dynamicConfigFlags, startBareTemporal } from './baseline';

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

/**
 * `--dynamic-config key=json` (repeatable): dynamic config for the dev server over the shipped
 * deploy/temporal/dynamicconfig.yaml, to try its knobs, e.g.
 * `--dynamic-config worker.schedulerNamespaceStartWorkflowRPS=30`; `--server-defaults` leaves the
 * shipped file out.
 */
const DYNAMIC_CONFIG_FLAGS = dynamicConfigFlags(process.argv);
const DYNAMIC_CONFIG = {
  ...(process.argv.includes('--server-defaults') ? {} : loadDynamicConfig()),
  ...DYNAMIC_CONFIG_FLAGS,
};
const DUE_COUNT = Math.min(COUNT, 200);

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-baseline-'));
  const cli = await ensureTemporalCli();
  const dev = await startTemporalDevServer({
    cliPath: cli.path,
    uiPort: false,
    dbFilename: path.join(tmp, 'temporal.db'),
    sqlitePragmas: PRAGMAS,
    dynamicConfig: DYNAMIC_CONFIG,
  });
  console.log(`dev server pragmas: ${JSON.stringify(PRAGMAS ?? DEFAULT_SQLITE_PRAGMAS)}`);
  console.log(`dev server dynamic config: ${JSON.stringify(DYNAMIC_CONFIG)}`);
  const bare = await startBareTemporal(dev.address);
  const { client, taskQueue } = bare;
  try {
    {
      const { seconds } = await bare.workflows(COUNT);
      console.log(
        `${COUNT} no-op workflows with one activity: ${seconds.toFixed(1)} s, ${(COUNT / seconds).toFixed(1)}/s`,
      );

      const createStart = Date.now();
      await forEachLimited(range(COUNT), 32, async (i) => {
        await client.schedule.create({
          scheduleId: `baseline-${i}`,
          spec: { intervals: [{ every: '365d' }] },
          action: { type: 'startWorkflow', workflowType: 'baseline', taskQueue, args: [] },
          state: { paused: true },
        });
      });
      const createSeconds = (Date.now() - createStart) / 1000;
      console.log(
        `${COUNT} schedule creations (32 at a time): ${createSeconds.toFixed(1)} s, ${(COUNT / createSeconds).toFixed(1)}/s`,
      );

      // One at a time, as the API's sequential-create scenario does: the server's own latency,
      // for the creation and for the describe that reads the next fire time back.
      const creates: number[] = [];
      const describes: number[] = [];
      for (let i = 0; i < Math.min(COUNT, 200); i++) {
        const t0 = performance.now();
        const handle = await client.schedule.create({
          scheduleId: `baseline-sequential-${i}`,
          spec: { calendars: [{ comment: 'yearly', month: 'JANUARY', dayOfMonth: 1 }] },
          action: { type: 'startWorkflow', workflowType: 'baseline', taskQueue, args: [] },
        });
        const t1 = performance.now();
        await handle.describe();
        creates.push(t1 - t0);
        describes.push(performance.now() - t1);
      }
      console.log(
        `${creates.length} sequential schedule creations: ${percentiles(creates, 1)}; each then described: ${percentiles(describes, 1)}`,
      );

      // Bare schedules all due on one second, a calendar far enough ahead to create them first:
      // the time from that second to each no-op activity's start.
      const latencies = await bare.dueTogether(DUE_COUNT);
      console.log(
        `${DUE_COUNT} schedules due on one second: ${latencies.length} ran; from that second to the activity: ${percentiles(latencies, 0)}`,
      );
    }
  } finally {
    await bare.close();
    await dev.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function percentiles(values: number[], digits: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    (sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN).toFixed(digits);
  return `p50 ${at(50)} ms, p99 ${at(99)} ms, max ${at(100)} ms`;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
