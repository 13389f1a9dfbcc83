import { randomUUID } from 'node:crypto';
import { bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { type RunningWorker, startWorker } from '../../src/main/worker';
import { WORKFLOWS_PATH } from '../../src/temporal/workflow-bundle';
import { createTestApp, TEST_API_KEY, testEnv, type TestApp } from '../helpers/app';
import { type MockBehavior, type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { silentLogger, startFromSources } from '../helpers/process';

interface LogRow {
  status: string;
  retryCount: number;
  attempt: number;
  httpStatus: number | null;
  message: string | null;
  workflowId: string;
}

describe('delivery end to end: schedule -> workflow -> activity -> mock Discord -> logs', () => {
  let discord: MockDiscord;
  let t: TestApp;
  let worker: RunningWorker;
  let env: NodeJS.ProcessEnv;
  let workflowBundle: { code: string };

  beforeAll(async () => {
    discord = await startMockDiscord();
    env = {
      ...process.env,
      TEMPORAL_TASK_QUEUE: `e2e-delivery-${randomUUID()}`,
      WEBHOOK_ALLOWED_ORIGINS: discord.url,
      WEBHOOK_TIMEOUT_MS: '1000',
      RETRY_INITIAL_INTERVAL: '1s',
      RETRY_BACKOFF_COEFFICIENT: '3',
      RETRY_MAX_INTERVAL: '5s',
      LOG_LEVEL: 'warn',
    };
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: silentLogger,
    });
    t = await createTestApp({ env });
    worker = await startWorker({
      config: loadConfig(env),
      logger: pino({ level: 'silent' }),
      databaseUrl: testEnv().databaseUrl,
      temporalAddress: testEnv().temporalAddress,
      workflowBundle,
    });
  });
  afterAll(async () => {
    await worker?.shutdown();
    await t?.close();
    await discord?.close();
  });

  const api = {
    post: (p: string, body?: object) =>
      request(t.app).post(p).set('X-API-Key', TEST_API_KEY).send(body),
    get: (p: string) => request(t.app).get(p).set('X-API-Key', TEST_API_KEY),
    delete: (p: string) => request(t.app).delete(p).set('X-API-Key', TEST_API_KEY),
  };

  async function createTask(
    options: {
      maxRetry?: number;
      schedule?: string;
      behaviors?: MockBehavior[];
      payload?: object;
    } = {},
  ) {
    const webhookId = String(Date.now()) + String(Math.floor(Math.random() * 1e6));
    if (options.behaviors) discord.setBehavior(webhookId, ...options.behaviors);
    const res = await api.post('/api/tasks', {
      name: `delivery ${randomUUID().slice(0, 8)}`,
      schedule: options.schedule ?? '0 0 1 1 *',
      webhookUrl: discord.webhookUrl(webhookId),
      payload: options.payload ?? {
        content: 'Hello from {{task.name}}, attempt {{execution.attempt}}',
      },
      maxRetry: options.maxRetry ?? 3,
    });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, name: res.body.name as string, webhookId };
  }

  async function trigger(
    taskId: string,
  ): Promise<{ workflowId: string; outcome: 'completed' | 'failed' }> {
    const res = await api.post(`/api/tasks/${taskId}/trigger`);
    expect(res.status).toBe(202);
    const workflowId = res.body.workflowId as string;
    const outcome = await t.temporal.client.workflow
      .getHandle(workflowId)
      .result()
      .then(
        () => 'completed' as const,
        () => 'failed' as const,
      );
    return { workflowId, outcome };
  }

  async function logsOf(taskId: string): Promise<LogRow[]> {
    const rows = await t.orm.em.getConnection().execute<
      {
        status: string;
        retry_count: number;
        attempt: number;
        http_status: number | null;
        message: string | null;
        workflow_id: string;
      }[]
    >('select status, retry_count, attempt, http_status, message, workflow_id from task_logs where task_id = ? order by execution_time, attempt', [taskId]);
    return rows.map((r) => ({
      status: r.status,
      retryCount: r.retry_count,
      attempt: r.attempt,
      httpStatus: r.http_status,
      message: r.message,
      workflowId: r.workflow_id,
    }));
  }

  const taskRow = async (id: string) => (await api.get(`/api/tasks/${id}`)).body;
  const paused = async (id: string) =>
    (await t.temporal.client.schedule.getHandle(`task-${id}`).describe()).state.paused;
  const gaps = (times: Date[]) =>
    times.slice(1).map((time, i) => time.getTime() - times[i]!.getTime());

  it('when a 2xx webhook is triggered, then one POST with the rendered payload and headers, one SUCCESS log, task SUCCESS', async () => {
    const task = await createTask();
    const { workflowId, outcome } = await trigger(task.id);
    expect(outcome).toBe('completed');
    const [post, ...more] = discord.requests(task.webhookId);
    expect(more).toHaveLength(0);
    expect(post!.apiVersion).toBe(10);
    expect(post!.query).toMatchObject({ wait: 'true' });
    expect(post!.headers['content-type']).toMatch(/^application\/json/);
    expect(post!.headers['user-agent']).toMatch(/^DiscordBot \(https?:\/\/\S+, \d+\.\d+\.\d+\)$/);
    expect(post!.body).toEqual({ content: `Hello from ${task.name}, attempt 1` });
    const logs = await logsOf(task.id);
    expect(logs).toEqual([
      expect.objectContaining({
        status: 'SUCCESS',
        retryCount: 0,
        attempt: 1,
        httpStatus: 200,
        workflowId,
      }),
    ]);
    expect(logs[0]!.message).toMatch(/Discord message \d+/);
    const row = await taskRow(task.id);
    expect(row.lastExecutionStatus).toBe('SUCCESS');
    expect(row.status).toBe('ACTIVE');
  });

  it('when Discord answers 5xx twice then 2xx with maxRetry 3, then 3 POSTs, RETRYING, RETRYING, SUCCESS and growing backoff', async () => {
    const task = await createTask({
      maxRetry: 3,
      behaviors: [
        { kind: 'server-error' },
        { kind: 'server-error', status: 503 },
        { kind: 'success' },
      ],
    });
    const { outcome } = await trigger(task.id);
    expect(outcome).toBe('completed');
    const posts = discord.requests(task.webhookId);
    expect(posts).toHaveLength(3);
    expect((await logsOf(task.id)).map((l) => [l.status, l.retryCount, l.httpStatus])).toEqual([
      ['RETRYING', 0, 500],
      ['RETRYING', 1, 503],
      ['SUCCESS', 2, 200],
    ]);
    const [first, second] = gaps(posts.map((p) => p.receivedAt));
    expect(first).toBeGreaterThanOrEqual(900);
    expect(second!).toBeGreaterThan(first!);
    expect((posts[2]!.body as { content: string }).content).toMatch(/attempt 3$/);
  });

  it('when Discord answers 429 with retry_after, then the next attempt waits at least that long', async () => {
    const task = await createTask({
      behaviors: [{ kind: 'rate-limited', retryAfter: 1.6, via: 'body' }, { kind: 'success' }],
    });
    expect((await trigger(task.id)).outcome).toBe('completed');
    const posts = discord.requests(task.webhookId);
    expect(posts).toHaveLength(2);
    expect(gaps(posts.map((p) => p.receivedAt))[0]).toBeGreaterThanOrEqual(1_600);
    const logs = await logsOf(task.id);
    expect(logs.map((l) => l.status)).toEqual(['RETRYING', 'SUCCESS']);
    expect(logs[0]!.message).toMatch(/429/);
  });

  it('when Discord does not answer within the timeout, then the attempt is retried', async () => {
    const task = await createTask({
      behaviors: [{ kind: 'hang', ms: 3_000 }, { kind: 'success' }],
    });
    expect((await trigger(task.id)).outcome).toBe('completed');
    const logs = await logsOf(task.id);
    expect(logs.map((l) => l.status)).toEqual(['RETRYING', 'SUCCESS']);
    expect(logs[0]!.message).toMatch(/timed out after 1000 ms/);
  });

  it.each([
    ['404 (webhook deleted)', { kind: 'not-found' } as MockBehavior, 404, /Unknown Webhook/],
    ['400', { kind: 'bad-request' } as MockBehavior, 400, /Invalid Form Body/],
  ])(
    'when Discord answers %s, then one POST, a FAILED log, the task FAILED and its schedule paused',
    async (_label, behavior, status, text) => {
      const task = await createTask({ maxRetry: 3, behaviors: [behavior] });
      expect((await trigger(task.id)).outcome).toBe('failed');
      expect(discord.requests(task.webhookId)).toHaveLength(1);
      const logs = await logsOf(task.id);
      expect(logs).toEqual([
        expect.objectContaining({ status: 'FAILED', httpStatus: status, retryCount: 0 }),
      ]);
      expect(logs[0]!.message).toMatch(text);
      const row = await taskRow(task.id);
      expect(row).toMatchObject({
        status: 'FAILED',
        lastExecutionStatus: 'FAILED',
        nextRunAt: null,
      });
      expect(await paused(task.id)).toBe(true);
    },
  );

  it.each([
    [0, 1],
    [2, 3],
  ])(
    'when every attempt fails with maxRetry %d, then %d POSTs, the last log FAILED and the task FAILED',
    async (maxRetry, posts) => {
      const task = await createTask({ maxRetry, behaviors: [{ kind: 'server-error' }] });
      expect((await trigger(task.id)).outcome).toBe('failed');
      expect(discord.requests(task.webhookId)).toHaveLength(posts);
      const statuses = (await logsOf(task.id)).map((l) => l.status);
      expect(statuses).toEqual([...Array(posts - 1).fill('RETRYING'), 'FAILED']);
      expect((await taskRow(task.id)).status).toBe('FAILED');
      expect(await paused(task.id)).toBe(true);
    },
  );

  it('when a task has an @every schedule, then it fires on its own and stops when toggled off, and again when deleted', async () => {
    const task = await createTask({ schedule: '@every 2s' });
    const fired = await discord.waitForRequests(2, {
      webhookId: task.webhookId,
      timeoutMs: 15_000,
    });
    const [log] = await eventually(
      () => logsOf(task.id),
      (rows) => rows.length > 0,
    );
    expect(log).toMatchObject({ status: 'SUCCESS' });
    expect(log!.workflowId).toMatch(new RegExp(`^task-${task.id}-`));
    expect(fired.length).toBeGreaterThanOrEqual(2);

    await api.post(`/api/tasks/${task.id}/toggle`).expect(200);
    await new Promise((r) => setTimeout(r, 1_000)); // a run already started may still land
    const afterToggle = discord.requests(task.webhookId).length;
    await new Promise((r) => setTimeout(r, 4_500));
    expect(discord.requests(task.webhookId)).toHaveLength(afterToggle);

    await api.post(`/api/tasks/${task.id}/toggle`).expect(200);
    await discord.waitForRequests(afterToggle + 1, {
      webhookId: task.webhookId,
      timeoutMs: 15_000,
    });
    await api.delete(`/api/tasks/${task.id}`).expect(204);
    await new Promise((r) => setTimeout(r, 1_000));
    const afterDelete = discord.requests(task.webhookId).length;
    await new Promise((r) => setTimeout(r, 4_500));
    expect(discord.requests(task.webhookId)).toHaveLength(afterDelete);
  }, 90_000);

  it('when a cron task is due, then it fires on its own at the minute', async () => {
    const task = await createTask({ schedule: '* * * * *' });
    const [post] = await discord.waitForRequests(1, {
      webhookId: task.webhookId,
      timeoutMs: 75_000,
    });
    const logs = await eventually(
      () => logsOf(task.id),
      (rows) => rows.length > 0,
    );
    expect(logs[0]).toMatchObject({ status: 'SUCCESS' });
    // Fired on a minute boundary (Temporal's scheduled time), a little after it.
    expect(post!.receivedAt.getUTCSeconds()).toBeLessThan(20);
    await api.delete(`/api/tasks/${task.id}`).expect(204);
  }, 90_000);

  it('when the worker is killed during a delivery and another starts, then the delivery finishes with exactly one SUCCESS log', async () => {
    // A worker of its own, in another process, on its own task queue.
    const queue = `e2e-crash-${randomUUID()}`;
    const childEnv = { ...env, TEMPORAL_TASK_QUEUE: queue, ROLE: 'worker', LOG_LEVEL: 'warn' };
    const crashApp = await createTestApp({ env: childEnv });
    const webhookId = String(Date.now());
    discord.setBehavior(webhookId, { kind: 'hang' }, { kind: 'success' });
    const created = await request(crashApp.app)
      .post('/api/tasks')
      .set('X-API-Key', TEST_API_KEY)
      .send({
        name: 'crash',
        schedule: '0 0 1 1 *',
        webhookUrl: discord.webhookUrl(webhookId),
        payload: { content: 'x' },
        maxRetry: 2,
      });
    expect(created.status).toBe(201);
    const taskId = created.body.id as string;

    const { child, exited } = await startFromSources(childEnv);
    let replacement: RunningWorker | undefined;
    try {
      const triggered = await request(crashApp.app)
        .post(`/api/tasks/${taskId}/trigger`)
        .set('X-API-Key', TEST_API_KEY);
      expect(triggered.status).toBe(202);
      await discord.waitForRequests(1, { webhookId, timeoutMs: 60_000 });
      child.kill('SIGKILL');
      await exited;

      replacement = await startWorker({
        config: loadConfig(childEnv),
        logger: pino({ level: 'silent' }),
        databaseUrl: testEnv().databaseUrl,
        temporalAddress: testEnv().temporalAddress,
        workflowBundle,
      });
      await crashApp.temporal.client.workflow.getHandle(triggered.body.workflowId).result();
      const logs = await logsOf(taskId);
      expect(logs.filter((l) => l.status === 'SUCCESS')).toHaveLength(1);
      expect(discord.requests(webhookId).length).toBe(2);
      expect((await taskRow(taskId)).lastExecutionStatus).toBe('SUCCESS');
    } finally {
      child.kill('SIGKILL');
      await replacement?.shutdown();
      await crashApp.close();
    }
  }, 120_000);
});

/** The log row lands just after Discord answered: poll briefly for it. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}
