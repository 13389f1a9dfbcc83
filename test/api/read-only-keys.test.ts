import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { loadOpenApiDocument } from '../../src/api/openapi';
import { READ_ONLY_API_KEY, TEST_API_KEY, createTestApp, type TestApp } from '../helpers/app';

/**
 * SPEC §14 read-only keys (API_KEYS_READ_ONLY): every GET and the schedule preview answer as for a
 * full key; every other operation of the OpenAPI document is a 403 problem and changes nothing
 * (no row, no schedule change, no delivery started).
 */
describe('read-only API keys', () => {
  let t: TestApp;
  let taskId: string;
  const token = 'Zk3xQ9vLr-2mPq8sTuVwXyZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ01x9Zq';

  beforeAll(async () => {
    t = await createTestApp();
    const created = await request(t.app)
      .post('/api/tasks')
      .set('X-API-Key', TEST_API_KEY)
      .send({
        name: `read-only ${randomUUID().slice(0, 8)}`,
        schedule: '@daily',
        webhookUrl: `https://discord.com/api/webhooks/${Date.now()}/${token}`,
        payload: { content: 'hello' },
      });
    expect(created.status).toBe(201);
    taskId = created.body.id;
  });
  afterAll(async () => {
    await request(t.app).delete(`/api/tasks/${taskId}`).set('X-API-Key', TEST_API_KEY);
    await t.close();
  });

  const as = (key: string) => ({
    call: (method: string, path: string, body?: object) => {
      const agent = request(t.app);
      const verb = method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete';
      const req = agent[verb](path).set('X-API-Key', key);
      return body ? req.send(body) : req;
    },
  });

  /** Every operation of the contract under /api, with its path's {id} filled in. */
  const operations = () => {
    const doc = loadOpenApiDocument();
    return Object.entries(doc.paths).flatMap(([path, item]) =>
      ['get', 'post', 'patch', 'delete', 'put']
        .filter((method) => item && method in item && path.startsWith('/api/'))
        .map((method) => ({ method: method.toUpperCase(), path })),
    );
  };
  const fill = (path: string) => path.replace('{id}', taskId);

  it('when a read-only key calls every GET of the contract and the schedule preview, then each answers 200', async () => {
    const reads = operations().filter(
      (op) => op.method === 'GET' || op.path === '/api/schedules/preview',
    );
    expect(reads.map((op) => `${op.method} ${op.path}`).sort()).toEqual([
      'GET /api/config',
      'GET /api/dashboard/stats',
      'GET /api/dashboard/timeseries',
      'GET /api/logs',
      'GET /api/tasks',
      'GET /api/tasks/{id}',
      'GET /api/tasks/{id}/logs',
      'POST /api/schedules/preview',
    ]);
    for (const op of reads) {
      const res = await as(READ_ONLY_API_KEY).call(
        op.method,
        fill(op.path),
        op.method === 'POST' ? { schedule: '@daily' } : undefined,
      );
      expect([op.method, op.path, res.status]).toEqual([op.method, op.path, 200]);
    }
  });

  it('when a read-only key calls any other operation of the contract, then 403 problem and nothing changed', async () => {
    const before = await as(TEST_API_KEY).call('GET', `/api/tasks/${taskId}`);
    const schedule = await t.temporal.client.schedule.getHandle(`task-${taskId}`).describe();
    const writes = operations().filter(
      (op) => op.method !== 'GET' && op.path !== '/api/schedules/preview',
    );
    expect(writes.map((op) => `${op.method} ${op.path}`).sort()).toEqual([
      'DELETE /api/tasks/{id}',
      'PATCH /api/tasks/{id}',
      'POST /api/tasks',
      'POST /api/tasks/{id}/toggle',
      'POST /api/tasks/{id}/trigger',
    ]);
    const name = `never ${randomUUID().slice(0, 8)}`;
    for (const op of writes) {
      const res = await as(READ_ONLY_API_KEY).call(op.method, fill(op.path), {
        name,
        schedule: '@hourly',
        webhookUrl: `https://discord.com/api/webhooks/1/${token}`,
        payload: { content: 'changed' },
      });
      expect([op.method, op.path, res.status]).toEqual([op.method, op.path, 403]);
      expect(res.type).toBe('application/problem+json');
      expect(res.body).toMatchObject({
        type: 'https://discord-task-scheduler.dev/problems/forbidden',
        status: 403,
        detail: expect.stringMatching(/read-only/),
      });
    }
    const after = await as(TEST_API_KEY).call('GET', `/api/tasks/${taskId}`);
    expect(after.body).toEqual(before.body);
    const rows = await t.orm.em
      .getConnection()
      .execute('select count(*)::int as n from tasks where name = ?', [name]);
    expect(rows).toEqual([{ n: 0 }]);
    const scheduleAfter = await t.temporal.client.schedule.getHandle(`task-${taskId}`).describe();
    expect(scheduleAfter.state.paused).toBe(schedule.state.paused);
    expect(scheduleAfter.info.recentActions).toEqual(schedule.info.recentActions);
    const started = t.temporal.client.workflow.list({
      query: `WorkflowId STARTS_WITH "task-${taskId}"`,
    });
    const runs: string[] = [];
    for await (const run of started) runs.push(run.workflowId);
    expect(runs).toEqual([]);
  });

  it('when the console asks what its key may do, then a read-only key is told read-only and a full key read-write', async () => {
    const reader = await as(READ_ONLY_API_KEY).call('GET', '/api/config');
    expect(reader.body.access).toBe('read-only');
    const writer = await as(TEST_API_KEY).call('GET', '/api/config');
    expect(writer.body.access).toBe('read-write');
  });

  it('when a read-only key is wrong by one character, then 401 as for any wrong key', async () => {
    const res = await as(`${READ_ONLY_API_KEY.slice(0, -1)}x`).call('GET', '/api/tasks');
    expect(res.status).toBe(401);
  });
});
