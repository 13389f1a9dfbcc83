import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import request from 'supertest';
import { createRetentionActivities } from '../../activities/retention.activities';
import { ROTATED_API_KEY, TEST_API_KEY, createTestApp, type TestApp } from '../helpers/app';

/**
 * SPEC §14 Idempotency-Key on POST /api/tasks and POST /api/tasks/:id/trigger: per API key, 24 h,
 * in PostgreSQL; a repeat answers the first answer and creates or delivers nothing more; another
 * body under the same key is a 422; a trigger's workflow id derives from its key, so Temporal
 * refuses a second start even after the first answer was lost.
 */
describe('Idempotency-Key', () => {
  let t: TestApp;
  const token = 'Zk3xQ9vLr-2mPq8sTuVwXyZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ01x9Zq';
  const created: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    for (const id of created) {
      await request(t.app).delete(`/api/tasks/${id}`).set('X-API-Key', TEST_API_KEY);
    }
    await t.close();
  });

  const newTask = (name: string) => ({
    name,
    schedule: '0 0 1 1 *',
    webhookUrl: `https://discord.com/api/webhooks/${Date.now()}/${token}`,
    payload: { content: 'hello' },
  });
  const post = (path: string, key: string | undefined, body?: object, apiKey = TEST_API_KEY) => {
    const req = request(t.app).post(path).set('X-API-Key', apiKey);
    if (key !== undefined) req.set('Idempotency-Key', key);
    return body ? req.send(body) : req;
  };
  const sql = <T>(query: string, params: unknown[] = []) =>
    t.orm.em.getConnection().execute<T[]>(query, params);
  const tasksNamed = async (name: string) =>
    (await sql<{ n: number }>('select count(*)::int as n from tasks where name = ?', [name]))[0]!.n;
  const workflowsOf = async (taskId: string) => {
    const ids: string[] = [];
    for await (const run of t.temporal.client.workflow.list({
      query: `WorkflowId STARTS_WITH "task-${taskId}-manual"`,
    })) {
      ids.push(run.workflowId);
    }
    return ids;
  };

  it('when a task is created twice with one key, then one task exists and both answers are 201 with its id', async () => {
    const key = randomUUID();
    const body = newTask(`idem ${randomUUID().slice(0, 8)}`);
    const first = await post('/api/tasks', key, body);
    const again = await post('/api/tasks', key, body);
    expect([first.status, again.status]).toEqual([201, 201]);
    created.push(first.body.id);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await tasksNamed(body.name)).toBe(1);
    // What is kept to answer again never holds the webhook token.
    const kept = await sql<{ response: unknown; request_hash: string }>(
      'select response, request_hash from idempotency_keys where key = ?',
      [key],
    );
    expect(JSON.stringify(kept)).not.toContain(token);
    expect(kept[0]!.request_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('when the same key comes with another body, then 422 and nothing is created', async () => {
    const key = randomUUID();
    const first = await post('/api/tasks', key, newTask(`idem ${randomUUID().slice(0, 8)}`));
    expect(first.status).toBe(201);
    created.push(first.body.id);
    const other = newTask(`other ${randomUUID().slice(0, 8)}`);
    const res = await post('/api/tasks', key, other);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      status: 422,
      type: 'https://discord-task-scheduler.dev/problems/unprocessable',
      detail: expect.stringMatching(/used with another request/),
    });
    expect(await tasksNamed(other.name)).toBe(0);
  });

  it('when two API keys use the same Idempotency-Key, then each gets its own task (keys are per API key)', async () => {
    const key = randomUUID();
    const body = newTask(`idem ${randomUUID().slice(0, 8)}`);
    const mine = await post('/api/tasks', key, body);
    const theirs = await post('/api/tasks', key, body, ROTATED_API_KEY);
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    created.push(mine.body.id, theirs.body.id);
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(await tasksNamed(body.name)).toBe(2);
  });

  it('when a request with a key fails, then the key is given back: the corrected repeat runs', async () => {
    const key = randomUUID();
    const body = newTask(`idem ${randomUUID().slice(0, 8)}`);
    const refused = await post('/api/tasks', key, { ...body, schedule: '61 * * * *' });
    expect(refused.status).toBe(400);
    const accepted = await post('/api/tasks', key, body);
    expect(accepted.status).toBe(201);
    created.push(accepted.body.id);
  });

  it('when a task is triggered twice with one key, then both answers name one workflow and Temporal has one', async () => {
    const task = await post('/api/tasks', undefined, newTask(`idem ${randomUUID().slice(0, 8)}`));
    created.push(task.body.id);
    const key = randomUUID();
    const first = await post(`/api/tasks/${task.body.id}/trigger`, key);
    const again = await post(`/api/tasks/${task.body.id}/trigger`, key);
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.body).toEqual(first.body);
    expect(first.body.workflowId).toMatch(
      new RegExp(`^task-${task.body.id}-manual-key-[0-9a-f]{32}$`),
    );
    expect(await workflowsOf(task.body.id)).toEqual([first.body.workflowId]);

    // The first answer lost (its key given back, as after a 503): Temporal refuses the second
    // start of the derived workflow id, and the answer names the same workflow.
    await sql('delete from idempotency_keys where key = ?', [key]);
    const afterLoss = await post(`/api/tasks/${task.body.id}/trigger`, key);
    expect(afterLoss.status).toBe(202);
    expect(afterLoss.body).toEqual(first.body);
    expect(await workflowsOf(task.body.id)).toEqual([first.body.workflowId]);
    // Without a key, each trigger is a delivery of its own.
    expect((await post(`/api/tasks/${task.body.id}/trigger`, undefined)).status).toBe(202);
    expect(await workflowsOf(task.body.id)).toHaveLength(2);
  });

  it('when the first request with a key is still being handled, then a repeat is 409; once its claim is stale, the key can be claimed again', async () => {
    const key = randomUUID();
    const body = newTask(`idem ${randomUUID().slice(0, 8)}`);
    const first = await post('/api/tasks', key, body);
    created.push(first.body.id);
    await sql('update idempotency_keys set status = null, response = null where key = ?', [key]);
    const busy = await post('/api/tasks', key, body);
    expect(busy.status).toBe(409);
    expect(busy.body.detail).toMatch(/still being handled/);
    // A claim whose request died (never answered) is free after 2 minutes.
    await sql(
      `update idempotency_keys set created_at = now() - interval '3 minutes' where key = ?`,
      [key],
    );
    const again = await post('/api/tasks', key, { ...body, name: `${body.name} 2` });
    expect(again.status).toBe(201);
    created.push(again.body.id);
  });

  it.each([
    ['with a space', 'has space'],
    ['of 256 characters', 'k'.repeat(256)],
    ['empty', ''],
  ])('when the key is %s, then 400 naming the header', async (_what, key) => {
    const res = await post('/api/tasks', key, newTask(`idem ${randomUUID().slice(0, 8)}`));
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([{ path: 'headers.idempotency-key', message: expect.any(String) }]),
    );
    expect(
      res.body.errors.every((e: { path: string }) => e.path === 'headers.idempotency-key'),
    ).toBe(true);
  });

  it('when a key is older than 24 hours, then it is a new key, and the daily prune removes it', async () => {
    const key = randomUUID();
    const body = newTask(`idem ${randomUUID().slice(0, 8)}`);
    const first = await post('/api/tasks', key, body);
    created.push(first.body.id);
    await sql(
      `update idempotency_keys set created_at = now() - interval '25 hours' where key = ?`,
      [key],
    );
    const later = await post('/api/tasks', key, body);
    expect(later.status).toBe(201);
    created.push(later.body.id);
    expect(later.body.id).not.toBe(first.body.id);

    const fresh = randomUUID();
    await sql(
      `insert into idempotency_keys (api_key_id, key, request_hash, created_at)
       values ('test', ?, 'h', now() - interval '25 hours'), ('test', ?, 'h', now())`,
      [`${fresh}-old`, fresh],
    );
    await new MockActivityEnvironment().run(createRetentionActivities({ orm: t.orm }).pruneLogs, {
      before: new Date(Date.now() - 365 * 24 * 3_600_000).toISOString(),
      batchSize: 100,
    });
    const left = await sql<{ key: string }>(
      'select key from idempotency_keys where key like ? order by key',
      [`${fresh}%`],
    );
    expect(left).toEqual([{ key: fresh }]);
  });
});
