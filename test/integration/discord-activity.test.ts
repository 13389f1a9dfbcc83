import { randomInt, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { createDiscordActivities } from '../../activities/discord.activities';
import { initOrm, type Orm } from '../../src/db/orm';
import { createDiscordPacer } from '../../src/discord/pacer';
import { createMemoryRateLimitStore } from '../../src/discord/rate-limit';
import type {
  DeliverWebhookInput,
  DeliverWebhookResult,
  InfrastructureFailureDetails,
} from '../../src/temporal/contracts';
import { testEnv, testSecrets } from '../helpers/app';
import { type MockBehavior, type MockDiscord, startMockDiscord } from '../helpers/mock-discord';

/**
 * The real delivery activities (SPEC §6) against the real PostgreSQL and the local mock Discord
 * server, run in Temporal's MockActivityEnvironment: what is POSTed, which ApplicationFailure each
 * answer becomes (and so whether Temporal retries), the task_logs row each attempt writes, and that
 * the webhook token never shows up in logs, failures or rows (SPEC §7).
 */

const TIMEOUT_MS = 500;

let orm: Orm;
let mock: MockDiscord;
let activities: ReturnType<typeof createDiscordActivities>;
/** Everything the activities logged through Temporal's activity logger. */
const logEntries: LogEntry[] = [];
const logger = new DefaultLogger('TRACE', (entry) => logEntries.push(entry));

function activitiesFor(overrides: Partial<Parameters<typeof createDiscordActivities>[0]> = {}) {
  return createDiscordActivities({
    orm,
    config: {
      webhookTimeoutMs: TIMEOUT_MS,
      webhookAllowedOrigins: [mock.url],
      retry: { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 1_000 },
    },
    jitterMs: () => 0,
    secrets: testSecrets(),
    ...overrides,
  });
}

beforeAll(async () => {
  orm = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 4 });
  mock = await startMockDiscord();
  activities = activitiesFor();
});

/** Tasks this file inserts bypass the API (no schedules): remove them for the next files. */
const insertedTaskIds: string[] = [];

afterAll(async () => {
  await mock?.close();
  if (orm && insertedTaskIds.length > 0) {
    await orm.em
      .fork()
      .getConnection()
      .execute('delete from tasks where id = any(?::uuid[])', [`{${insertedTaskIds.join(',')}}`]);
  }
  await orm?.close(true);
});

interface TestTask {
  id: string;
  name: string;
  webhookId: string;
  token: string;
  webhookUrl: string;
}

/** timestamptz columns come back as strings from raw queries. */
type Timestamp = string | Date;

function iso(value: Timestamp | null | undefined): string | null {
  return value === null || value === undefined ? null : new Date(value).toISOString();
}

function ms(value: Timestamp | null | undefined): number {
  return value === null || value === undefined ? Number.NaN : new Date(value).getTime();
}

interface LogRow {
  task_id: string;
  execution_time: Timestamp;
  status: string;
  retry_count: number;
  message: string | null;
  attempt: number;
  http_status: number | null;
  duration_ms: number | null;
  scheduled_time: Timestamp | null;
  workflow_id: string;
  run_id: string;
}

interface TaskRow {
  status: string;
  last_execution_at: Timestamp | null;
  last_execution_status: string | null;
  last_message_id: string | null;
}

async function insertTask(
  opts: {
    name?: string;
    payload?: Record<string, unknown>;
    behaviors?: MockBehavior[];
    threadId?: string;
  } = {},
): Promise<TestTask> {
  const id = randomUUID();
  insertedTaskIds.push(id);
  const name = opts.name ?? `delivery test ${id.slice(0, 8)}`;
  const webhookId = `${Date.now()}${randomInt(1_000_000, 9_999_999)}`;
  const plainUrl = mock.webhookUrl(webhookId);
  const token = plainUrl.split('/').pop() as string;
  const webhookUrl = opts.threadId ? `${plainUrl}?thread_id=${opts.threadId}` : plainUrl;
  await orm.em
    .fork()
    .getConnection()
    .execute(
      `insert into tasks (id, name, schedule, timezone, webhook_url, payload, max_retry, status, created_at, updated_at)
     values (?, ?, '@every 1h', 'UTC', ?, ?, 3, 'ACTIVE', now(), now())`,
      [id, name, webhookUrl, JSON.stringify(opts.payload ?? { content: 'hello' })],
    );
  if (opts.behaviors) mock.setBehavior(webhookId, ...opts.behaviors);
  return { id, name, webhookId, token, webhookUrl };
}

