import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initOrm, type Orm } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { ensureTemporalCli } from '../../src/embedded/temporal-cli';
import {
  startTemporalDevServer,
  type TemporalDevServer,
} from '../../src/embedded/temporal-dev-server';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { type OwnPostgres, startOwnPostgres } from '../helpers/own-postgres';
import { callApi, createProduct, killTree, type Product, waitFor } from '../helpers/product';
import {
  expectMissedRunPolicy,
  ledgerFor,
  scheduledTimeOf,
  type TaskLedger,
  totals,
} from './run-ledger';

/**
 * SPEC §6 "our outages" and "missed runs", with the product started as a user starts it and
 * tasks firing every 10 s into a local mock Discord. Each scenario cuts one dependency, counts
 * what fell due, what Discord received and what was logged, and holds the product to:
 * no task FAILED, no FAILED row, no duplicate, one SUCCESS row per delivery; of the runs that fell
 * due while we were down exactly one, the latest, is delivered; every other run is delivered.
 */

jest.setTimeout(10 * 60_000);

const PERIOD_MS = 10_000;
const TASKS = 10;

let mock: MockDiscord;

beforeAll(async () => {
  mock = await startMockDiscord();
});

afterAll(async () => {
  await mock?.close();
});

interface Api {
  url: string;
  key: string;
}

const api = <T>(target: Api, method: string, route: string, body?: unknown) =>
  callApi<T>({ url: target.url, apiKey: target.key }, method, route, body);

/** Creates the tasks and returns their ids with their webhook ids; the first run due for each. */
async function createTasks(
  target: Api,
  label: string,
): Promise<{ id: string; webhookId: string }[]> {
  const tasks: { id: string; webhookId: string }[] = [];
  for (let i = 0; i < TASKS; i++) {
    const webhookUrl = mock.webhookUrl();
    const webhookId = webhookUrl.split('/').at(-2) as string;
    const created = await api<{ id: string }>(target, 'POST', '/api/tasks', {
      name: `${label} ${i}`,
      schedule: '@every 10s',
      webhookUrl,
      payload: { content: 'run {{execution.scheduledTime}}' },
      maxRetry: 2,
    });
    expect(created.status).toBe(201);
    tasks.push({ id: created.body.id, webhookId });
  }
  return tasks;
}

async function databaseFigures(orm: Orm, taskIds: string[]) {
  const connection = orm.em.fork().getConnection();
  const rows = await connection.execute<
    { task_id: string; status: string; scheduled_time: string | Date | null }[]
  >('select task_id, status, scheduled_time from task_logs where task_id = any(?::uuid[])', [
    `{${taskIds.join(',')}}`,
  ]);
  const statuses = await connection.execute<{ status: string; n: string }[]>(
    'select status, count(*) as n from tasks where id = any(?::uuid[]) group by status',
    [`{${taskIds.join(',')}}`],
  );
  return { rows, statuses: Object.fromEntries(statuses.map((s) => [s.status, Number(s.n)])) };
}

const nextDue = (ms: number) => Math.ceil(ms / PERIOD_MS) * PERIOD_MS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts, prints and checks one scenario. */
async function account(options: {
  scenario: string;
  orm: Orm;
  tasks: { id: string; webhookId: string }[];
  firstDueMs: number;
  outageStartMs: number;
  recoveredMs: number;
}): Promise<TaskLedger[]> {
  // Runs due until 15 s ago have had time to arrive.
  const cutOffMs = Date.now() - 15_000;
  const { rows, statuses } = await databaseFigures(
    options.orm,
    options.tasks.map((t) => t.id),
  );
  const ledgers = options.tasks.map((task) =>
    ledgerFor({
      taskId: task.id,
      periodMs: PERIOD_MS,
      firstDueMs: options.firstDueMs,
      cutOffMs,
      outageStartMs: options.outageStartMs,
      recoveredMs: options.recoveredMs,
      requests: mock.requests(task.webhookId).filter((r) => scheduledTimeOf(r) <= cutOffMs),
      successRows: rows
        .filter((row) => row.task_id === task.id && row.status === 'SUCCESS' && row.scheduled_time)
        .map((row) => new Date(row.scheduled_time as string).getTime()),
    }),
  );
  const failedRows = rows.filter((row) => row.status === 'FAILED').length;
  console.log(
    `[faults] ${options.scenario}: ${JSON.stringify({
      ...totals(ledgers),
      failedRows,
      taskStatuses: statuses,
      outageSeconds: Math.round((options.recoveredMs - options.outageStartMs) / 1000),
    })}`,
  );
  expect(statuses).toEqual({ ACTIVE: TASKS });
  expect(failedRows).toBe(0);
  expectMissedRunPolicy(ledgers);
  return ledgers;
}

