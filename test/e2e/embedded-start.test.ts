import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { initOrm } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { testEnv } from '../helpers/app';
import { acceptsConnections, startFromSources, type StartedProcess } from '../helpers/process';
import { type GroupProcess, startInOwnGroup, survivors } from '../helpers/process-group';

interface Started extends StartedProcess {
  apiKey: string;
  descendants: number[];
}

/** `npm start` as a user runs it (tsx src/main/start.ts), with no DATABASE_URL / TEMPORAL_ADDRESS. */
async function startSystem(env: NodeJS.ProcessEnv): Promise<Started> {
  const started = await startFromSources(env, 150_000);
  const apiKey = /API key\s+(\S+)/.exec(started.output())?.[1];
  if (!apiKey) throw new Error(`no API key printed:\n${started.output()}`);
  return { ...started, apiKey, descendants: descendantsOf(started.child.pid!) };
}

function descendantsOf(pid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const result: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of table) {
      if (ppid === parent) {
        result.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return result;
}

async function stopWithCtrlC(started: Started): Promise<number | null> {
  started.child.kill('SIGINT');
  return started.exited;
}

/** A fresh DATA_DIR, free ports and the environment of `npm start` on the embedded default. */
async function embeddedDefault(prefix: string, logLevel: string) {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const ports = {
    api: await getFreePort(),
    pg: await getFreePort(),
    temporal: await getFreePort(),
    ui: await getFreePort(),
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_CLI_PATH: testEnv().temporalCliPath,
    DATA_DIR: dataDir,
    PORT: String(ports.api),
    EMBEDDED_POSTGRES_PORT: String(ports.pg),
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    LOG_LEVEL: logLevel,
  };
  return { dataDir, ports, env };
}

describe('npm start on the embedded default', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let ports: { api: number; pg: number; temporal: number; ui: number };

  beforeAll(async () => {
    // mkdtemp makes a 0700 folder: as root, the postgres account cannot enter it, which is the
    // case of a clone under /root; the embedded PostgreSQL must cope (see src/embedded/postgres.ts).
    ({ dataDir, ports, env } = await embeddedDefault('dts-e2e-data-', 'warn'));
  });
  afterAll(async () => {
    const cluster = await fs.realpath(path.join(dataDir, 'postgres')).catch(() => undefined);
    if (cluster && !cluster.startsWith(dataDir))
      await fs.rm(path.dirname(cluster), { recursive: true, force: true });
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('when started twice, then it reaches healthy, serves docs and the Temporal UI, stops cleanly on Ctrl-C and keeps its data', async () => {
    const api = `http://127.0.0.1:${ports.api}`;
    const taskId = randomUUID();
    const scheduleId = `e2e-persist-${taskId}`;

    // First start: fresh data directory.
    const first = await startSystem(env);
    try {
      expect(first.output()).toContain(`Swagger UI   http://localhost:${ports.api}/api/docs`);
      expect(first.output()).toContain(`Temporal UI  http://127.0.0.1:${ports.ui}`);
      const health = await fetch(`${api}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({
        status: 'ok',
        checks: { database: 'up', temporal: 'up' },
      });
      expect((await fetch(`${api}/api/docs/`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
      const unauth = await fetch(`${api}/api/tasks`);
      expect(unauth.status).toBe(401);
      const authed = await fetch(`${api}/api/tasks/not-a-uuid`, {
        headers: { 'X-API-Key': first.apiKey },
      });
      expect(authed.status).toBe(400);
      expect((await fs.stat(path.join(dataDir, 'temporal.db'))).isFile()).toBe(true);
      expect((await fs.stat(path.join(dataDir, 'postgres', 'PG_VERSION'))).isFile()).toBe(true);

      // Leave a row and a schedule behind, to find them after the restart.
      const orm = await initOrm({
        databaseUrl: `postgres://postgres:postgres@127.0.0.1:${ports.pg}/scheduler`,
      });
      await orm.em.getConnection().execute(
        `insert into tasks (id, name, schedule, webhook_url, payload, created_at, updated_at)
           values (?, 'persisted', '@daily', 'https://discord.com/api/webhooks/1/t', '{"content":"x"}', now(), now())`,
        [taskId],
      );
      await orm.close();
      const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
      await new Client({ connection }).schedule.create({
        scheduleId,
        spec: { intervals: [{ every: '1h' }] },
        action: {
          type: 'startWorkflow',
          workflowType: 'sendWebhook',
          taskQueue: 'e2e-none',
          args: [],
        },
        state: { paused: true },
      });
      await connection.close();
    } finally {
      expect(first.descendants.length).toBeGreaterThanOrEqual(2); // postgres + temporal at least
      expect(await stopWithCtrlC(first)).toBe(0);
    }
    // No orphans: every process the start spawned is gone, and the ports are free again.
    expect(await survivors(first.descendants)).toEqual([]);
    for (const port of Object.values(ports)) expect(await acceptsConnections(port)).toBe(false);

    // Second start: the same data directory.
    const second = await startSystem(env);
    try {
      expect(second.apiKey).toBe(first.apiKey);
      expect((await fetch(`${api}/health`)).status).toBe(200);
      const orm = await initOrm({
        databaseUrl: `postgres://postgres:postgres@127.0.0.1:${ports.pg}/scheduler`,
      });
      const rows = await orm.em
        .getConnection()
        .execute('select name from tasks where id = ?', [taskId]);
      await orm.close();
      expect(rows).toEqual([{ name: 'persisted' }]);
      const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
      const description = await new Client({ connection }).schedule
        .getHandle(scheduleId)
        .describe();
      await connection.close();
      expect(description.state.paused).toBe(true);
    } finally {
      expect(await stopWithCtrlC(second)).toBe(0);
    }
    expect(await survivors(second.descendants)).toEqual([]);
  }, 300_000);
});

describe('Ctrl-C on the embedded default (SPEC §2: one Ctrl-C always runs the orderly stop)', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let ports: { api: number; pg: number; temporal: number; ui: number };
  let running: GroupProcess | undefined;

  beforeAll(async () => {
    // info: the tests wait for the services' "started" lines.
    ({ dataDir, ports, env } = await embeddedDefault('dts-e2e-ctrlc-', 'info'));
  });
  afterEach(() => {
    running?.killGroup();
    running = undefined;
  });
  afterAll(async () => {
    const cluster = await fs.realpath(path.join(dataDir, 'postgres')).catch(() => undefined);
    if (cluster && !cluster.startsWith(dataDir))
      await fs.rm(path.dirname(cluster), { recursive: true, force: true });
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  /** Exit code, what is left running, and whether every port is free again. */
  async function outcome(started: GroupProcess) {
    const code = await started.exited;
    const left = await survivors(started.seen().keys());
    const open: number[] = [];
    for (const port of Object.values(ports)) if (await acceptsConnections(port)) open.push(port);
    return { code, left, open };
  }

  it('when one Ctrl-C reaches the process group twice within a few ms right after start-up, then it stops in order, exits 0 and leaves no process behind', async () => {
    const started = (running = startInOwnGroup(env));
    await started.waitForOutput(/Press Ctrl-C to stop\./);
    expect([...started.seen().values()].some((args) => /server start-dev/.test(args))).toBe(true);
    expect([...started.seen().values()].some((args) => /postgres/.test(args))).toBe(true);

    // A few ms apart (signals sent closer than the process is scheduled merge into one).
    started.signalGroup('SIGINT');
    await new Promise((r) => setTimeout(r, 5));
    started.signalGroup('SIGINT');

    expect(await outcome(started)).toEqual({ code: 0, left: [], open: [] });
    expect(started.output()).not.toMatch(/exiting now|at once and exiting/);
    // The services' own exit on that Ctrl-C is no death.
    expect(started.output()).not.toMatch(/died with/);
    expect(started.output()).toContain('API stopped');
    expect(started.output()).toContain('worker stopped');
  }, 300_000);

  it('when Ctrl-C reaches the group twice during start-up, then what had started is stopped, it exits 0 and leaves no process behind', async () => {
    const started = (running = startInOwnGroup(env));
    await started.waitForOutput(/embedded PostgreSQL started/);

    started.signalGroup('SIGINT');
    await new Promise((r) => setTimeout(r, 5));
    started.signalGroup('SIGINT');

    expect(await outcome(started)).toEqual({ code: 0, left: [], open: [] });
    expect(started.output()).not.toContain('Press Ctrl-C to stop.');
    // PostgreSQL stopping on that Ctrl-C is neither a death to restart nor a failed start.
    expect(started.output()).not.toMatch(/start-up failed|died with|restarting/);
  }, 300_000);

  it('when SIGINT reaches only the process during start-up (the children see no signal), then it stops the services it had started itself and exits 0', async () => {
    const started = (running = startInOwnGroup(env));
    await started.waitForOutput(/embedded PostgreSQL started/);

    started.child.kill('SIGINT');

    expect(await outcome(started)).toEqual({ code: 0, left: [], open: [] });
  }, 300_000);

  it('when SIGINT comes a third time during the stop, then it exits at once (130), and even so kills the embedded services first', async () => {
    const started = (running = startInOwnGroup(env));
    await started.waitForOutput(/Press Ctrl-C to stop\./);

    // Only the process is signalled: nothing but it can stop the children. 200 ms apart, so
    // that three arrive rather than merge.
    for (let i = 0; i < 3; i++) {
      started.child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 200));
    }

    const result = await outcome(started);
    expect(result).toEqual({ code: 130, left: [], open: [] });
    expect(started.output()).toContain(
      'SIGINT again: stopping the embedded services at once and exiting',
    );
  }, 300_000);
});