async function logRows(workflowId: string): Promise<LogRow[]> {
  return orm.em
    .fork()
    .getConnection()
    .execute<LogRow[]>('select * from task_logs where workflow_id = ? order by attempt', [
      workflowId,
    ]);
}

async function taskRow(id: string): Promise<TaskRow> {
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute<TaskRow[]>(
      'select status, last_execution_at, last_execution_status, last_message_id from tasks where id = ?',
      [id],
    );
  if (!rows[0]) throw new Error(`task ${id} not found`);
  return rows[0];
}

interface Run {
  workflowId: string;
  runId: string;
  attempt: number;
}

function newRun(attempt = 1): Run {
  return { workflowId: `task-${randomUUID()}-test`, runId: randomUUID(), attempt };
}

/** deliverWebhook as Temporal would run attempt `run.attempt` of the workflow `run.workflowId`. */
async function deliver(
  run: Run,
  input: Partial<DeliverWebhookInput> & { taskId: string },
  acts = activities,
): Promise<DeliverWebhookResult> {
  const env = new MockActivityEnvironment(
    { attempt: run.attempt, workflowExecution: { workflowId: run.workflowId, runId: run.runId } },
    { logger },
  );
  return env.run(acts.deliverWebhook, { scheduledTime: null, maxAttempts: 4, ...input });
}

/** The ApplicationFailure deliverWebhook throws (fails the test when it resolves instead). */
async function deliverFailure(
  run: Run,
  input: Partial<DeliverWebhookInput> & { taskId: string },
  acts = activities,
): Promise<ApplicationFailure> {
  const outcome = await deliver(run, input, acts).then(
    (result) => new Error(`expected a failure, got ${JSON.stringify(result)}`),
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ApplicationFailure);
  return outcome as ApplicationFailure;
}

/** What a wait (SPEC §13: 429, empty bucket, Discord down) tells the workflow. */
function waitDetails(failure: ApplicationFailure): InfrastructureFailureDetails {
  const details = failure.details?.[0];
  if (!details || typeof details !== 'object') throw new Error('the wait carries no details');
  return details as InfrastructureFailureDetails;
}

