import request from 'supertest';
import { createMetrics, type Metrics } from '../../src/metrics';
import { TEST_API_KEY, type TestApp } from '../helpers/app';
import { type DeliveryStack, startDeliveryStack } from '../helpers/delivery-stack';
import { type MockBehavior, type MockDiscord, startMockDiscord } from '../helpers/mock-discord';

/** Value of one sample line (`name{labels} value`) in a Prometheus text exposition; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split('}')[0] ?? '';
    if (wanted.every((pair) => labelText.includes(pair))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

describe('GET /metrics of a process running the API and a worker (ROLE=all)', () => {
  let discord: MockDiscord;
  let metrics: Metrics;
  let stack: DeliveryStack;
  let t: TestApp;

  beforeAll(async () => {
    discord = await startMockDiscord();
    metrics = createMetrics();
    stack = await startDeliveryStack({
      name: 'metrics',
      discord,
      env: { RETRY_MAX_INTERVAL: '1s' },
      metrics,
    });
    t = stack.t;
  });
  afterAll(async () => {
    await stack?.close();
    await discord?.close();
  });

  async function deliver(
    schedule: string,
    behaviors: MockBehavior[],
    maxRetry: number,
    webhookId = `${Date.now()}${Math.floor(Math.random() * 1e6)}`,
  ): Promise<string> {
    discord.setBehavior(webhookId, ...behaviors);
    const created = await request(t.app)
      .post('/api/tasks')
      .set('X-API-Key', TEST_API_KEY)
      .send({
        name: `metrics ${webhookId}`,
        schedule,
        webhookUrl: discord.webhookUrl(webhookId),
        payload: { content: 'x' },
        maxRetry,
      });
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  async function runToEnd(taskId: string): Promise<void> {
    const triggered = await request(t.app)
      .post(`/api/tasks/${taskId}/trigger`)
      .set('X-API-Key', TEST_API_KEY);
    expect(triggered.status).toBe(202);
    await t.temporal.client.workflow
      .getHandle(triggered.body.workflowId as string)
      .result()
      .catch(() => undefined);
  }

  it('when deliveries succeed, are retried and fail, then attempts, outcomes, retries, latency and the Temporal SDK worker metrics are exposed', async () => {
    const retried = await deliver('0 0 1 1 *', [{ kind: 'server-error' }, { kind: 'success' }], 2);
    await runToEnd(retried);
    const rejected = await deliver('0 0 1 1 *', [{ kind: 'not-found' }], 2);
    await runToEnd(rejected);
    // A scheduled run carries its scheduled time, from which the delivery latency is measured.
    const webhookId = `${Date.now()}1`;
    const scheduled = await deliver('@every 1s', [{ kind: 'success' }], 0, webhookId);
    await discord.waitForRequests(1, { webhookId, timeoutMs: 20_000 });
    await request(t.app)
      .delete(`/api/tasks/${scheduled}`)
      .set('X-API-Key', TEST_API_KEY)
      .expect(204);

    const text = await eventuallyText(
      () => request(t.app).get('/metrics'),
      (body) => sample(body, 'discord_delivery_latency_seconds_count', { outcome: 'success' }) >= 1,
    );

    expect(
      sample(text, 'discord_delivery_attempts_total', { outcome: 'success' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'discord_delivery_attempts_total', { outcome: 'server_error' })).toBe(1);
    expect(sample(text, 'discord_delivery_attempts_total', { outcome: 'rejected' })).toBe(1);
    expect(sample(text, 'discord_deliveries_total', { outcome: 'success' })).toBeGreaterThanOrEqual(
      2,
    );
    expect(sample(text, 'discord_deliveries_total', { outcome: 'failed' })).toBe(1);
    expect(sample(text, 'discord_delivery_retries_total', { reason: 'server_error' })).toBe(1);
    expect(
      sample(text, 'discord_delivery_latency_seconds_count', { outcome: 'success' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'discord_webhook_request_duration_seconds_count', { outcome: 'rejected' }),
    ).toBe(1);
    // HTTP metrics of the API, and the Temporal SDK's own worker metrics, in the same output.
    expect(
      sample(text, 'http_requests_total', { method: 'POST', route: '/api/tasks', status: '201' }),
    ).toBe(3);
    expect(text).toMatch(/^temporal_worker_start\{/m);
    expect(text).toMatch(
      /^temporal_activity_execution_latency_(bucket|count)\{.*activity_type="deliverWebhook"/m,
    );
    // One exposition: no metric family is declared twice by the two exporters.
    const families = text
      .split('\n')
      .filter((line) => line.startsWith('# TYPE '))
      .map((line) => line.split(' ')[2]);
    expect(families.length).toBeGreaterThan(10);
    expect(new Set(families).size).toBe(families.length);
  }, 90_000);

  it('when Discord rate-limits, rejects a token and goes down, then 429s, invalid requests, bucket waits and the outage state are exposed', async () => {
    const limited = await deliver(
      '0 0 1 1 *',
      [{ kind: 'rate-limited', retryAfter: 0.2 }, { kind: 'success' }],
      0,
    );
    await runToEnd(limited);
    const unauthorized = await deliver('0 0 1 1 *', [{ kind: 'unauthorized' }], 0);
    await runToEnd(unauthorized);
    const scrape = async () => (await request(t.app).get('/metrics')).text;
    const origin = discord.url;

    await discord.setOutage('unavailable');
    const during = await deliver('0 0 1 1 *', [{ kind: 'success' }], 0);
    const triggered = await request(t.app)
      .post(`/api/tasks/${during}/trigger`)
      .set('X-API-Key', TEST_API_KEY);
    expect(triggered.status).toBe(202);
    const down = await eventuallyText(
      () => request(t.app).get('/metrics'),
      (body) => sample(body, 'discord_unreachable', { origin }) === 1,
      20_000,
    );
    await discord.setOutage('none');
    await t.temporal.client.workflow.getHandle(triggered.body.workflowId as string).result();
    const text = await scrape();

    expect(sample(down, 'discord_unreachable', { origin })).toBe(1);
    expect(
      sample(down, 'discord_delivery_attempts_total', { outcome: 'discord_down' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'discord_unreachable', { origin })).toBe(0);
    expect(sample(text, 'discord_rate_limited_total', { scope: 'webhook' })).toBe(1);
    expect(sample(text, 'discord_invalid_requests_total', { status: '429' })).toBe(1);
    expect(sample(text, 'discord_invalid_requests_total', { status: '401' })).toBe(1);
    expect(sample(text, 'discord_invalid_budget_paused')).toBe(0);
    expect(text).toMatch(/^discord_bucket_wait_seconds_count /m);
  }, 60_000);
});

async function eventuallyText(
  get: () => PromiseLike<{ text: string }>,
  done: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { text } = await get();
    if (done(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
}
