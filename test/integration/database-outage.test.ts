import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { initOrm, type Orm, prepareDatabase } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { createLogger } from '../../src/logger';
import { FAIL_FAST_MS, newTask, timed } from '../helpers/outage';
import { createTestApp, TEST_API_KEY, type TestApp } from '../helpers/app';
import { type OwnPostgres, startOwnPostgres } from '../helpers/own-postgres';
import { descendantsOf } from '../helpers/product';

function expectFastUnavailable(answer: Awaited<ReturnType<typeof timed>>) {
  expect(answer).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^[1-9]\d*$/) });
  expect(answer.body).toMatchObject({
    status: 503,
    detail: expect.stringMatching(/database is unreachable/),
  });
  expect(answer.ms).toBeLessThan(FAIL_FAST_MS);
}

describe('API while the database is down', () => {
  it('when PostgreSQL is not listening at all, then tasks, logs and stats answer 503 with Retry-After within a second', async () => {
    const closedPort = await getFreePort();
    const orm = await initOrm({
      databaseUrl: `postgres://postgres:postgres@127.0.0.1:${closedPort}/nowhere`,
      connect: false,
    });
    const t = await createTestApp({ orm });
    try {
      const api = (method: 'get' | 'post', url: string) =>
        request(t.app)[method](url).set('X-API-Key', TEST_API_KEY);
      for (const req of [
        () => api('get', '/api/tasks'),
        () => api('post', '/api/tasks').send(newTask('offline')),
        () => api('get', `/api/tasks/${randomUUID()}`),
        () => api('get', '/api/logs'),
        () => api('get', '/api/dashboard/stats'),
      ]) {
        expectFastUnavailable(await timed(req()));
      }
    } finally {
      await t.close();
    }
  });

  describe('on a PostgreSQL of its own', () => {
    let dir: string;
    let port: number;
    let postgres: OwnPostgres;
    let orm: Orm;
    let t: TestApp;
    const api = (method: 'get' | 'post', url: string) =>
      request(t.app)[method](url).set('X-API-Key', TEST_API_KEY);
    const startPostgres = () =>
      startOwnPostgres({ dataDir: path.join(dir, 'data'), port, database: 'outage_test' });
    /** The postmaster and every process it forked (backends, checkpointer, ...). */
    const postgresProcesses = () => [
      postgres.pid,
      ...descendantsOf(postgres.pid).map((p) => p.pid),
    ];

    beforeAll(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-outage-pg-'));
      await fs.chmod(dir, 0o755);
      port = await getFreePort();
      postgres = await startPostgres();
      await prepareDatabase(postgres.databaseUrl, createLogger({ level: 'silent' }));
      orm = await initOrm({ databaseUrl: postgres.databaseUrl, poolMax: 4 });
      t = await createTestApp({ orm });
    }, 120_000);
    afterAll(async () => {
      await t?.close();
      await postgres?.stop();
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('when every PostgreSQL process is frozen (SIGSTOP), then reads and writes answer 503 with Retry-After within a second, nothing is written, and after SIGCONT the same pool serves again', async () => {
      const created = await api('post', '/api/tasks').send(newTask(`before-${randomUUID()}`));
      expect(created.status).toBe(201);
      // Warm the pool: the frozen server then holds open connections whose queries never return.
      expect((await api('get', '/api/tasks')).status).toBe(200);

      const frozen = postgresProcesses();
      const lost = `during-${randomUUID()}`;
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
      try {
        const answers = {
          list: await timed(api('get', '/api/tasks')),
          get: await timed(api('get', `/api/tasks/${created.body.id}`)),
          create: await timed(api('post', '/api/tasks').send(newTask(lost))),
          toggle: await timed(api('post', `/api/tasks/${created.body.id}/toggle`)),
          stats: await timed(api('get', '/api/dashboard/stats')),
        };
        console.log(
          'database frozen:',
          Object.entries(answers)
            .map(([name, a]) => `${name} ${a.status} in ${a.ms} ms`)
            .join(', '),
        );
        for (const answer of Object.values(answers)) expectFastUnavailable(answer);
        const health = await timed(request(t.app).get('/health'));
        expect(health).toMatchObject({ status: 503, body: { checks: { database: 'down' } } });
        expect(health.ms).toBeLessThan(FAIL_FAST_MS);
        expect((await request(t.app).get('/health/live')).status).toBe(200);
      } finally {
        for (const pid of frozen) process.kill(pid, 'SIGCONT');
      }

      const back = await waitForStatus(() => api('get', '/api/tasks'), 200);
      console.log(`database thawed: GET /api/tasks 200 again after ${back} ms`);
      // The create that was given up rolled back once its connection answered again; the task
      // that was toggled during the freeze kept its status.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const rows = await orm.em
        .getConnection()
        .execute('select name, status from tasks where name in (?, ?)', [lost, created.body.name]);
      expect(rows).toEqual([{ name: created.body.name, status: 'ACTIVE' }]);
      expect((await api('post', '/api/tasks').send(newTask(`after-${randomUUID()}`))).status).toBe(
        201,
      );
    });

    it('when PostgreSQL shuts down and starts again, then 503 with Retry-After while it is gone and the same pool serves again once it is back', async () => {
      expect((await api('get', '/api/tasks')).status).toBe(200);
      await postgres.stop();

      expectFastUnavailable(await timed(api('get', '/api/tasks')));
      expectFastUnavailable(
        await timed(api('post', '/api/tasks').send(newTask(`gone-${randomUUID()}`))),
      );

      postgres = await startPostgres();
      const back = await waitForStatus(() => api('get', '/api/tasks'), 200);
      console.log(`database restarted: GET /api/tasks 200 again after ${back} ms`);
      expect(
        (await api('post', '/api/tasks').send(newTask(`restarted-${randomUUID()}`))).status,
      ).toBe(201);
    });
  });
});

/** Polls until a request answers `status`; returns how long that took. */
async function waitForStatus(
  send: () => request.Test,
  status: number,
  timeoutMs = 15_000,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await send();
    if (res.status === status) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`still ${res.status} after ${timeoutMs} ms: ${res.text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
