import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { TEST_API_KEY, type TestApp } from '../helpers/app';
import { type DeliveryStack, startDeliveryStack } from '../helpers/delivery-stack';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { waitFor } from '../helpers/product';

/**
 * SPEC §14 one-off and bounded tasks, end to end (API, Temporal dev server, worker, mock Discord):
 * an `@at` runs once on time and the task becomes COMPLETED; maxRuns, endAt and startAt bound the
 * scheduled runs exactly, counted at the mock Discord.
 */
describe('one-off and bounded tasks, end to end', () => {
  let discord: MockDiscord;
  let stack: DeliveryStack;
  let t: TestApp;

  beforeAll(async () => {
    discord = await startMockDiscord();
    stack = await startDeliveryStack({ name: 'bounds', discord });
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
  const webhookId = () => `${Date.now()}${Math.floor(Math.random() * 1e6)}`;

  async function createTask(hook: string, fields: Record<string, unknown>) {
    const res = await api.post('/api/tasks', {
      name: `bounded ${randomUUID().slice(0, 8)}`,
      webhookUrl: discord.webhookUrl(hook),
      payload: { content: 'scheduled {{execution.scheduledTime}}' },
      maxRetry: 0,
      ...fields,
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; nextRunAt: string | null };
  }

  /** The posts Discord took on a webhook, in arrival order. */
  const postsOn = (hook: string) =>
    discord.requests(hook).filter((r) => r.method === 'POST' && r.respondedWith === 200);

  const task = async (id: string) => (await api.get(`/api/tasks/${id}`)).body;

  /** A whole second at least `ms` ahead, as wall-clock fields in `timeZone`. */
  function localAhead(ms: number, timeZone: string): { local: string; instant: Date } {
    const instant = new Date(Math.ceil((Date.now() + ms) / 1000) * 1000);
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-CA', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
        .formatToParts(instant)
        .map((p) => [p.type, p.value]),
    );
    return {
      local: `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`,
      instant,
    };
  }

  it.each([
    ['a local time in America/New_York', 'America/New_York', false],
    ['a time with Z', 'Europe/Berlin', true],
  ])(
    'when an @at task is given %s, then it is delivered once within 2 s of its time, then COMPLETED with nextRunAt null',
    async (_what, timezone, withZ) => {
      const hook = webhookId();
      const { local, instant } = localAhead(8_000, timezone);
      const schedule = withZ ? `@at ${instant.toISOString()}` : `@at ${local}`;
      const created = await createTask(hook, { schedule, timezone });
      expect(created.nextRunAt).toBe(instant.toISOString());

      const completed = await waitFor(
        'the one-off task to complete',
        async () => {
          const current = await task(created.id);
          return current.status === 'COMPLETED' ? current : undefined;
        },
        30_000,
      );
      const posts = postsOn(hook);
      expect(posts).toHaveLength(1);
      const lateMs = posts[0]!.receivedAt.getTime() - instant.getTime();
      console.log(`@at (${schedule} in ${timezone}): delivered ${lateMs} ms after its time`);
      expect(lateMs).toBeGreaterThanOrEqual(0);
      expect(lateMs).toBeLessThan(2_000);
      expect(completed).toMatchObject({ status: 'COMPLETED', nextRunAt: null });
      const description = await t.temporal.client.schedule
        .getHandle(`task-${created.id}`)
        .describe();
      expect(description.state.paused).toBe(true);
      expect(description.info.nextActionTimes).toEqual([]);
      // Nothing more comes: a one-off fires once.
      await sleep(3_000);
      expect(postsOn(hook)).toHaveLength(1);
      // Still readable, with its log.
      const logs = (await api.get(`/api/tasks/${created.id}/logs`)).body;
      expect(logs.data.map((l: { status: string }) => l.status)).toEqual(['SUCCESS']);
    },
  );

  it('when an @every 4s task has maxRuns 3, then exactly 3 scheduled deliveries happen (a manual run does not count), then it is COMPLETED with runsLeft 0', async () => {
    const hook = webhookId();
    const created = await createTask(hook, { schedule: '@every 4s', maxRuns: 3 });
    await waitFor('the first scheduled run', () => (postsOn(hook).length >= 1 ? true : undefined));
    const triggered = await api.post(`/api/tasks/${created.id}/trigger`);
    expect(triggered.status).toBe(202);

    const completed = await waitFor(
      'the task to complete',
      async () => {
        const current = await task(created.id);
        return current.status === 'COMPLETED' ? current : undefined;
      },
      40_000,
    );
    expect(completed).toMatchObject({ maxRuns: 3, runsLeft: 0, nextRunAt: null });
    // Two more intervals: nothing more is scheduled.
    await sleep(9_000);
    expect(postsOn(hook)).toHaveLength(4);
    const logs = (await api.get(`/api/tasks/${created.id}/logs?limit=100`)).body.data as {
      status: string;
      workflowId: string;
      scheduledTime: string | null;
    }[];
    expect(logs.filter((l) => l.status === 'SUCCESS')).toHaveLength(4);
    expect(logs.filter((l) => l.scheduledTime !== null)).toHaveLength(3);
    expect(logs.filter((l) => l.workflowId.includes('-manual-'))).toHaveLength(1);
    const description = await t.temporal.client.schedule.getHandle(`task-${created.id}`).describe();
    expect(description.state.remainingActions).toBe(0);
    expect(description.state.paused).toBe(true);
  });

  it('when a task has endAt, then no run is scheduled after it and the task becomes COMPLETED; with startAt, none before it', async () => {
    const endHook = webhookId();
    const endAt = new Date(Math.ceil((Date.now() + 9_000) / 1000) * 1000);
    const ending = await createTask(endHook, { schedule: '@every 2s', endAt: endAt.toISOString() });

    const startHook = webhookId();
    const startAt = new Date(Math.ceil((Date.now() + 6_000) / 1000) * 1000);
    const starting = await createTask(startHook, {
      schedule: '@every 2s',
      startAt: startAt.toISOString(),
    });
    expect(new Date(starting.nextRunAt!).getTime()).toBeGreaterThanOrEqual(startAt.getTime());

    const completed = await waitFor(
      'the bounded task to complete',
      async () => {
        const current = await task(ending.id);
        return current.status === 'COMPLETED' ? current : undefined;
      },
      30_000,
    );
    expect(completed.nextRunAt).toBeNull();
    await sleep(4_000);
    const endPosts = postsOn(endHook);
    expect(endPosts.length).toBeGreaterThanOrEqual(3);
    // Each post carries its scheduled time: none after endAt.
    const scheduledTimes = endPosts.map((r) =>
      Date.parse(
        String((r.body as { content?: string } | undefined)?.content).replace('scheduled ', ''),
      ),
    );
    expect(scheduledTimes.filter((at) => at > endAt.getTime())).toEqual([]);

    const startPosts = postsOn(startHook);
    expect(startPosts.length).toBeGreaterThanOrEqual(2);
    const startTimes = startPosts.map((r) =>
      Date.parse(
        String((r.body as { content?: string } | undefined)?.content).replace('scheduled ', ''),
      ),
    );
    expect(startTimes.filter((at) => at < startAt.getTime())).toEqual([]);
    expect(Math.min(...startPosts.map((r) => r.receivedAt.getTime()))).toBeGreaterThanOrEqual(
      startAt.getTime(),
    );
    expect((await task(starting.id)).status).toBe('ACTIVE');
    await api.delete(`/api/tasks/${starting.id}`);
  });
});