describe('the database killed for 60 s (an external PostgreSQL, as in production)', () => {
  let dir: string;
  let postgres: OwnPostgres | undefined;
  let product: Product | undefined;
  let orm: Orm | undefined;

  afterAll(async () => {
    await product?.dispose();
    await orm?.close(true);
    await postgres?.stop().catch(() => undefined);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('when PostgreSQL is SIGKILLed for 60 s, then no task fails, the missed runs come down to the latest one, and every other run is delivered once and logged', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-faults-pg-'));
    await fs.chmod(dir, 0o755);
    const port = await getFreePort();
    const startPostgres = () =>
      startOwnPostgres({ dataDir: path.join(dir, 'data'), port, database: 'scheduler_faults' });
    postgres = await startPostgres();
    product = await createProduct({
      env: { DATABASE_URL: postgres.databaseUrl, WEBHOOK_ALLOWED_ORIGINS: mock.url },
    });
    await product.start();
    orm = await initOrm({ databaseUrl: postgres.databaseUrl, poolMax: 2 });
    const target = { url: product.url, key: product.apiKey };

    const tasks = await createTasks(target, 'db-kill');
    const firstDueMs = nextDue(Date.now());
    await sleep(firstDueMs + 3 * PERIOD_MS - Date.now() + 2_000);

    const outageStartMs = Date.now();
    process.kill(postgres.pid, 'SIGKILL');
    await postgres.stop();
    await sleep(60_000);
    postgres = await startPostgres();
    const recoveredMs = Date.now();
    await sleep(50_000);

    await account({
      scenario: 'database killed 60 s',
      orm,
      tasks,
      firstDueMs,
      outageStartMs,
      recoveredMs,
    });
  });
});

describe('the whole app SIGKILLed for 30 s', () => {
  let product: Product | undefined;
  let orm: Orm | undefined;

  afterAll(async () => {
    await orm?.close(true);
    await product?.dispose();
  });

  it('when every process of npm start is SIGKILLed and started again 30 s later, then the missed runs come down to the latest one and no on-time run after the restart is lost', async () => {
    product = await createProduct({ env: { WEBHOOK_ALLOWED_ORIGINS: mock.url } });
    await product.start();
    const target = { url: product.url, key: product.apiKey };
    const tasks = await createTasks(target, 'app-kill');
    const firstDueMs = nextDue(Date.now());
    await sleep(firstDueMs + 3 * PERIOD_MS - Date.now() + 2_000);

    const outageStartMs = Date.now();
    const running = product.process;
    if (!running?.child.pid) throw new Error('the product is not running');
    killTree(running.child.pid);
    await running.exited;
    await sleep(30_000);
    await product.start();
    const recoveredMs = Date.now();
    await sleep(50_000);

    const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${product.ports.postgres}/scheduler`;
    orm = await initOrm({ databaseUrl, poolMax: 2 });
    await account({
      scenario: 'whole app SIGKILLed 30 s',
      orm,
      tasks,
      firstDueMs,
      outageStartMs,
      recoveredMs,
    });
  });
});

describe('the Temporal dev server killed', () => {
  let product: Product | undefined;
  let orm: Orm | undefined;

  afterAll(async () => {
    await orm?.close(true);
    await product?.dispose();
  });

  it('when the embedded Temporal dev server is SIGKILLed, then it comes back by itself, no task fails, and the missed runs come down to the latest one', async () => {
    product = await createProduct({ env: { WEBHOOK_ALLOWED_ORIGINS: mock.url } });
    await product.start();
    const target = { url: product.url, key: product.apiKey };
    const tasks = await createTasks(target, 'temporal-kill');
    const firstDueMs = nextDue(Date.now());
    await sleep(firstDueMs + 3 * PERIOD_MS - Date.now() + 2_000);

    const outageStartMs = Date.now();
    process.kill(product.temporalPid(), 'SIGKILL');
    const recoveredMs = await waitFor(
      'the dev server to be restarted and /health to say ok',
      async () => {
        const health = await fetch(`${product!.url}/health`, {
          signal: AbortSignal.timeout(2_000),
        });
        return health.status === 200 ? Date.now() : undefined;
      },
      120_000,
      500,
    );
    await sleep(50_000);

    const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${product.ports.postgres}/scheduler`;
    orm = await initOrm({ databaseUrl, poolMax: 2 });
    await account({
      scenario: 'Temporal dev server killed',
      orm,
      tasks,
      firstDueMs,
      outageStartMs,
      recoveredMs,
    });
  });
});

describe('an external Temporal server down for 2 minutes', () => {
  let dir: string;
  let temporal: TemporalDevServer | undefined;
  let product: Product | undefined;
  let orm: Orm | undefined;

  afterAll(async () => {
    await product?.dispose();
    await orm?.close(true);
    await temporal?.stop().catch(() => undefined);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('when the Temporal server is SIGKILLed for 2 minutes and started again, then its schedules catch up with the latest missed run only, and no task fails', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-faults-temporal-'));
    const cli = await ensureTemporalCli({ log: () => undefined });
    const port = await getFreePort();
    const startTemporal = () =>
      startTemporalDevServer({
        cliPath: cli.path,
        dbFilename: path.join(dir, 'temporal.db'),
        port,
        uiPort: false,
      });
    temporal = await startTemporal();
    product = await createProduct({
      env: { TEMPORAL_ADDRESS: temporal.address, WEBHOOK_ALLOWED_ORIGINS: mock.url },
    });
    await product.start();
    const target = { url: product.url, key: product.apiKey };
    const tasks = await createTasks(target, 'temporal-down');
    const firstDueMs = nextDue(Date.now());
    await sleep(firstDueMs + 3 * PERIOD_MS - Date.now() + 2_000);

    const outageStartMs = Date.now();
    process.kill(temporal.pid, 'SIGKILL');
    await temporal.exited;
    await sleep(120_000);
    temporal = await startTemporal();
    const recoveredMs = Date.now();
    await sleep(60_000);

    const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${product.ports.postgres}/scheduler`;
    orm = await initOrm({ databaseUrl, poolMax: 2 });
    const ledgers = await account({
      scenario: 'external Temporal down 2 min',
      orm,
      tasks,
      firstDueMs,
      outageStartMs,
      recoveredMs,
    });
    // The outage was long enough to miss several runs per task.
    for (const ledger of ledgers) expect(ledger.missed).toBeGreaterThanOrEqual(10);
  });
});
