import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { TEST_API_KEY, type TestApp } from '../helpers/app';
import { type DeliveryStack, startDeliveryStack } from '../helpers/delivery-stack';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';

/**
 * Discord's limits and outages end to end (SPEC §13): schedules on the real Temporal dev server, a
 * worker, and the mock Discord with Discord's buckets (5 per 2 s per webhook) and outage switches.
 */
describe("Discord's limits and outages, end to end", () => {
  let discord: MockDiscord;
  let stack: DeliveryStack;
  let t: TestApp;

  beforeAll(async () => {
    discord = await startMockDiscord();
    stack = await startDeliveryStack({
      name: 'discord-limits',
      discord,
      env: { RETRY_BACKOFF_COEFFICIENT: '2', RETRY_MAX_INTERVAL: '5s' },
    });
    t = stack.t;
  });
  afterAll(async () => {
    await stack?.close();
    await discord?.close();
  });

  const api = {
    post: (p: string, body?: object) =>
      request(t.app).post(p).set('X-API-Key', TEST_API_KEY).send(body),
    get: (p: string) => request(t.app).get(p).set('X-API-Key', TEST_API_KEY),
    delete: (p: string) => request(t.app).delete(p).set('X-API-Key', TEST_API_KEY),
  };

  async function createTask(webhookId: string, schedule: string, maxRetry: number) {
    const res = await api.post('/api/tasks', {
      name: `limits ${randomUUID().slice(0, 8)}`,
      schedule,
      webhookUrl: discord.webhookUrl(webhookId),
      payload: { content: 'run {{execution.attempt}}' },
      maxRetry,
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  async function rowsOf(taskIds: string[]) {
    return t.orm.em
      .fork()
      .getConnection()
      .execute<{ task_id: string; status: string; http_status: number | null; message: string }[]>(
        'select task_id, status, http_status, message from task_logs where task_id = any(?::uuid[]) order by execution_time, attempt',
        [`{${taskIds.join(',')}}`],
      );
  }

  async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const webhookId = () => `${Date.now()}${Math.floor(Math.random() * 1e6)}`;

  it("when 20 tasks on one webhook come due on the same minute with maxRetry 0, then each is delivered once, spread over Discord's window, with at most one 429 and none FAILED", async () => {
    const hook = webhookId();
    // The next whole minute at least 15 s away, as a daily cron in UTC: every task fires then.
    const due = new Date(Math.ceil((Date.now() + 15_000) / 60_000) * 60_000);
    const schedule = `${due.getUTCMinutes()} ${due.getUTCHours()} * * *`;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await createTask(hook, schedule, 0));

    const rows = await waitFor(
      '20 SUCCESS rows',
      async () => {
        const found = await rowsOf(ids);
        return found.filter((r) => r.status === 'SUCCESS').length >= 20 ? found : undefined;
      },
      due.getTime() - Date.now() + 60_000,
    );
    await new Promise((r) => setTimeout(r, 2_000)); // a late duplicate would show by now
    const delivered = discord.requests(hook).filter((r) => r.respondedWith === 200);
    const times = delivered.map((r) => r.receivedAt.getTime());
    const statuses = await Promise.all(
      ids.map(async (id) => (await api.get(`/api/tasks/${id}`)).body.status as string),
    );
    const figures = {
      requests: discord.requests(hook).length,
      delivered: delivered.length,
      rateLimited: discord.rateLimited(hook),
      successRows: rows.filter((r) => r.status === 'SUCCESS').length,
      tasksWithOneSuccess: ids.filter(
        (id) => rows.filter((r) => r.task_id === id && r.status === 'SUCCESS').length === 1,
      ).length,
      failed: statuses.filter((s) => s === 'FAILED').length,
      firstAfterDueMs: Math.min(...times) - due.getTime(),
      spreadMs: Math.max(...times) - Math.min(...times),
    };
    console.log(`burst on one webhook: ${JSON.stringify(figures)}`);
    expect(figures).toMatchObject({
      delivered: 20,
      successRows: 20,
      tasksWithOneSuccess: 20,
      failed: 0,
    });
    expect(figures.rateLimited).toBeLessThanOrEqual(1);
    // 5 per 2 s: windows at 0, 2, 4 and 6 s; the pacing must not serialise them much further.
    expect(figures.spreadMs).toBeGreaterThanOrEqual(5_500);
    expect(figures.spreadMs).toBeLessThan(15_000);
    for (const id of ids) await api.delete(`/api/tasks/${id}`);
  }, 150_000);

  it('when one webhook alone answers 500 while the others succeed, then its task is FAILED after maxRetry + 1 attempts and the others are delivered', async () => {
    const failing = webhookId();
    discord.setBehavior(failing, { kind: 'server-error' });
    const others = [webhookId(), webhookId(), webhookId()];
    const failingTask = await createTask(failing, '0 0 1 1 *', 1);
    const otherTasks = await Promise.all(others.map((hook) => createTask(hook, '0 0 1 1 *', 1)));

    for (const id of [failingTask, ...otherTasks]) {
      expect((await api.post(`/api/tasks/${id}/trigger`)).status).toBe(202);
    }
    const task = await waitFor(
      'the failing task to become FAILED',
      async () => {
        const body = (await api.get(`/api/tasks/${failingTask}`)).body as { status: string };
        return body.status === 'FAILED' ? body : undefined;
      },
      30_000,
    );
    const rows = await rowsOf([failingTask]);
    expect(task.status).toBe('FAILED');
    expect(rows.map((r) => [r.status, r.http_status])).toEqual([
      ['RETRYING', 500],
      ['FAILED', 500],
    ]);
    expect(discord.requests(failing)).toHaveLength(2);
    const otherRows = await waitFor(
      'the other three delivered',
      async () => {
        const found = await rowsOf(otherTasks);
        return found.filter((r) => r.status === 'SUCCESS').length === 3 ? found : undefined;
      },
      30_000,
    );
    expect(otherRows.map((r) => r.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    discord.setBehavior(failing);
  });

  it('when Discord answers 429 twice to a task with maxRetry 0, then the run waits and delivers on the third request, each attempt logged', async () => {
    const hook = webhookId();
    discord.setBehavior(
      hook,
      { kind: 'rate-limited', retryAfter: 0.3 },
      { kind: 'rate-limited', retryAfter: 0.3 },
      { kind: 'success' },
    );
    const id = await createTask(hook, '0 0 1 1 *', 0);
    expect((await api.post(`/api/tasks/${id}/trigger`)).status).toBe(202);

    const rows = await waitFor(
      'a SUCCESS row',
      async () => {
        const found = await rowsOf([id]);
        return found.some((r) => r.status === 'SUCCESS') ? found : undefined;
      },
      30_000,
    );
    expect(rows.map((r) => [r.status, r.http_status])).toEqual([
      ['RETRYING', 429],
      ['RETRYING', 429],
      ['SUCCESS', 200],
    ]);
    expect((await api.get(`/api/tasks/${id}`)).body.status).toBe('ACTIVE');
  });

  it('when Discord answers 503 to everything and then refuses connections, then a task with maxRetry 0 waits it out, is not FAILED, and is delivered once Discord is back', async () => {
    const hook = webhookId();
    const id = await createTask(hook, '0 0 1 1 *', 0);
    await discord.setOutage('unavailable');
    expect((await api.post(`/api/tasks/${id}/trigger`)).status).toBe(202);
    await waitFor(
      'two attempts during the 503s',
      async () => ((await rowsOf([id])).length >= 2 ? true : undefined),
      30_000,
    );
    await discord.setOutage('refuse');
    await waitFor(
      'an attempt while refused',
      async () => ((await rowsOf([id])).length >= 3 ? true : undefined),
      30_000,
    );
    expect((await api.get(`/api/tasks/${id}`)).body.status).toBe('ACTIVE');
    await discord.setOutage('none');

    const rows = await waitFor(
      'the delivery after the outage',
      async () => {
        const found = await rowsOf([id]);
        return found.some((r) => r.status === 'SUCCESS') ? found : undefined;
      },
      30_000,
    );
    const waits = rows.filter((r) => r.status === 'RETRYING');
    expect(rows.at(-1)?.status).toBe('SUCCESS');
    expect(rows.filter((r) => r.status === 'SUCCESS')).toHaveLength(1);
    expect(rows.filter((r) => r.status === 'FAILED')).toHaveLength(0);
    expect(waits.every((r) => r.message.includes('not counted against maxRetry'))).toBe(true);
    expect(waits.some((r) => r.http_status === 503)).toBe(true);
    expect(
      waits.some((r) => r.http_status === null && /ECONNREFUSED|ECONNRESET/.test(r.message)),
    ).toBe(true);
    expect((await api.get(`/api/tasks/${id}`)).body).toMatchObject({
      status: 'ACTIVE',
      lastExecutionStatus: 'SUCCESS',
    });
  }, 90_000);
});
