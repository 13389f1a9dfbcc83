import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { TEST_API_KEY, type TestApp } from '../helpers/app';
import { type DeliveryStack, startDeliveryStack } from '../helpers/delivery-stack';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { waitFor } from '../helpers/product';

/**
 * SPEC §14 failure and recovery alerts, end to end (API, Temporal dev server, worker, mock
 * Discord): a task that becomes FAILED posts exactly one alert on ALERT_WEBHOOK_URL (or on its own
 * alertWebhookUrl, then only there) naming it, why, when, with links and no token; its next
 * success posts exactly one "recovered"; an alert webhook that is down never holds up deliveries.
 */
describe('failure and recovery alerts, end to end', () => {
  let discord: MockDiscord;
  let stack: DeliveryStack;
  let t: TestApp;
  const alertHook = `${Date.now()}77`;

  beforeAll(async () => {
    discord = await startMockDiscord();
    stack = await startDeliveryStack({
      name: 'alerts',
      discord,
      env: {
        ALERT_WEBHOOK_URL: discord.webhookUrl(alertHook),
        PUBLIC_URL: 'https://scheduler.example.com/',
        TEMPORAL_UI_URL: 'https://temporal.example.com',
      },
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
  };
  const webhookId = () => `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const statusOf = async (id: string) => (await api.get(`/api/tasks/${id}`)).body.status as string;

  async function createTask(hook: string, fields: Record<string, unknown> = {}) {
    const res = await api.post('/api/tasks', {
      name: `alerting ${randomUUID().slice(0, 8)}`,
      schedule: '@daily',
      webhookUrl: discord.webhookUrl(hook),
      payload: { content: 'hello' },
      maxRetry: 0,
      ...fields,
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; name: string; alertWebhookUrl: string | null };
  }

  /** The embeds posted on an alert webhook, in arrival order. */
  const alertsOn = (hook: string) =>
    discord
      .requests(hook)
      .filter((r) => r.method === 'POST' && r.respondedWith === 200)
      .map(
        (r) =>
          (
            r.body as {
              embeds: {
                title: string;
                description: string;
                fields: { name: string; value: string }[];
              }[];
            }
          ).embeds[0]!,
      );

  it('when a task fails on a 404, then exactly one alert names it with the reason and links and no token; after a resume and a success, exactly one "recovered"', async () => {
    const hook = webhookId();
    const task = await createTask(hook);
    const before = alertsOn(alertHook).length;
    discord.setBehavior(hook, { kind: 'not-found' });
    expect((await api.post(`/api/tasks/${task.id}/trigger`)).status).toBe(202);
    await waitFor('the task FAILED', async () =>
      (await statusOf(task.id)) === 'FAILED' ? true : undefined,
    );
    const [failed] = await waitFor(
      'the failure alert',
      () => {
        const alerts = alertsOn(alertHook).slice(before);
        return alerts.length > 0 ? alerts : undefined;
      },
      30_000,
      100,
    );
    expect(failed!.title).toBe(`Task failed: ${task.name}`);
    expect(failed!.description).toMatch(/HTTP 404/);
    const links = failed!.fields.map((f) => f.value).join('\n');
    expect(links).toContain(`(https://scheduler.example.com/tasks/${task.id})`);
    expect(links).toMatch(
      new RegExp(
        `\\(https://temporal\\.example\\.com/namespaces/default/workflows/task-${task.id}-manual-[^/]+/[0-9a-f-]+/history\\)`,
      ),
    );
    expect(failed!.fields[0]!.value).toMatch(/^<t:\d+:f> \(<t:\d+:R>\)$/);
    const token = discord.webhookUrl(hook).split('/').pop()!;
    const sent = JSON.stringify(discord.requests(alertHook).map((r) => r.body));
    expect(sent).not.toContain(token);

    // Resumed, then a success: one "recovered"; a second success sends nothing more.
    discord.setBehavior(hook);
    expect((await api.post(`/api/tasks/${task.id}/toggle`)).body.status).toBe('ACTIVE');
    for (let run = 0; run < 2; run++) {
      const successes = discord.requests(hook).filter((r) => r.respondedWith === 200).length;
      expect((await api.post(`/api/tasks/${task.id}/trigger`)).status).toBe(202);
      await waitFor(
        'the delivery',
        () =>
          discord.requests(hook).filter((r) => r.respondedWith === 200).length > successes
            ? true
            : undefined,
        30_000,
        100,
      );
    }
    await waitFor(
      'the recovery alert',
      () => (alertsOn(alertHook).length >= before + 2 ? true : undefined),
      30_000,
      100,
    );
    // Anything more would arrive within this long.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const mine = alertsOn(alertHook)
      .slice(before)
      .filter((a) => a.title.endsWith(task.name));
    expect(mine.map((a) => a.title)).toEqual([
      `Task failed: ${task.name}`,
      `Task recovered: ${task.name}`,
    ]);
  });

  it('when a task has its own alert webhook, then its alerts go there only, and the answer masks it', async () => {
    const hook = webhookId();
    const own = webhookId();
    const task = await createTask(hook, { alertWebhookUrl: discord.webhookUrl(own) });
    const ownToken = discord.webhookUrl(own).split('/').pop()!;
    expect(task.alertWebhookUrl).toMatch(new RegExp(`/webhooks/${own}/\\*\\*\\*\\*`));
    expect(JSON.stringify(task)).not.toContain(ownToken);
    const globalBefore = alertsOn(alertHook).length;
    discord.setBehavior(hook, { kind: 'unauthorized' });
    expect((await api.post(`/api/tasks/${task.id}/trigger`)).status).toBe(202);
    const [alert] = await waitFor(
      'the alert on the task’s own webhook',
      () => {
        const alerts = alertsOn(own);
        return alerts.length > 0 ? alerts : undefined;
      },
      30_000,
      100,
    );
    expect(alert!.title).toBe(`Task failed: ${task.name}`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(alertsOn(own)).toHaveLength(1);
    expect(
      alertsOn(alertHook)
        .slice(globalBefore)
        .filter((a) => a.title.endsWith(task.name)),
    ).toEqual([]);
  });

  it('when the alert webhook is down, then the task still fails at once and its deliveries go on while the alert is retried', async () => {
    const hook = webhookId();
    const down = webhookId();
    const task = await createTask(hook, { alertWebhookUrl: discord.webhookUrl(down) });
    discord.setBehavior(down, { kind: 'server-error' });
    discord.setBehavior(hook, { kind: 'not-found' });
    expect((await api.post(`/api/tasks/${task.id}/trigger`)).status).toBe(202);
    await waitFor('the task FAILED', async () =>
      (await statusOf(task.id)) === 'FAILED' ? true : undefined,
    );
    // The task's own deliveries are not held up by its alert.
    discord.setBehavior(hook);
    const delivered = discord.requests(hook).length;
    expect((await api.post(`/api/tasks/${task.id}/trigger`)).status).toBe(202);
    await waitFor(
      'a delivery while the alert webhook fails',
      () => (discord.requests(hook).length > delivered ? true : undefined),
      30_000,
      100,
    );
    expect(discord.requests(down).some((r) => r.respondedWith === 500)).toBe(true);
    expect(alertsOn(down)).toEqual([]);
  });
});
