import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { loadOpenApiDocument } from '../../src/api/openapi';
import { ensureDatabase, initOrm, type Orm } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { ensureTemporalCli } from '../../src/embedded/temporal-cli';
import {
  ensureTemporalServer,
  TEMPORAL_HISTORY_SHARDS,
  TEMPORAL_SERVER_VERSION,
} from '../../src/embedded/temporal-server';
import { SCHEDULE_ID_PREFIX, scheduleIdForTask } from '../../src/temporal/contracts';
import { ledgerFor, scheduledTimeOf, totals } from '../faults/run-ledger';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { type OwnPostgres, startOwnPostgres } from '../helpers/own-postgres';
import { ROOT } from '../helpers/process';
import { waitFor } from '../helpers/product';
import { ensureRedisServer, type RedisServer, startRedisServer } from '../helpers/redis-server';
import {
  type AppProcess,
  logLines,
  runDeployScript,
  startApp,
  startTemporalServer,
  stopProcess,
  type TemporalServerProcess,
  writeNcShim,
} from './cluster';

/**
 * SPEC §11: the production topology of the compose files, run as processes. A real Temporal server
 * (not the dev server) on PostgreSQL with several history shards and the compose files' dynamic
 * config, its schema set up and its namespace registered by deploy/temporal/*.sh, Redis, two API
 * processes and two workers started as the image starts them (`npm run start:prod`), and a mock
 * Discord. Each test proves one thing a deployment relies on and prints its figures.
 */

jest.setTimeout(15 * 60_000);

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => console.log(`[topology] ${line}`);

/** One key per scenario: the per-key rate limit then bounds each scenario on its own. */
const KEYS = {
  routes: 'topology-routes-key-0123456789',
  limit: 'topology-limit-key-0123456789',
  burst: 'topology-burst-key-0123456789',
  roll: 'topology-roll-key-01234567890',
  throughput: 'topology-throughput-key-012345',
  traffic: 'topology-traffic-key-0123456789',
  pacing: 'topology-pacing-key-01234567890',
  byTask: 'topology-by-task-key-0123456789',
};
const RATE_LIMIT_PER_MINUTE = 1000;
/** ENCRYPTION_KEYS of every API and worker of the cluster. */
const TOPOLOGY_ENCRYPTION_KEY = Buffer.alloc(32, 9);
const PERIOD_MS = 10_000;

let dir: string;
let postgres: OwnPostgres | undefined;
let temporal: TemporalServerProcess | undefined;
let redis: RedisServer | undefined;
let mock: MockDiscord;
let orm: Orm | undefined;
let connection: Connection | undefined;
let client: Client;
let appEnv: NodeJS.ProcessEnv;
let temporalCliPath: string;
/** The running API and worker processes by name; a restart replaces the entry. */
const apps = new Map<string, AppProcess>();
const ports = new Map<string, number>();
const startFigures: Record<string, unknown> = {};

const apis = () => [apps.get('api-1')!, apps.get('api-2')!];

async function api<T = unknown>(
  target: AppProcess,
  key: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(`${target.url}${route}`, {
    method,
    headers: { 'X-API-Key': key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // text (metrics, HTML)
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** Runs `work` over `items`, `limit` at a time. */
async function eachLimited<T>(
  items: T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index] as T, index);
      }
    }),
  );
}

async function createTasks(
  count: number,
  key: string,
  body: (i: number) => Record<string, unknown>,
): Promise<{ id: string; webhookId: string }[]> {
  const tasks: { id: string; webhookId: string }[] = new Array(count);
  await eachLimited([...Array(count).keys()], 8, async (i) => {
    const fields = body(i);
    const webhookUrl = (fields.webhookUrl as string | undefined) ?? mock.webhookUrl();
    const created = await api<{ id: string }>(apis()[i % 2]!, key, 'POST', '/api/tasks', {
      webhookUrl,
      maxRetry: 3,
      ...fields,
    });
    if (created.status !== 201)
      throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
    tasks[i] = { id: created.body.id, webhookId: webhookUrl.split('/').at(-2) as string };
  });
  return tasks;
}

async function logRows(taskIds: string[]) {
  return orm!.em
    .fork()
    .getConnection()
    .execute<{ task_id: string; status: string; scheduled_time: string | Date | null }[]>(
      'select task_id, status, scheduled_time from task_logs where task_id = any(?::uuid[])',
      [`{${taskIds.join(',')}}`],
    );
}

/** One row of /proc/net/tcp{,6}: a TCP socket of this machine's network namespace. */
interface TcpSocket {
  localPort: number;
  remotePort: number;
  /** Bytes written and not yet acknowledged by the peer. */
  txQueue: number;
  /** Bytes received and not yet read by the owning process. */
  rxQueue: number;
  /** 0 for a socket no process holds (TIME_WAIT). */
  inode: number;
}

async function tcpSockets(): Promise<TcpSocket[]> {
  const sockets: TcpSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const port = (address: string) => parseInt(address.split(':').at(-1)!, 16);
      const [tx, rx] = fields[4]!.split(':').map((hex) => parseInt(hex, 16));
      sockets.push({
        localPort: port(fields[1]!),
        remotePort: port(fields[2]!),
        txQueue: tx!,
        rxQueue: rx!,
        inode: Number(fields[9]),
      });
    }
  }
  return sockets;
}

/**
 * The pids of a topology process's group: npm and the node process it starts, which is the one
 * that holds the sockets.
 */