describe('deliverWebhook: successful delivery', () => {
  it('when Discord answers 2xx, then the rendered payload is POSTed once to the v10 path with wait=true and one SUCCESS row is written', async () => {
    const task = await insertTask({
      payload: {
        content:
          'Hi from {{task.name}}, attempt {{execution.attempt}}, planned {{execution.scheduledTime}}',
        embeds: [{ title: '{{task.name}}', timestamp: '{{execution.scheduledTime}}' }],
      },
    });
    const run = newRun(2);
    const scheduledTime = '2026-01-02T03:04:05.000Z';
    const before = Date.now();

    const result = await deliver(run, { taskId: task.id, scheduledTime, maxAttempts: 4 });

    expect(result).toEqual({ status: 'SUCCESS', messageId: expect.any(String), httpStatus: 200 });
    const messageId = (result as { messageId: string }).messageId;
    const requests = mock.requests(task.webhookId);
    expect(requests).toHaveLength(1);
    const request = requests[0];
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/api/v10/webhooks/${task.webhookId}/${task.token}`);
    expect(request?.query).toEqual({ wait: 'true' });
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
    expect(request?.headers['user-agent']).toMatch(/^DiscordBot \(/);
    expect(request?.body).toEqual({
      content: `Hi from ${task.name}, attempt 2, planned ${scheduledTime}`,
      embeds: [{ title: task.name, timestamp: scheduledTime }],
    });

    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    const row = rows[0] as LogRow;
    expect(row).toEqual(
      expect.objectContaining({
        task_id: task.id,
        status: 'SUCCESS',
        attempt: 2,
        retry_count: 1,
        http_status: 200,
        workflow_id: run.workflowId,
        run_id: run.runId,
      }),
    );
    expect(row.message).toContain(messageId);
    expect(row.duration_ms).toEqual(expect.any(Number));
    expect(row.duration_ms).toBeGreaterThanOrEqual(0);
    expect(iso(row.scheduled_time)).toBe(scheduledTime);
    expect(ms(row.execution_time)).toBeGreaterThanOrEqual(before - 1_000);

    const taskAfter = await taskRow(task.id);
    expect(taskAfter.last_execution_status).toBe('SUCCESS');
    expect(ms(taskAfter.last_execution_at)).toBeGreaterThanOrEqual(before - 1_000);
    expect(taskAfter.status).toBe('ACTIVE');
  });

  it('when the same workflow execution already logged a SUCCESS, then a later attempt returns ALREADY_DELIVERED without posting', async () => {
    const task = await insertTask();
    const run = newRun(1);
    await deliver(run, { taskId: task.id });
    expect(mock.requests(task.webhookId)).toHaveLength(1);

    const again = await deliver({ ...run, attempt: 2 }, { taskId: task.id });

    expect(again).toEqual({ status: 'ALREADY_DELIVERED' });
    expect(mock.requests(task.webhookId)).toHaveLength(1);
    const rows = await logRows(run.workflowId);
    expect(rows.map((r) => r.status)).toEqual(['SUCCESS']);
  });

  it('when a replace task with deleteAfter already logged its SUCCESS, then the later attempt returns the deletes it still owes, timed from the post', async () => {
    const task = await insertTask();
    await orm.em
      .fork()
      .getConnection()
      .execute(
        `update tasks set message_mode = 'replace', delete_after = '10s', last_message_id = '111' where id = ?`,
        [task.id],
      );
    const run = newRun(1);
    const first = await deliver(run, { taskId: task.id });
    const [message] = mock.messages(task.webhookId);
    expect(first).toMatchObject({
      status: 'SUCCESS',
      messageId: message!.id,
      followUp: { messageId: message!.id, replacedMessageId: '111' },
    });

    // The completion was lost (a crash): Temporal runs the attempt again.
    const again = await deliver({ ...run, attempt: 2 }, { taskId: task.id });

    expect(again).toEqual({
      status: 'ALREADY_DELIVERED',
      followUp: first.status === 'SUCCESS' ? first.followUp : undefined,
    });
    const [row] = await logRows(run.workflowId);
    const deleteAt = Date.parse((again as { followUp: { deleteAt: string } }).followUp.deleteAt);
    expect(deleteAt - ms(row!.execution_time)).toBe(10_000);
    expect(mock.requests(task.webhookId)).toHaveLength(1);
    expect((await taskRow(task.id)).last_message_id).toBe(message!.id);
  });

  it('when the webhook URL names a thread, then the thread_id is passed on with wait=true', async () => {
    const task = await insertTask({ threadId: '424242' });

    await deliver(newRun(), { taskId: task.id });

    expect(mock.requests(task.webhookId)[0]?.query).toEqual({ wait: 'true', thread_id: '424242' });
  });

  it('when started without a scheduled time, then {{execution.scheduledTime}} renders as the execution time and the row has no scheduled_time', async () => {
    const task = await insertTask({ payload: { content: 'at {{execution.scheduledTime}}' } });
    const run = newRun();

    await deliver(run, { taskId: task.id, scheduledTime: null });

    const content = (mock.requests(task.webhookId)[0]?.body as { content: string }).content;
    const rendered = content.replace(/^at /, '');
    expect(new Date(rendered).toISOString()).toBe(rendered);
    const [row] = await logRows(run.workflowId);
    expect(row?.scheduled_time).toBeNull();
    expect(iso(row?.execution_time)).toBe(rendered);
  });
});

describe('deliverWebhook: transient failures are retried', () => {
  it('when Discord answers 429 with retry_after in the body, then the workflow is told to wait that long, the row says RETRYING and no retry is used up', async () => {
    const task = await insertTask({
      behaviors: [{ kind: 'rate-limited', retryAfter: 1.25, via: 'body' }],
    });
    const run = newRun(1);

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 3 });

    expect(failure.type).toBe('DiscordRateLimited');
    expect(failure.nonRetryable).toBe(true);
    expect(waitDetails(failure)).toEqual({
      attemptsMade: 1,
      failuresCounted: 0,
      retryDelayMs: 1_250,
    });
    expect(failure.message).toContain('429');
    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(
      expect.objectContaining({ status: 'RETRYING', http_status: 429, attempt: 1, retry_count: 0 }),
    );
  });

  it('when Discord answers 429 with only a Retry-After header, then the header gives the wait', async () => {
    const task = await insertTask({
      behaviors: [{ kind: 'rate-limited', retryAfter: 2, via: 'header' }],
    });
    const run = newRun(1);

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 3 });

    expect(failure.type).toBe('DiscordRateLimited');
    expect(waitDetails(failure).retryDelayMs).toBe(2_000);
    expect((await logRows(run.workflowId))[0]?.status).toBe('RETRYING');
  });

  it('when Discord answers 429 on what is the last attempt, then the row is still RETRYING: a 429 is not the webhook failing', async () => {
    const task = await insertTask({ behaviors: [{ kind: 'rate-limited', retryAfter: 0.5 }] });
    const run = newRun(3);

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 3 });

    expect(failure.type).toBe('DiscordRateLimited');
    expect(waitDetails(failure)).toMatchObject({ attemptsMade: 3, failuresCounted: 2 });
    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(
      expect.objectContaining({ status: 'RETRYING', http_status: 429, attempt: 3, retry_count: 2 }),
    );
  });

  it('when the run has been rate-limited past DELIVERY_RATE_LIMIT_DEADLINE, then the next 429 ends it FAILED with a row saying so', async () => {
    const task = await insertTask({ behaviors: [{ kind: 'rate-limited', retryAfter: 2 }] });
    const run = newRun(1);
    const acts = activitiesFor({
      config: {
        webhookTimeoutMs: TIMEOUT_MS,
        webhookAllowedOrigins: [mock.url],
        retry: { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 1_000 },
        deliveryRateLimitDeadlineMs: 60_000,
      },
    });

    const failure = await deliverFailure(
      run,
      {
        taskId: task.id,
        maxAttempts: 1,
        attemptOffset: 4,
        failuresCounted: 0,
        rateLimitedSince: new Date(Date.now() - 59_000).toISOString(),
      },
      acts,
    );

    expect(failure.type).toBe('DiscordRejected');
    expect(failure.message).toContain('DELIVERY_RATE_LIMIT_DEADLINE');
    const rows = await logRows(run.workflowId);
    expect(rows.map((r) => [r.attempt, r.status, r.http_status])).toEqual([[5, 'FAILED', 429]]);
  });

  it('when Discord answers 500, then it fails as retryable DiscordUnavailable: RETRYING first, FAILED on the last attempt', async () => {
    const task = await insertTask({ behaviors: [{ kind: 'server-error' }] });
    const run = newRun(1);

    const first = await deliverFailure(run, { taskId: task.id, maxAttempts: 2 });
    const last = await deliverFailure({ ...run, attempt: 2 }, { taskId: task.id, maxAttempts: 2 });

    for (const failure of [first, last]) {
      expect(failure.type).toBe('DiscordUnavailable');
      expect(failure.nonRetryable).toBe(false);
      expect(failure.message).toContain('500');
    }
    const rows = await logRows(run.workflowId);
    expect(rows.map((r) => [r.attempt, r.retry_count, r.status, r.http_status])).toEqual([
      [1, 0, 'RETRYING', 500],
      [2, 1, 'FAILED', 500],
    ]);
    expect(rows[0]?.message).toContain('Internal Server Error');
    expect(mock.requests(task.webhookId)).toHaveLength(2);
    expect((await taskRow(task.id)).last_execution_status).toBeNull();
  });

  it('when Discord does not answer within the timeout, then it fails as DiscordUnavailable naming the timeout', async () => {
    const task = await insertTask({ behaviors: [{ kind: 'hang' }] });
    const run = newRun(1);
    const started = Date.now();

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 2 });

    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(failure.type).toBe('DiscordUnavailable');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/timed out/i);
    expect(failure.message).toContain(String(TIMEOUT_MS));
    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(expect.objectContaining({ status: 'RETRYING', http_status: null }));
    expect(rows[0]?.message).toMatch(/timed out/i);
  });

  it('when the connection is dropped without an answer, then it fails as DiscordUnavailable naming the network error', async () => {
    const task = await insertTask({ behaviors: [{ kind: 'destroy' }] });
    const run = newRun(2);

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 2 });

    expect(failure.type).toBe('DiscordUnavailable');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/network error/i);
    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(
      expect.objectContaining({ status: 'FAILED', http_status: null, attempt: 2 }),
    );
    expect(rows[0]?.message).toMatch(/network error/i);
  });
});

describe("deliverWebhook: Discord's limits and outages are waited out (SPEC §13)", () => {
  afterEach(async () => {
    await mock.setOutage('none');
  });

  it("when every webhook answers 503 and so does Discord's API, then the workflow is told Discord is down, the row is RETRYING and nothing is counted", async () => {
    const task = await insertTask();
    const run = newRun(1);
    // Its own probe: the file's shared activities must not remember this outage.
    const acts = activitiesFor();
    await mock.setOutage('unavailable');

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 1 }, acts);

    expect(failure.type).toBe('DiscordDown');
    expect(failure.nonRetryable).toBe(true);
    expect(waitDetails(failure)).toEqual({ attemptsMade: 1, failuresCounted: 0 });
    const rows = await logRows(run.workflowId);
    expect(rows.map((r) => [r.status, r.http_status])).toEqual([['RETRYING', 503]]);
    expect(rows[0]?.message).toContain('not counted against maxRetry');
    expect(mock.gatewayRequests()).toBeGreaterThanOrEqual(1);
  });

  it('when connections to Discord are refused, then it is Discord down (or our network), not the webhook failing', async () => {
    const task = await insertTask();
    const run = newRun(1);
    const acts = activitiesFor();
    await mock.setOutage('refuse');

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 1 }, acts);

    expect(failure.type).toBe('DiscordDown');
    const rows = await logRows(run.workflowId);
    expect(rows.map((r) => [r.status, r.http_status])).toEqual([['RETRYING', null]]);
    // A pooled keep-alive socket that the mock closed fails as a reset, a new one as refused.
    expect(rows[0]?.message).toMatch(/ECONNREFUSED|ECONNRESET/);
  });

  it("when the webhook's bucket is empty, then nothing is sent, no row is written and the workflow is told to wait for the reset", async () => {
    const task = await insertTask();
    const acts = activitiesFor({
      pacer: createDiscordPacer({
        store: createMemoryRateLimitStore(),
        invalidBudget: 5_000,
        leaseMs: 5_000,
        inActivityWaitMaxMs: 0,
      }),
    });
    // The mock's bucket: 5 per 2 s. The first answer tells the pacer; four more fit the window.
    const runs = Array.from({ length: 6 }, () => newRun(1));
    for (const run of runs.slice(0, 5)) {
      await expect(deliver(run, { taskId: task.id }, acts)).resolves.toMatchObject({
        status: 'SUCCESS',
      });
    }
    const paced = await deliverFailure(runs[5]!, { taskId: task.id }, acts);

    expect(paced.type).toBe('DiscordPaced');
    expect(waitDetails(paced)).toMatchObject({ attemptsMade: 0, failuresCounted: 0 });
    expect(waitDetails(paced).retryDelayMs).toBeGreaterThan(0);
    expect(waitDetails(paced).retryDelayMs).toBeLessThanOrEqual(2_500);
    expect(await logRows(runs[5]!.workflowId)).toEqual([]);
    expect(mock.requests(task.webhookId)).toHaveLength(5);
    expect(mock.rateLimited(task.webhookId)).toBe(0);
  });

  it('when invalid answers reach DISCORD_INVALID_REQUEST_BUDGET, then sending pauses for every webhook', async () => {
    const rejected = await insertTask({ behaviors: [{ kind: 'unauthorized' }] });
    const other = await insertTask();
    const acts = activitiesFor({
      pacer: createDiscordPacer({
        store: createMemoryRateLimitStore(),
        invalidBudget: 1,
        leaseMs: 5_000,
      }),
    });

    const first = await deliverFailure(newRun(1), { taskId: rejected.id }, acts);
    const paused = await deliverFailure(newRun(1), { taskId: other.id }, acts);

    expect(first.type).toBe('DiscordRejected');
    expect(paused.type).toBe('DiscordPaced');
    expect(paused.message).toContain('invalid-budget');
    expect(mock.requests(other.webhookId)).toHaveLength(0);
  });
});

describe('deliverWebhook: permanent failures are not retried', () => {
  const cases: [string, MockBehavior, number, RegExp][] = [
    ['400 Invalid Form Body', { kind: 'bad-request' }, 400, /Invalid Form Body/],
    ['401 Unauthorized', { kind: 'unauthorized' }, 401, /Unauthorized/],
    [
      '403 Missing Permissions',
      { kind: 'status', status: 403, body: { message: 'Missing Permissions', code: 50013 } },
      403,
      /Missing Permissions/,
    ],
    ['404 Unknown Webhook', { kind: 'not-found' }, 404, /Unknown Webhook.*10015/],
    [
      '413 Request entity too large',
      { kind: 'status', status: 413, body: { message: 'Request entity too large', code: 40005 } },
      413,
      /413/,
    ],
  ];

  it.each(cases)(
    'when Discord answers %s, then it fails as non-retryable DiscordRejected and logs FAILED on the first attempt',
    async (_label, behavior, status, text) => {
      const task = await insertTask({ behaviors: [behavior] });
      const run = newRun(1);

      const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 4 });

      expect(failure.type).toBe('DiscordRejected');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toContain(String(status));
      expect(failure.message).toMatch(text);
      const rows = await logRows(run.workflowId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toEqual(
        expect.objectContaining({
          status: 'FAILED',
          http_status: status,
          attempt: 1,
          retry_count: 0,
        }),
      );
      expect(rows[0]?.message).toMatch(text);
      expect(mock.requests(task.webhookId)).toHaveLength(1);
    },
  );

  it('when Discord answers with a redirect, then it is not followed and fails as non-retryable DiscordRejected', async () => {
    const elsewhere = `${Date.now()}${randomInt(1_000_000, 9_999_999)}`;
    const task = await insertTask({
      behaviors: [
        { kind: 'status', status: 302, headers: { location: mock.webhookUrl(elsewhere) } },
      ],
    });
    const run = newRun(1);
    const before = mock.requests().length;

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 4 });

    expect(failure.type).toBe('DiscordRejected');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('302');
    expect(mock.requests().length - before).toBe(1);
    expect(mock.requests(elsewhere)).toHaveLength(0);
    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(expect.objectContaining({ status: 'FAILED', http_status: 302 }));
  });

  it('when the task was deleted meanwhile, then it returns TASK_DELETED without posting or logging', async () => {
    const task = await insertTask();
    await orm.em.fork().getConnection().execute('delete from tasks where id = ?', [task.id]);
    const run = newRun(1);
    const before = mock.requests().length;

    const result = await deliver(run, { taskId: task.id });

    expect(result).toEqual({ status: 'TASK_DELETED' });
    expect(mock.requests().length).toBe(before);
    expect(await logRows(run.workflowId)).toHaveLength(0);
  });

  it('when the webhook origin is no longer allowed, then it fails as non-retryable without posting', async () => {
    const task = await insertTask();
    const run = newRun(1);
    const restricted = activitiesFor({
      config: {
        webhookTimeoutMs: TIMEOUT_MS,
        webhookAllowedOrigins: ['https://discord.com'],
        retry: { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 1_000 },
      },
    });

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 4 }, restricted);

    expect(failure.type).toBe('DiscordRejected');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/not allowed/);
    expect(failure.message).not.toContain(task.token);
    expect(mock.requests(task.webhookId)).toHaveLength(0);
    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(expect.objectContaining({ status: 'FAILED', http_status: null }));
  });

  it('when the payload renders over a Discord limit, then it fails as non-retryable without posting', async () => {
    // 1987 + 13 = 2000 characters as stored (valid); 1987 + 100 = 2087 once rendered.
    const task = await insertTask({
      name: 'n'.repeat(100),
      payload: { content: `${'x'.repeat(1987)}{{task.name}}` },
    });
    const run = newRun(1);

    const failure = await deliverFailure(run, { taskId: task.id, maxAttempts: 4 });

    expect(failure.type).toBe('DiscordRejected');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/content/);
    expect(mock.requests(task.webhookId)).toHaveLength(0);
    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe('FAILED');
  });
});

describe('deliverWebhook: one row per attempt', () => {
  it('when the same attempt runs twice, then only one row is kept for it', async () => {
    const task = await insertTask({ behaviors: [{ kind: 'server-error' }] });
    const run = newRun(1);

    await deliverFailure(run, { taskId: task.id, maxAttempts: 3 });
    await deliverFailure(run, { taskId: task.id, maxAttempts: 3 });

    const rows = await logRows(run.workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(expect.objectContaining({ attempt: 1, status: 'RETRYING' }));
  });
});

describe('markTaskFailed', () => {
  function temporalWithPause(pause: jest.Mock) {
    const getHandle = jest.fn((_scheduleId: string) => ({ pause }));
    const temporal = { schedule: { getHandle } } as unknown as Pick<Client, 'schedule'>;
    return { temporal, getHandle };
  }

  it('when called after the final failure, then the task becomes FAILED and its schedule task-<id> is paused without the token in the note', async () => {
    const task = await insertTask();
    const pause = jest.fn(async (_note?: string) => undefined);
    const { temporal, getHandle } = temporalWithPause(pause);
    const acts = activitiesFor({ temporal });
    const before = Date.now();

    await new MockActivityEnvironment({}, { logger }).run(acts.markTaskFailed, {
      taskId: task.id,
      reason: `HTTP 404 from ${task.webhookUrl}: Unknown Webhook`,
    });

    const row = await taskRow(task.id);
    expect(row.status).toBe('FAILED');
    expect(row.last_execution_status).toBe('FAILED');
    expect(ms(row.last_execution_at)).toBeGreaterThanOrEqual(before - 1_000);
    expect(getHandle).toHaveBeenCalledWith(`task-${task.id}`);
    expect(pause).toHaveBeenCalledTimes(1);
    const note = String(pause.mock.calls[0]?.[0]);
    expect(note).toContain('Unknown Webhook');
    expect(note).not.toContain(task.token);
  });

  it('when there is no Temporal client, then the task still becomes FAILED', async () => {
    const task = await insertTask();

    await new MockActivityEnvironment({}, { logger }).run(activities.markTaskFailed, {
      taskId: task.id,
      reason: 'HTTP 500',
    });

    expect(await taskRow(task.id)).toEqual(
      expect.objectContaining({ status: 'FAILED', last_execution_status: 'FAILED' }),
    );
  });

  it('when pausing the schedule fails, then the task is still FAILED and the activity does not fail', async () => {
    const task = await insertTask();
    const pause = jest.fn(async () => {
      throw new Error('schedule not found');
    });
    const acts = activitiesFor({ temporal: temporalWithPause(pause).temporal });

    await expect(
      new MockActivityEnvironment({}, { logger }).run(acts.markTaskFailed, {
        taskId: task.id,
        reason: 'x',
      }),
    ).resolves.toEqual({ alert: true });

    expect((await taskRow(task.id)).status).toBe('FAILED');
  });

  it('when a task is marked FAILED twice, then only the first time says to alert (it just became FAILED)', async () => {
    const task = await insertTask();
    const acts = activitiesFor();
    const env = new MockActivityEnvironment({}, { logger });
    const mark = () => env.run(acts.markTaskFailed, { taskId: task.id, reason: 'x' });
    expect([await mark(), await mark()]).toEqual([{ alert: true }, { alert: false }]);
  });

  it('when the task no longer exists, then nothing is paused', async () => {
    const pause = jest.fn(async () => undefined);
    const { temporal, getHandle } = temporalWithPause(pause);

    await new MockActivityEnvironment({}, { logger }).run(
      activitiesFor({ temporal }).markTaskFailed,
      {
        taskId: randomUUID(),
        reason: 'x',
      },
    );

    expect(getHandle).not.toHaveBeenCalled();
    expect(pause).not.toHaveBeenCalled();
  });
});

describe('webhook tokens stay secret', () => {
  it('when deliveries succeed or fail in every way, then no log message, failure or log row contains the token', async () => {
    // Some answers echo the webhook URL back, as an error text might.
    const behaviors: ((webhookUrl: string) => MockBehavior)[] = [
      () => ({ kind: 'success' }),
      () => ({ kind: 'server-error', status: 502 }),
      () => ({ kind: 'rate-limited', retryAfter: 0.1 }),
      () => ({ kind: 'not-found' }),
      () => ({ kind: 'unauthorized' }),
      () => ({ kind: 'bad-request' }),
      (url) => ({
        kind: 'bad-request',
        body: { message: `Invalid Webhook Token for ${url}`, code: 50027 },
      }),
      (url) => ({ kind: 'status', status: 403, body: `forbidden: ${url}` }),
      (url) => ({
        kind: 'status',
        status: 500,
        body: { error: { url, path: new URL(url).pathname } },
      }),
      (url) => ({ kind: 'status', status: 301, headers: { location: url } }),
      () => ({ kind: 'status', status: 503, body: 'upstream unavailable' }),
      () => ({ kind: 'destroy' }),
      () => ({ kind: 'hang' }),
    ];
    const logsBefore = logEntries.length;
    const tasks: TestTask[] = [];
    const texts: string[] = [];
    const workflowIds: string[] = [];

    for (const behavior of behaviors) {
      const task = await insertTask();
      mock.setBehavior(task.webhookId, behavior(task.webhookUrl));
      tasks.push(task);
      const run = newRun(1);
      workflowIds.push(run.workflowId);
      await deliver(run, { taskId: task.id, maxAttempts: 2 }).then(
        (result) => texts.push(JSON.stringify(result)),
        (error: unknown) => {
          const failure = error as ApplicationFailure;
          texts.push(
            String(failure.message),
            String(failure.stack),
            JSON.stringify(failure.details ?? null),
          );
        },
      );
    }
    // A URL whose origin is no longer allowed.
    const refused = await insertTask();
    tasks.push(refused);
    const refusedRun = newRun(1);
    workflowIds.push(refusedRun.workflowId);
    const failure = await deliverFailure(
      refusedRun,
      { taskId: refused.id },
      activitiesFor({
        config: {
          webhookTimeoutMs: TIMEOUT_MS,
          webhookAllowedOrigins: ['https://discord.com'],
          retry: { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 1_000 },
        },
      }),
    );
    texts.push(failure.message, String(failure.stack));

    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<LogRow[]>('select * from task_logs where workflow_id in (?)', [workflowIds]);
    expect(rows).toHaveLength(workflowIds.length);
    const logged = logEntries
      .slice(logsBefore)
      .map((e) => `${e.message} ${JSON.stringify(e.meta ?? {})}`);
    expect(logged.length).toBeGreaterThan(0);
    const haystack = [...texts, ...logged, ...rows.map((r) => JSON.stringify(r))].join('\n');
    for (const task of tasks) {
      expect(haystack).not.toContain(task.token);
    }
    // The echoed URLs did reach the messages, masked.
    expect(haystack).toMatch(/\/webhooks\/\d+\/\*{4}/);
  });
});

describe('getDeliveryPolicy: the worker policy, and with DELIVERY_FIRST_ATTEMPT=local the first attempt', () => {
  const local = () =>
    activitiesFor({
      config: {
        webhookTimeoutMs: TIMEOUT_MS,
        webhookAllowedOrigins: [mock.url],
        retry: { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 1_000 },
        deliveryFirstAttempt: 'local',
      },
    });
  const start = (run: Run, acts: typeof activities, input?: DeliverWebhookInput) =>
    new MockActivityEnvironment(
      { attempt: 1, workflowExecution: { workflowId: run.workflowId, runId: run.runId } },
      { logger },
    ).run(acts.getDeliveryPolicy, input);

  it('when the first attempt is local and given, then it is posted once and logged once, and its outcome comes with the policy', async () => {
    const task = await insertTask();
    const run = newRun();

    const answer = await start(run, local(), {
      taskId: task.id,
      scheduledTime: null,
      maxAttempts: 4,
    });

    expect(answer).toEqual({
      initialIntervalMs: 100,
      backoffCoefficient: 2,
      maximumIntervalMs: 1_000,
      activityTimeoutMs: TIMEOUT_MS + 10_000,
      firstAttemptLocal: true,
      firstAttempt: { status: 'SUCCESS', messageId: expect.any(String), httpStatus: 200 },
    });
    expect(mock.requests(task.webhookId)).toHaveLength(1);
    expect((await logRows(run.workflowId)).map((row) => [row.attempt, row.status])).toEqual([
      [1, 'SUCCESS'],
    ]);
  });

  it('when the worker makes every attempt a regular activity, then only the policy is answered and nothing is posted', async () => {
    const task = await insertTask();
    const run = newRun();

    const answer = await start(run, activities, {
      taskId: task.id,
      scheduledTime: null,
      maxAttempts: 4,
    });

    expect(answer).toEqual(expect.objectContaining({ firstAttemptLocal: false }));
    expect(answer).not.toHaveProperty('firstAttempt');
    expect(mock.requests(task.webhookId)).toHaveLength(0);
    expect(await logRows(run.workflowId)).toHaveLength(0);
  });

  it('when the first attempt fails, then the failure is thrown as deliverWebhook throws it and its row says RETRYING', async () => {
    const task = await insertTask({ behaviors: [{ kind: 'server-error', status: 503 }] });
    const run = newRun();

    const failure: unknown = await start(run, local(), {
      taskId: task.id,
      scheduledTime: null,
      maxAttempts: 4,
    }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('DiscordUnavailable');
    expect((await logRows(run.workflowId)).map((row) => [row.attempt, row.status])).toEqual([
      [1, 'RETRYING'],
    ]);
  });
});
