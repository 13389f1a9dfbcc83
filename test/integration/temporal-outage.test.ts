import { randomUUID } from 'node:crypto';
import request from 'supertest';
import {
  startTemporalDevServer,
  type TemporalDevServer,
} from '../../src/embedded/temporal-dev-server';
import { FAIL_FAST_MS, newTask, timed } from '../helpers/outage';
import { createTestApp, TEST_API_KEY, testEnv, type TestApp } from '../helpers/app';

/** Reads never wait on Temporal: what they wait for is the database and a few ms of ours. */
const READ_MS = 400;

describe('API while Temporal does not answer', () => {
  let devServer: TemporalDevServer;
  let t: TestApp;
  const env = { ...process.env, WEBHOOK_ALLOWED_ORIGINS: 'https://discord.com' };
  const api = (app: TestApp, method: 'get' | 'post' | 'patch' | 'delete', url: string) =>
    request(app.app)[method](url).set('X-API-Key', TEST_API_KEY);

  beforeAll(async () => {
    devServer = await startTemporalDevServer({ cliPath: testEnv().temporalCliPath, uiPort: false });
    t = await createTestApp({ temporalAddress: devServer.address, env });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await devServer?.stop();
  });

  it('when the Temporal server is frozen (SIGSTOP), then reads answer 200 at once, writes 503 with Retry-After within a second and change nothing, and after SIGCONT writes work again', async () => {
    const tag = randomUUID().slice(0, 8);
    const tasks: { id: string; name: string; nextRunAt: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await api(t, 'post', '/api/tasks').send(newTask(`frozen-${tag}-${i}`));
      expect(res.status).toBe(201);
      tasks.push(res.body);
    }
    // A second API on the same database and Temporal that has not read these tasks yet: a read
    // that asked Temporal for their next runs would wait for Temporal.
    const fresh = await createTestApp({ orm: t.orm, temporal: t.temporal, env });
    // (Its first request of each route also compiles that route's validators: done before.)
    expect((await api(fresh, 'get', '/api/tasks?search=no-such-task')).status).toBe(200);
    expect((await api(fresh, 'get', `/api/tasks/${randomUUID()}`)).status).toBe(404);
    const [task] = tasks as [(typeof tasks)[0]];

    process.kill(devServer.pid, 'SIGSTOP');
    try {
      const reads = {
        freshList: await timed(api(fresh, 'get', `/api/tasks?search=frozen-${tag}`)),
        freshGet: await timed(api(fresh, 'get', `/api/tasks/${task.id}`)),
        list: await timed(api(t, 'get', `/api/tasks?search=frozen-${tag}&sort=name`)),
      };
      const writes = {
        create: await timed(api(t, 'post', '/api/tasks').send(newTask(`lost-${tag}`))),
        update: await timed(
          api(t, 'patch', `/api/tasks/${task.id}`).send({ name: `renamed-${tag}` }),
        ),
        toggle: await timed(api(t, 'post', `/api/tasks/${task.id}/toggle`)),
        trigger: await timed(api(t, 'post', `/api/tasks/${task.id}/trigger`)),
        delete: await timed(api(t, 'delete', `/api/tasks/${task.id}`)),
      };
      const health = await timed(request(t.app).get('/health'));
      console.log(
        'Temporal frozen:',
        Object.entries({ ...reads, ...writes, health })
          .map(([name, a]) => `${name} ${a.status} in ${a.ms} ms`)
          .join(', '),
      );

      for (const read of Object.values(reads)) {
        expect(read.status).toBe(200);
        expect(read.ms).toBeLessThan(READ_MS);
      }
      // nextRunAt is computed locally: the same answer as before the freeze, without Temporal,
      // from an API that had not seen these tasks as well.
      expect(reads.list.body.data.map((d: { nextRunAt: string }) => d.nextRunAt)).toEqual(
        tasks.map((d) => d.nextRunAt),
      );
      expect(reads.freshGet.body.nextRunAt).toBe(task.nextRunAt);
      for (const write of Object.values(writes)) {
        expect(write).toMatchObject({
          status: 503,
          retryAfter: expect.stringMatching(/^[1-9]\d*$/),
        });
        expect(write.body.detail).toMatch(/Temporal is unreachable/);
        expect(write.ms).toBeLessThan(FAIL_FAST_MS);
      }
      expect(health).toMatchObject({
        status: 503,
        body: { checks: { database: 'up', temporal: 'down' } },
      });
      expect(health.ms).toBeLessThan(FAIL_FAST_MS);
    } finally {
      process.kill(devServer.pid, 'SIGCONT');
    }

    // Nothing the failed writes tried is in the database.
    const rows = await t.orm.em
      .getConnection()
      .execute('select name, status from tasks where name like ? order by name', [`%-${tag}%`]);
    expect(rows).toEqual(tasks.map((d) => ({ name: d.name, status: 'ACTIVE' })));

    const started = Date.now();
    for (;;) {
      const res = await api(t, 'post', `/api/tasks/${task.id}/toggle`);
      if (res.status === 200) break;
      expect(res.status).toBe(503);
      if (Date.now() - started > 20_000) throw new Error('writes did not recover');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    console.log(`Temporal thawed: writes work again after ${Date.now() - started} ms`);
    expect((await api(t, 'get', `/api/tasks/${task.id}`)).body.status).toBe('INACTIVE');
  });
});