async function groupPids(proc: AppProcess): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The command name may hold spaces or parentheses: the fields that follow it are counted
    // from its closing parenthesis (state, ppid, pgrp, ...).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === proc.child.pid) pids.push(Number(entry));
  }
  return pids;
}

async function socketInodes(pids: number[]): Promise<Set<number>> {
  const inodes = new Set<number>();
  for (const pid of pids) {
    const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode) inodes.add(Number(inode));
    }
  }
  return inodes;
}

/** True once every thread of every pid is stopped (or gone): SIGSTOP has taken effect. */
async function allStopped(pids: number[]): Promise<boolean> {
  for (const pid of pids) {
    const threads = await fs.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    for (const tid of threads) {
      const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== '' && !'TtZX'.includes(state)) return false;
    }
  }
  return true;
}

/**
 * Which worker holds each connection to the mock Discord, by the client port the mock records on
 * each request, sampled from /proc while the workers run. A delivery keeps its connection open
 * for at least the mock's answer delay, several sampling intervals, so no connection that carried
 * a request goes unseen; a frozen worker opens none, so a sample taken then is complete for it.
 */
function connectionOwners(mockPort: number, workers: AppProcess[]) {
  const owners = new Map<number, Set<string>>();
  const seen = new Set<number>();
  let sampling = true;
  const sample = async () => {
    const fresh = (await tcpSockets()).filter(
      (s) => s.remotePort === mockPort && s.inode !== 0 && !seen.has(s.inode),
    );
    if (fresh.length === 0) return;
    for (const worker of workers) {
      const inodes = await socketInodes(await groupPids(worker));
      for (const socket of fresh.filter((s) => inodes.has(s.inode))) {
        const names = owners.get(socket.localPort) ?? new Set<string>();
        owners.set(socket.localPort, names.add(worker.name));
      }
    }
    // A socket neither worker holds is not theirs (a connect() has its fd before its row shows),
    // so it is not looked up again.
    for (const socket of fresh) seen.add(socket.inode);
  };
  const loop = (async () => {
    while (sampling) {
      await sample();
      await sleep(50);
    }
  })();
  return {
    sample,
    async stop() {
      sampling = false;
      await loop;
    },
    ports: (name: string) =>
      new Set([...owners].filter(([, names]) => names.has(name)).map(([port]) => port)),
    /** The one worker that held the port, or why there is not one. */
    ownerOf(port: number | null): string {
      const names = [...(owners.get(port ?? -1) ?? [])];
      return names.length === 1 ? names[0]! : names.length === 0 ? 'unseen' : names.join('+');
    },
  };
}

function appStarter(name: string, role: 'api' | 'worker') {
  return async () => {
    let port = ports.get(name);
    if (port === undefined) {
      port = await getFreePort();
      ports.set(name, port);
    }
    // The APIs count their per-key rate limit in Redis, the workers keep Discord's buckets there
    // (SPEC §13): without it each worker would pace a shared webhook as if it sent alone.
    const env = { ...appEnv, REDIS_URL: redis!.url };
    const proc = await startApp({ name, role, port, env });
    apps.set(name, proc);
    return proc;
  };
}
const starters = {
  'api-1': appStarter('api-1', 'api'),
  'api-2': appStarter('api-2', 'api'),
  'worker-1': appStarter('worker-1', 'worker'),
  'worker-2': appStarter('worker-2', 'worker'),
};

beforeAll(async () => {
  const t0 = performance.now();
  const seconds = (from: number) => Number(((performance.now() - from) / 1000).toFixed(1));
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-topology-'));
  await fs.chmod(dir, 0o755);

  // Tools: the pinned server and sql tool (built once from the Go module proxy, ~3 min), the
  // Temporal CLI for create-namespace.sh, a registry-packaged redis-server; and the build the
  // image runs.
  let t = performance.now();
  const server = await ensureTemporalServer({ log });
  startFigures.serverRoute = server.route;
  startFigures.provisionSeconds = seconds(t);
  const cli = await ensureTemporalCli({ log: () => undefined });
  temporalCliPath = cli.path;
  const redisBinary = await ensureRedisServer();
  t = performance.now();
  await run('npm', ['run', 'build'], { cwd: ROOT, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  startFigures.buildSeconds = seconds(t);

  // PostgreSQL with the app's database (as the compose files' postgres creates POSTGRES_DB).
  const pgPort = await getFreePort();
  postgres = await startOwnPostgres({
    dataDir: path.join(dir, 'postgres'),
    port: pgPort,
    database: 'scheduler',
  });
  await ensureDatabase(postgres.databaseUrl);

  // Temporal's two databases and schemas: the compose files' one-shot job, run twice (every
  // `docker compose up` runs it again).
  const shimDir = path.join(dir, 'bin');
  await writeNcShim(shimDir);
  const toolEnv = {
    PATH: [server.binDir, path.dirname(cli.path), shimDir, process.env.PATH].join(path.delimiter),
    HOME: process.env.HOME,
  };
  const schemaEnv = {
    ...toolEnv,
    POSTGRES_SEEDS: '127.0.0.1',
    DB_PORT: String(pgPort),
    POSTGRES_USER: 'postgres',
    SQL_PASSWORD: 'postgres',
    SCHEMA_ROOT: server.postgresSchemaRoot,
  };
  const firstSetup = await runDeployScript('setup-postgres.sh', schemaEnv);
  expect(firstSetup.output).toContain('Temporal schema is up to date');
  const secondSetup = await runDeployScript('setup-postgres.sh', schemaEnv);
  expect(secondSetup.output).toContain('Temporal schema is up to date');
  startFigures.schemaSetupSeconds = [
    Number(firstSetup.seconds.toFixed(1)),
    Number(secondSetup.seconds.toFixed(1)),
  ];

  t = performance.now();
  temporal = await startTemporalServer({
    binary: server.server,
    postgresPort: pgPort,
    dynamicConfigFile: path.join(ROOT, 'deploy/temporal/dynamicconfig.yaml'),
  });
  startFigures.frontendUpSeconds = seconds(t);
  const namespace = await runDeployScript('create-namespace.sh', {
    ...toolEnv,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
  });
  expect(namespace.output).toMatch(/Namespace default (created|exists)/);
  expect(namespace.output).toContain('Namespace default is usable');
  expect(namespace.output).toContain('Search attributes TaskId and TaskName are usable');
  startFigures.namespaceUsableSeconds = seconds(t);

  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection, namespace: 'default' });
  redis = await startRedisServer(redisBinary);
  mock = await startMockDiscord();
  orm = await initOrm({ databaseUrl: postgres.databaseUrl, poolMax: 2 });

  appEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    API_KEY: Object.values(KEYS).join(','),
    // Both APIs seal webhook URLs and both workers open them with these (SPEC §15).
    ENCRYPTION_KEYS: TOPOLOGY_ENCRYPTION_KEY.toString('base64'),
    DATABASE_URL: postgres.databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    WEBHOOK_ALLOWED_ORIGINS: mock.url,
    // A killed worker's deliveries are retried once their start-to-close timeout (this + 10 s)
    // has passed.
    WEBHOOK_TIMEOUT_MS: '2000',
    RETRY_INITIAL_INTERVAL: '1s',
    RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    LOG_LEVEL: 'info',
  };
  startFigures.totalSeconds = seconds(t0);
}, 45 * 60_000);

afterAll(async () => {
  for (const app of apps.values()) app.signal('SIGKILL');
  await Promise.all([...apps.values()].map((app) => app.exited));
  await connection?.close().catch(() => undefined);
  await orm?.close(true).catch(() => undefined);
  if (temporal) await stopProcess(temporal, 15_000);
  await redis?.stop().catch(() => undefined);
  await mock?.close().catch(() => undefined);
  await postgres?.stop().catch(() => undefined);
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe(`the production topology: Temporal server ${TEMPORAL_SERVER_VERSION} on PostgreSQL (${TEMPORAL_HISTORY_SHARDS} shards), Redis, two APIs, two workers`, () => {
  it('when both APIs and both workers start together on an empty database, then the migrations are applied once and all four report healthy', async () => {
    const started = performance.now();
    await Promise.all(Object.values(starters).map((start) => start()));
    const startSeconds = Number(((performance.now() - started) / 1000).toFixed(1));

    const rows = await orm!.em
      .fork()
      .getConnection()
      .execute<{ name: string }[]>('select name from mikro_orm_migrations order by id');
    const names = rows.map((r) => r.name);
    const appliedBy = apis().map((a) => logLines(a, 'applied database migrations'));
    const connections = await orm!.em
      .fork()
      .getConnection()
      .execute<{ datname: string; n: string }[]>(
        'select datname, count(*) as n from pg_stat_activity where datname is not null group by datname order by datname',
      );
    log(
      `start-up: ${JSON.stringify({
        ...startFigures,
        appsHealthySeconds: startSeconds,
        migrations: names.length,
        appliedByApi: appliedBy.map((lines) => lines.length),
        postgresConnections: Object.fromEntries(connections.map((c) => [c.datname, Number(c.n)])),
      })}`,
    );
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
    // One API applied them all; the other waited on the lock and found nothing to do.
    expect(appliedBy.map((lines) => lines.length).sort()).toEqual([0, 1]);
    expect(appliedBy.flat()[0]?.migrations).toEqual(names);
    for (const app of apps.values()) {
      expect((await fetch(`${app.url}/health`)).status).toBe(200);
    }
  });

  it('when each API is asked every documented route, then both serve each one from the shared database', async () => {
    const [a, b] = apis() as [AppProcess, AppProcess];
    const webhookUrl = mock.webhookUrl();
    const created = await api<{ id: string }>(a, KEYS.routes, 'POST', '/api/tasks', {
      name: 'routes',
      schedule: '0 9 * * 1',
      webhookUrl,
      payload: { content: 'routes' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    // Written through one API, read through the other.
    expect((await api(b, KEYS.routes, 'GET', `/api/tasks/${id}`)).status).toBe(200);
    expect(
      (await api(b, KEYS.routes, 'PATCH', `/api/tasks/${id}`, { name: 'routes 2' })).status,
    ).toBe(200);
    expect((await api<{ name: string }>(a, KEYS.routes, 'GET', `/api/tasks/${id}`)).body.name).toBe(
      'routes 2',
    );
    expect((await api(a, KEYS.routes, 'POST', `/api/tasks/${id}/trigger`)).status).toBe(202);
    await mock.waitForRequests(1, { webhookId: webhookUrl.split('/').at(-2), timeoutMs: 30_000 });
    // Sealed at rest by one API under ENCRYPTION_KEYS, opened by a worker to deliver (SPEC §15).
    const [stored] = await orm!.em
      .fork()
      .getConnection()
      .execute<{ webhook_url: string }[]>('select webhook_url from tasks where id = ?', [id]);
    expect(stored!.webhook_url).toMatch(/^enc:v1:[0-9a-f]{8}:/);
    expect(stored!.webhook_url).not.toContain(webhookUrl.split('/').at(-1));

    // Every operation of the OpenAPI document, on both APIs: served (not 404, never a 5xx).
    const document = loadOpenApiDocument();
    const served: string[] = [];
    for (const target of [a, b]) {
      for (const [route, item] of Object.entries(document.paths)) {
        for (const method of ['get', 'post', 'patch', 'put', 'delete'] as const) {
          if (!item?.[method] || method === 'delete') continue;
          const url = route.replace('{id}', id);
          const body =
            method === 'get'
              ? undefined
              : route.endsWith('/toggle') || route.endsWith('/trigger')
                ? undefined
                : {};
          const response = await api(target, KEYS.routes, method.toUpperCase(), url, body);
          // Routed and answered: a 4xx for a body this sweep does not fill in is fine.
          const answered = response.status !== 404 && response.status < 500;
          expect({ api: target.name, method, route, status: response.status, answered }).toEqual({
            api: target.name,
            method,
            route,
            status: response.status,
            answered: true,
          });
          served.push(`${target.name} ${method.toUpperCase()} ${route} ${response.status}`);
        }
      }
      const docs = await fetch(`${target.url}/api/docs/`);
      expect(docs.status).toBe(200);
    }
    expect((await api(b, KEYS.routes, 'DELETE', `/api/tasks/${id}`)).status).toBe(204);
    expect((await api(a, KEYS.routes, 'GET', `/api/tasks/${id}`)).status).toBe(404);
    log(
      `routes: ${served.length / 2} operations on each API, e.g. ${served.slice(0, 3).join('; ')}`,
    );
  });

  it('when a task ran on its schedule and by hand, then the real server lists both by TaskName and by TaskId (CLI and HTTP API), each summarized by the task name (SPEC §15)', async () => {
    const name = `topology by task ${Date.now()}`;
    const [task] = await createTasks(1, KEYS.byTask, () => ({
      name,
      schedule: '@every 5s',
      payload: { content: 'by task' },
    }));
    const { id, webhookId } = task!;
    await mock.waitForRequests(1, { webhookId, timeoutMs: 30_000 });
    expect((await api(apis()[1]!, KEYS.byTask, 'POST', `/api/tasks/${id}/toggle`)).status).toBe(
      200,
    );
    const trigger = await api<{ workflowId: string }>(
      apis()[0]!,
      KEYS.byTask,
      'POST',
      `/api/tasks/${id}/trigger`,
    );
    expect(trigger.status).toBe(202);
    const manualId = trigger.body.workflowId;
    const listsBoth = (ids: string[]) =>
      ids.includes(manualId) &&
      ids.some((w) => !w.includes('-manual-')) &&
      ids.every((w) => w.startsWith(`task-${id}-`));
    const started = performance.now();
    const figures: Record<string, number> = {};
    for (const query of [`TaskName = "${name}"`, `TaskId = "${id}"`]) {
      const cli = await waitFor(`the CLI to list both runs for ${query}`, async () => {
        const { stdout } = await run(temporalCliPath, [
          ...['workflow', 'list', '--address', temporal!.address, '--query', query],
          ...['--output', 'json'],
        ]);
        const ids = (JSON.parse(stdout || '[]') as { execution: { workflowId: string } }[]).map(
          (e) => e.execution.workflowId,
        );
        return listsBoth(ids) ? ids : undefined;
      });
      const http = await waitFor(`the HTTP API to list both runs for ${query}`, async () => {
        const response = await fetch(
          `${temporal!.httpUrl}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(query)}`,
        );
        const body = (await response.json()) as {
          executions?: { execution: { workflowId: string } }[];
        };
        const ids = (body.executions ?? []).map((e) => e.execution.workflowId);
        return listsBoth(ids) ? ids : undefined;
      });
      figures[query.split(' ')[0]!] = Math.min(cli.length, http.length);
    }
    for await (const info of client.workflow.list({ query: `TaskId = "${id}"` })) {
      const description = await client.workflow.getHandle(info.workflowId).describe();
      expect(await description.staticSummary()).toContain(name);
    }
    log(
      `executions by task: ${JSON.stringify({ runsListed: figures, listedWithinSeconds: Number(((performance.now() - started) / 1000).toFixed(1)) })}`,
    );
    await api(apis()[0]!, KEYS.byTask, 'DELETE', `/api/tasks/${id}`);
  });

  it('when one key sends more than its per-minute budget across both APIs, then Redis counts them together: exactly the budget is served and the rest get 429', async () => {
    const sent = RATE_LIMIT_PER_MINUTE + 100;
    const statuses: number[] = new Array(sent);
    const remaining: string[] = [];
    await eachLimited([...Array(sent).keys()], 10, async (i) => {
      const response = await api(apis()[i % 2]!, KEYS.limit, 'GET', '/api/tasks?limit=1');
      statuses[i] = response.status;
      if (i < 6)
        remaining[i] =
          `${apis()[i % 2]!.name}:${/remaining=(\d+)/.exec(response.headers.get('ratelimit') ?? '')?.[1]}`;
    });
    const ok = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    log(
      `rate limit: ${JSON.stringify({ perMinute: RATE_LIMIT_PER_MINUTE, sent, served: ok, limited, firstRemaining: remaining })}`,
    );
    expect({ ok, limited }).toEqual({ ok: RATE_LIMIT_PER_MINUTE, limited: 100 });
  });

  it('when both APIs start together again after schedules were lost or paused behind their back, then their concurrent reconciliations converge: every task has its one schedule as its row says, and the list holds no other', async () => {
    const tasks = await createTasks(30, KEYS.roll, (i) => ({
      name: `reconcile ${i}`,
      schedule: '0 9 * * 1',
      payload: { content: 'reconcile' },
    }));
    await Promise.all(apis().map((a) => stopProcess(a)));
    // Drift while no API runs: five schedules lost, three paused behind the database's back.
    const lost = tasks.slice(0, 5);
    for (const task of lost) await client.schedule.getHandle(scheduleIdForTask(task.id)).delete();
    const paused = tasks.slice(5, 8);
    for (const task of paused)
      await client.schedule.getHandle(scheduleIdForTask(task.id)).pause('drift');

    await Promise.all([starters['api-1'](), starters['api-2']()]);
    const summaries = await waitFor(
      'both APIs to log their reconciliation',
      () => {
        const lines = apis().map((a) => logLines(a, 'schedules reconciled')[0]);
        return lines.every(Boolean) ? (lines as Record<string, unknown>[]) : undefined;
      },
      120_000,
    );
    const exists = async (taskId: string) => {
      try {
        await client.schedule.getHandle(scheduleIdForTask(taskId)).describe();
        return true;
      } catch (error) {
        if (error instanceof ScheduleNotFoundError) return false;
        throw error;
      }
    };
    const present = await Promise.all(tasks.map((t) => exists(t.id)));
    const stillPaused = await Promise.all(
      paused.map(
        async (t) =>
          (await client.schedule.getHandle(scheduleIdForTask(t.id)).describe()).state.paused,
      ),
    );
    const listed = await waitFor(
      'the schedule list to show exactly the tasks',
      async () => {
        const ids: string[] = [];
        for await (const s of client.schedule.list())
          if (s.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) ids.push(s.scheduleId);
        const rows = await orm!.em
          .fork()
          .getConnection()
          .execute<{ n: string }[]>('select count(*) as n from tasks');
        return ids.length === Number(rows[0]!.n) ? ids : undefined;
      },
      60_000,
      1_000,
    ).catch(() => undefined);
    const pick = (s: Record<string, unknown>) => ({
      created: s.created,
      updated: s.updated,
      unchanged: s.unchanged,
      failed: s.failed,
    });
    log(
      `reconcile together: ${JSON.stringify({ tasks: tasks.length, schedulesLost: lost.length, schedulesPaused: paused.length, byApi: summaries.map(pick), present: present.filter(Boolean).length, stillPaused: stillPaused.filter(Boolean).length, listed: listed?.length })}`,
    );
    expect(present.every(Boolean)).toBe(true);
    expect(stillPaused).toEqual([false, false, false]);
    expect(listed).toBeDefined();
    expect(new Set(listed).size).toBe(listed!.length);
    expect(summaries.map((s) => s.failed)).toEqual([0, 0]);
    // Between them they created the lost ones (one may find the other's already there).
    expect(summaries.reduce((n, s) => n + Number(s.created), 0)).toBeGreaterThanOrEqual(
      lost.length,
    );
    for (const task of tasks) await api(apis()[0]!, KEYS.roll, 'DELETE', `/api/tasks/${task.id}`);
  });

  it('when a worker is SIGKILLed during a burst of 200 triggered deliveries, then the other delivers every one, the only duplicates are of deliveries the killed worker had sent (told by their connection, not the clock), and each delivery has one log row', async () => {
    const tasks = await createTasks(200, KEYS.burst, (i) => ({
      name: `burst ${i}`,
      schedule: '0 0 1 1 *',
      payload: { content: `burst ${i}` },
    }));
    // Each answer takes 250 ms, so deliveries are in flight when the worker dies.
    for (const task of tasks) mock.setBehavior(task.webhookId, { kind: 'hang', ms: 250 });
    const requestsOf = () => tasks.flatMap((t) => mock.requests(t.webhookId));

    const victim = apps.get('worker-1')!;
    const survivor = apps.get('worker-2')!;
    const mockPort = Number(new URL(mock.url).port);
    const ids = tasks.map((t) => t.id);
    const owners = connectionOwners(mockPort, [victim, survivor]);
    let stoppedAt = 0;
    let killedAt = 0;
    let doneAt: number;
    let victimPorts = new Set<number>();
    let victimRequestsAtKill: number;
    const started = Date.now();
    try {
      const triggering = eachLimited(tasks, 10, async (task, i) => {
        const response = await api(
          apis()[i % 2]!,
          KEYS.burst,
          'POST',
          `/api/tasks/${task.id}/trigger`,
        );
        if (response.status !== 202) throw new Error(`trigger: ${response.status}`);
      });
      await waitFor(
        '40 deliveries to reach Discord',
        () => (requestsOf().length >= 40 ? true : undefined),
        60_000,
        20,
      );
      // Frozen first: the victim's last connections are then all in /proc, and what it had written
      // reaches the mock before the kill resets its sockets (the mock may still be reading requests
      // the victim wrote before any signal: the clock cannot say whose they are).
      const victimPids = await groupPids(victim);
      victim.signal('SIGSTOP');
      await waitFor(
        'the victim to stop',
        async () => ((await allStopped(victimPids)) ? true : undefined),
        10_000,
        5,
      );
      stoppedAt = Date.now();
      await owners.sample();
      victimPorts = owners.ports(victim.name);
      await waitFor(
        'the mock to have read all the stopped victim wrote',
        async () =>
          (await tcpSockets()).every((s) =>
            s.localPort === mockPort && victimPorts.has(s.remotePort)
              ? s.rxQueue === 0
              : s.remotePort === mockPort && victimPorts.has(s.localPort)
                ? s.txQueue === 0
                : true,
          )
            ? true
            : undefined,
        10_000,
        5,
      );
      await sleep(100); // the mock records a request in this process, once its event loop runs
      victimRequestsAtKill = requestsOf().filter((r) => victimPorts.has(r.remotePort ?? -1)).length;
      victim.signal('SIGKILL');
      killedAt = Date.now();
      await victim.exited;
      await triggering;

      await waitFor(
        'a log row for each of the 200 deliveries',
        async () => ((await logRows(ids)).length >= tasks.length ? true : undefined),
        180_000,
        1_000,
      );
      doneAt = Date.now();
      await sleep(15_000); // a late duplicate would arrive within a start-to-close timeout
    } finally {
      await owners.stop();
    }
    const rows = await logRows(ids);
    const perTask = tasks.map((task) => {
      const requests = mock.requests(task.webhookId);
      return {
        taskId: task.id,
        requests: requests.length,
        senders: requests.map((r) => owners.ownerOf(r.remotePort)),
        ports: requests.map((r) => r.remotePort),
        receivedAfterStopMs: requests.map((r) => r.receivedAt.getTime() - stoppedAt),
        answered: requests.map((r) => r.respondedWith),
        firstAt: requests[0]?.receivedAt.getTime() ?? Infinity,
        rows: rows.filter((r) => r.task_id === task.id).map((r) => r.status),
      };
    });
    const duplicated = perTask.filter((t) => t.requests > 1);
    const sentBy = (name: string) =>
      requestsOf().filter((r) => owners.ownerOf(r.remotePort) === name);
    const figures = {
      triggered: tasks.length,
      delivered: perTask.filter((t) => t.requests > 0).length,
      requests: requestsOf().length,
      victimRequests: sentBy(victim.name).length,
      survivorRequests: sentBy(survivor.name).length,
      unattributedRequests: requestsOf().filter(
        (r) => ![victim.name, survivor.name].includes(owners.ownerOf(r.remotePort)),
      ).length,
      victimConnections: owners.ports(victim.name).size,
      survivorConnections: owners.ports(survivor.name).size,
      // Requests the victim had written before it stopped that the mock read only afterwards: the
      // ones a clock-based test would take for the survivor's.
      victimRequestsReadAfterStop: sentBy(victim.name).filter(
        (r) => r.receivedAt.getTime() >= stoppedAt,
      ).length,
      victimRequestsReadAfterKill: sentBy(victim.name).length - victimRequestsAtKill,
      deliveredAfterKill: perTask.filter((t) => t.firstAt >= killedAt).length,
      // By who sent each request of a task, in order: "worker-1>worker-2" is the victim's
      // delivery sent again by the survivor.
      senders: perTask.reduce<Record<string, number>>((counts, t) => {
        const key = t.senders.join('>');
        counts[key] = (counts[key] ?? 0) + 1;
        return counts;
      }, {}),
      duplicates: duplicated.reduce((n, t) => n + t.requests - 1, 0),
      duplicatesFirstSentByVictim: duplicated.filter((t) => t.senders[0] === victim.name).length,
      logRows: rows.length,
      successRows: rows.filter((r) => r.status === 'SUCCESS').length,
      killedAfterMs: killedAt - started,
      frozenMs: killedAt - stoppedAt,
      allLoggedAfterKillMs: doneAt - killedAt,
    };
    log(`worker killed in a burst: ${JSON.stringify(figures)}`);
    expect(figures.delivered).toBe(tasks.length);
    expect(figures.deliveredAfterKill).toBeGreaterThan(0);
    // Every request is told by its connection: a port /proc showed held by exactly one worker.
    expect(figures.unattributedRequests).toBe(0);
    // A delivery is sent once by whichever worker ran it, or, when the killed worker had sent it
    // and died before reporting it, once more by the survivor. Any other sequence (a second send
    // by the same worker, the survivor sending first) is the product posting twice; the tasks
    // print with their ports, arrival times (ms after the victim stopped), answers and log rows.
    const allowed = [[victim.name], [survivor.name], [victim.name, survivor.name]].map((s) =>
      s.join('>'),
    );
    expect(perTask.filter((t) => !allowed.includes(t.senders.join('>')))).toEqual([]);
    // One row per delivery: the attempts that reached Discord, less those the killed worker could
    // not record (exactly the duplicates).
    expect(perTask.every((t) => t.rows.length === 1 && t.rows[0] === 'SUCCESS')).toBe(true);
    expect(figures.logRows).toBe(figures.requests - figures.duplicates);
    for (const task of tasks) mock.setBehavior(task.webhookId);

    await starters['worker-1']();
  });

  it('when every process is restarted one at a time (SIGTERM, start, healthy, next) while 20 tasks fire every 10 s, then no run is lost, none is delivered twice, and a client retrying on the other API is always served', async () => {
    const tasks = await createTasks(20, KEYS.roll, (i) => ({
      name: `rolling ${i}`,
      schedule: '@every 10s',
      payload: { content: 'run {{execution.scheduledTime}}' },
    }));
    const firstDueMs = Math.ceil(Date.now() / PERIOD_MS) * PERIOD_MS;
    await sleep(firstDueMs + 2 * PERIOD_MS - Date.now() + 2_000);

    // Clients keep reading throughout, through a balancer that sends each request to the next API
    // and, when that one refuses or fails (it is being restarted), to the other.
    const traffic = { requests: 0, retriedOnOther: 0, failed: 0 };
    let rolling = true;
    const clients = (async () => {
      for (let i = 0; rolling; i++) {
        const order = i % 2 === 0 ? apis() : [...apis()].reverse();
        traffic.requests++;
        let served = false;
        for (const [attempt, target] of order.entries()) {
          if (attempt > 0) traffic.retriedOnOther++;
          const ok = await api(target, KEYS.traffic, 'GET', '/api/tasks?limit=1').then(
            (r) => r.status === 200,
            () => false,
          );
          if (ok) {
            served = true;
            break;
          }
        }
        if (!served) traffic.failed++;
        await sleep(100);
      }
    })();
    const rollStartedMs = Date.now();
    const restarts: Record<string, number> = {};
    for (const name of ['api-1', 'api-2', 'worker-1', 'worker-2'] as const) {
      const t = performance.now();
      await stopProcess(apps.get(name)!);
      await starters[name]();
      restarts[name] = Number(((performance.now() - t) / 1000).toFixed(1));
      // Runs fall due between one process coming back and the next going down.
      await sleep(PERIOD_MS);
    }
    const rollEndedMs = Date.now();
    rolling = false;
    await clients;
    const dueDuringRoll =
      tasks.length * (Math.floor(rollEndedMs / PERIOD_MS) - Math.floor(rollStartedMs / PERIOD_MS));
    await sleep(3 * PERIOD_MS);

    const cutOffMs = Date.now() - 15_000;
    const rows = await logRows(tasks.map((t) => t.id));
    const ledgers = tasks.map((task) =>
      ledgerFor({
        taskId: task.id,
        periodMs: PERIOD_MS,
        firstDueMs,
        cutOffMs,
        // No outage: every due run must be delivered.
        outageStartMs: cutOffMs + 1,
        recoveredMs: cutOffMs + 1,
        requests: mock.requests(task.webhookId).filter((r) => scheduledTimeOf(r) <= cutOffMs),
        successRows: rows
          .filter((r) => r.task_id === task.id && r.status === 'SUCCESS' && r.scheduled_time)
          .map((r) => new Date(r.scheduled_time as string).getTime()),
      }),
    );
    const lost = ledgers.reduce((n, l) => n + l.due - (l.delivered - l.duplicates), 0);
    const sum = totals(ledgers);
    log(
      `rolling restart: ${JSON.stringify({
        tasks: sum.tasks,
        due: sum.due,
        delivered: sum.delivered,
        logged: sum.logged,
        duplicates: sum.duplicates,
        lost,
        failedRows: rows.filter((r) => r.status === 'FAILED').length,
        dueDuringRoll,
        clientReads: traffic,
        restartSeconds: restarts,
        rollSeconds: Math.round((rollEndedMs - rollStartedMs) / 1000),
      })}`,
    );
    expect(dueDuringRoll).toBeGreaterThanOrEqual(tasks.length * 4);
    expect(traffic.failed).toBe(0);
    expect({ lost, duplicates: sum.duplicates, logged: sum.logged }).toEqual({
      lost: 0,
      duplicates: 0,
      logged: sum.delivered,
    });
    for (const task of tasks) await api(apis()[0]!, KEYS.roll, 'DELETE', `/api/tasks/${task.id}`);
  });

  it('when 200 triggered deliveries wait in the task queue for one worker, then for two, then both drain rates are printed (2 cores: no scaling expected, so no target)', async () => {
    const tasks = await createTasks(200, KEYS.throughput, (i) => ({
      name: `throughput ${i}`,
      schedule: '0 0 1 1 *',
      payload: { content: `throughput ${i}` },
    }));
    const workers = ['worker-1', 'worker-2'] as const;
    /**
     * With every worker stopped, triggers 200 runs (they wait in Temporal), starts `count`
     * workers and times the deliveries from the first to the last: the workers' rate, apart from
     * the API's and from a worker's start-up.
     */
    const measure = async (count: 1 | 2) => {
      await Promise.all(workers.map((name) => stopProcess(apps.get(name)!)));
      const before = new Map(tasks.map((t) => [t.webhookId, mock.requests(t.webhookId).length]));
      const triggerStarted = performance.now();
      await eachLimited(tasks, 10, async (task, i) => {
        const response = await api(
          apis()[i % 2]!,
          KEYS.throughput,
          'POST',
          `/api/tasks/${task.id}/trigger`,
        );
        if (response.status !== 202) throw new Error(`trigger: ${response.status}`);
      });
      const triggerSeconds = (performance.now() - triggerStarted) / 1000;
      await Promise.all(workers.slice(0, count).map((name) => starters[name]()));
      const fresh = () =>
        tasks.flatMap((t) => mock.requests(t.webhookId).slice(before.get(t.webhookId)));
      await waitFor(
        '200 deliveries',
        () => (new Set(fresh().map((r) => r.webhookId)).size === tasks.length ? true : undefined),
        180_000,
        20,
      );
      const times = fresh().map((r) => r.receivedAt.getTime());
      const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
      return {
        workers: count,
        drainSeconds: Number(seconds.toFixed(2)),
        deliveriesPerSecond: Number(((tasks.length - 1) / seconds).toFixed(1)),
        triggersPerSecondThroughApis: Number((tasks.length / triggerSeconds).toFixed(1)),
      };
    };
    const one = await measure(1);
    const two = await measure(2);
    log(`deliveries/s: ${JSON.stringify([one, two])}`);
    expect(one.deliveriesPerSecond).toBeGreaterThan(0);
    expect(two.deliveriesPerSecond).toBeGreaterThan(0);
  });

  it("when 20 tasks on one webhook come due on the same minute across both workers, then they pace by the webhook's bucket shared in Redis: each is delivered once, none fails, at most one request meets an empty bucket, and the deliveries spread over the windows 20 need", async () => {
    const webhookUrl = mock.webhookUrl();
    const webhookId = webhookUrl.split('/').at(-2) as string;
    // A daily cron at a whole minute far enough ahead that all 20 schedules exist before it: the
    // server starts the 20 runs together, as it does for a channel's tasks set to the same time.
    const dueMs = Math.ceil((Date.now() + 30_000) / 60_000) * 60_000;
    const due = new Date(dueMs);
    const tasks = await createTasks(20, KEYS.pacing, (i) => ({
      name: `pacing ${i}`,
      schedule: `${due.getUTCMinutes()} ${due.getUTCHours()} * * *`,
      timezone: 'UTC',
      webhookUrl,
      // A 429 must not cost an attempt (SPEC §13): with none to spare, one would fail the task.
      maxRetry: 0,
      payload: { content: `pacing ${i}` },
    }));
    const createdBeforeDueMs = dueMs - Date.now();
    expect(createdBeforeDueMs).toBeGreaterThan(5_000);

    const ids = tasks.map((t) => t.id);
    const workers = [apps.get('worker-1')!, apps.get('worker-2')!];
    const owners = connectionOwners(Number(new URL(mock.url).port), workers);
    try {
      // Not thrown on: the figures below say what did arrive.
      await waitFor(
        'a SUCCESS row for each of the 20 tasks',
        async () =>
          (await logRows(ids)).filter((r) => r.status === 'SUCCESS').length >= tasks.length
            ? true
            : undefined,
        dueMs - Date.now() + 90_000,
        500,
      ).catch(() => undefined);
      // A second send would follow a paced wait, a window (2 s) and a timer's jitter later.
      await sleep(5_000);
    } finally {
      await owners.stop();
    }

    const rows = await logRows(ids);
    const requests = mock.requests(webhookId);
    const delivered = requests.filter((r) => r.respondedWith === 200);
    const times = delivered.map((r) => r.receivedAt.getTime()).sort((a, b) => a - b);
    const firstMs = times[0] ?? NaN;
    const count = (values: string[]) =>
      values.reduce<Record<string, number>>((counts, value) => {
        counts[value] = (counts[value] ?? 0) + 1;
        return counts;
      }, {});
    const contentOf = (r: { body: unknown }) => (r.body as { content?: string } | null)?.content;
    const tasksView = await Promise.all(
      tasks.map(
        async (t) =>
          (await api<{ status: string }>(apis()[0]!, KEYS.pacing, 'GET', `/api/tasks/${t.id}`))
            .body,
      ),
    );
    for (const task of tasks) await api(apis()[1]!, KEYS.pacing, 'DELETE', `/api/tasks/${task.id}`);

    const sentBy = count(requests.map((r) => owners.ownerOf(r.remotePort)));
    const figures = {
      tasks: tasks.length,
      dueAt: due.toISOString(),
      createdSecondsBeforeDue: Number((createdBeforeDueMs / 1000).toFixed(1)),
      requests: requests.length,
      answered: count(requests.map((r) => String(r.respondedWith))),
      bucket429s: mock.rateLimited(webhookId),
      logRows: count(rows.map((r) => r.status)),
      apiStatus: count(tasksView.map((t) => t.status)),
      sentBy,
      firstAfterDueMs: firstMs - dueMs,
      spreadSeconds: Number(((times.at(-1)! - firstMs) / 1000).toFixed(2)),
      // Each delivery's arrival after the first: five per 2 s window when paced by the bucket.
      offsetsMs: times.map((t) => t - firstMs),
    };
    log(`one webhook, 20 due together: ${JSON.stringify(figures)}`);

    // Delivered once each, told by the content each task sends.
    const deliveriesPerTask = tasks.map(
      (_, i) => delivered.filter((r) => contentOf(r) === `pacing ${i}`).length,
    );
    expect(deliveriesPerTask).toEqual(tasks.map(() => 1));
    expect(delivered).toHaveLength(tasks.length);
    expect(
      tasks.map((t) => rows.filter((r) => r.task_id === t.id && r.status === 'SUCCESS').length),
    ).toEqual(tasks.map(() => 1));
    expect(rows.filter((r) => r.status === 'FAILED')).toEqual([]);
    expect(figures.apiStatus).toEqual({ ACTIVE: tasks.length });
    // Workers pacing apart each spend the bucket as if they sent alone and meet the other's
    // sends (6 of these 429s when the workers were started without REDIS_URL).
    expect(figures.bucket429s).toBeLessThanOrEqual(1);
    // Both sent, so the pacing above was shared, not one worker's.
    expect(sentBy[workers[0]!.name] ?? 0).toBeGreaterThan(0);
    expect(sentBy[workers[1]!.name] ?? 0).toBeGreaterThan(0);
    // 20 at 5 per 2 s take four windows, so at least 6 s from first to last; far more would be
    // pacing slower than the bucket allows (waits left unshortened, timers stacking up).
    expect(figures.spreadSeconds).toBeGreaterThanOrEqual(5.5);
    expect(figures.spreadSeconds).toBeLessThan(15);
  });

  it('when the server has run every scenario above, then it took every value of the shared dynamic config file (a value it cannot read is a WARN line and its default)', () => {
    // The server reads each value when it first uses it; by now every schedule has fired and the
    // per-namespace worker that runs them has started with its options.
    const refused = temporal!
      .output()
      .split('\n')
      .filter((line) => line.includes('Failed to convert value'));

    expect(refused).toEqual([]);
  });
});
