import { randomInt, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createDiscordActivities } from '../../activities/discord.activities';
import { initOrm, type Orm } from '../../src/db/orm';
import type {
  DeliverWebhookInput,
  DeliverWebhookResult,
  InfrastructureFailureDetails,
} from '../../src/temporal/contracts';
import { testEnv, testSecrets } from '../helpers/app';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';

/**
 * The delivery activity when the fault is ours (SPEC §6 "our outages"): the database away before
 * or after the post, and runs that come late after downtime ("missed runs"). Real PostgreSQL and
 * the local mock Discord.
 */

const CATCHUP_MS = 5 * 60_000;
const logger = new DefaultLogger('ERROR');

let orm: Orm;
let mock: MockDiscord;
const insertedTaskIds: string[] = [];

beforeAll(async () => {
  orm = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 4 });
  mock = await startMockDiscord();
});

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

function activitiesWith(
  database: Orm,
  extra: Partial<Parameters<typeof createDiscordActivities>[0]> = {},
) {
  return createDiscordActivities({
    orm: database,
    secrets: testSecrets(),
    config: {
      webhookTimeoutMs: 2_000,
      webhookAllowedOrigins: [mock.url],
      retry: { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 1_000 },
      scheduleCatchupWindowMs: CATCHUP_MS,
    },
    jitterMs: () => 0,
    databaseTimeoutMs: 1_000,
    ...extra,
  });
}

async function insertTask(
  opts: { schedule?: string; status?: string; maxRuns?: number; runsLeft?: number } = {},
) {
  const id = randomUUID();
  insertedTaskIds.push(id);
  const webhookId = `${Date.now()}${randomInt(1_000_000, 9_999_999)}`;
  const webhookUrl = mock.webhookUrl(webhookId);
  await orm.em
    .fork()
    .getConnection()
    .execute(
      `insert into tasks (id, name, schedule, timezone, webhook_url, payload, max_retry, status,
         max_runs, runs_left, created_at, updated_at)
       values (?, 'outage test', ?, 'UTC', ?, ?, 3, ?, ?, ?, now(), now())`,
      [
        id,
        opts.schedule ?? '@every 10s',
        webhookUrl,
        JSON.stringify({ content: 'hello' }),
        opts.status ?? 'ACTIVE',
        opts.maxRuns ?? null,
        opts.runsLeft ?? opts.maxRuns ?? null,
      ],
    );
  return { id, webhookId, token: webhookUrl.split('/').pop() as string };
}

async function rows(workflowId: string) {
  return orm.em
    .fork()
    .getConnection()
    .execute<{ attempt: number; status: string; http_status: number | null; message: string }[]>(
      'select attempt, status, http_status, message from task_logs where workflow_id = ? order by attempt',
      [workflowId],
    );
}

async function runsLeft(id: string): Promise<number | null> {
  const [row] = await orm.em
    .fork()
    .getConnection()
    .execute<{ runs_left: number | null }[]>('select runs_left from tasks where id = ?', [id]);
  return row ? row.runs_left : null;
}

async function taskStatus(id: string): Promise<string> {
  const [row] = await orm.em
    .fork()
    .getConnection()
    .execute<{ status: string }[]>('select status from tasks where id = ?', [id]);
  return row?.status ?? 'gone';
}

function deliver(
  acts: ReturnType<typeof createDiscordActivities>,
  input: Partial<DeliverWebhookInput> & { taskId: string },
  run = { workflowId: `task-${input.taskId}-${randomUUID()}`, attempt: 1 },
): Promise<DeliverWebhookResult> {
  const env = new MockActivityEnvironment(
    {
      attempt: run.attempt,
      workflowExecution: { workflowId: run.workflowId, runId: randomUUID() },
    },
    { logger },
  );
  return env.run(acts.deliverWebhook, { scheduledTime: null, maxAttempts: 4, ...input });
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome = await promise.then(
    (result) => new Error(`expected a failure, got ${JSON.stringify(result)}`),
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ApplicationFailure);
  return outcome as ApplicationFailure;
}

/**
 * The real ORM, except that statements matching `failing` reject as a dead connection would:
 * the database "goes away" between the read and the write of one attempt.
 */
function ormFailing(failing: RegExp): Orm {
  const fork = () => {
    const em = orm.em.fork();
    return new Proxy(em, {
      get(target, property, receiver) {
        if (property === 'getConnection') {
          const connection = target.getConnection();
          return () =>
            new Proxy(connection, {
              get(c, p) {
                if (p === 'execute') {
                  return (sql: string, ...rest: unknown[]) =>
                    failing.test(sql)
                      ? Promise.reject(new Error('Connection terminated unexpectedly'))
                      : (c.execute as (...args: unknown[]) => Promise<unknown>).call(
                          c,
                          sql,
                          ...rest,
                        );
                }
                const value = Reflect.get(c, p) as unknown;
                return typeof value === 'function'
                  ? (value as (...a: unknown[]) => unknown).bind(c)
                  : value;
              },
            });
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
  };
  return { em: { fork } } as unknown as Orm;
}

describe('deliverWebhook when the database is away', () => {
  it('when the database cannot be reached before the post, then nothing is posted and the failure is InfrastructureUnavailable, non-retryable, with no attempt used', async () => {
    const task = await insertTask();
    const closed = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 1 });
    await closed.close(true);

    const failure = await failureOf(
      deliver(
        activitiesWith(closed),
        { taskId: task.id },
        { workflowId: `task-${task.id}-a`, attempt: 3 },
      ),
    );

    expect(failure.type).toBe('InfrastructureUnavailable');
    expect(failure.nonRetryable).toBe(true);
    // Attempts 1 and 2 were made (and counted: both failed as the webhook's) before this one.
    expect(failure.details?.[0]).toEqual({ attemptsMade: 2, failuresCounted: 2 });
    expect(mock.requests(task.webhookId)).toHaveLength(0);
    expect(await taskStatus(task.id)).toBe('ACTIVE');
  });

  it('when Discord answered but the row could not be written, then the failure carries the row (without the token) and recordAttempt writes it once', async () => {
    const task = await insertTask();
    mock.setBehavior(task.webhookId, { kind: 'server-error', status: 502 });
    const workflowId = `task-${task.id}-${randomUUID()}`;

    const failure = await failureOf(
      deliver(
        activitiesWith(ormFailing(/insert into task_logs/)),
        { taskId: task.id },
        { workflowId, attempt: 2 },
      ),
    );

    expect(failure.type).toBe('InfrastructureUnavailable');
    const details = failure.details?.[0] as InfrastructureFailureDetails;
    expect(details.attemptsMade).toBe(2);
    expect(details.retryDelayMs).toBe(200);
    expect(details.pendingRow).toEqual(
      expect.objectContaining({
        taskId: task.id,
        workflowId,
        attempt: 2,
        status: 'RETRYING',
        httpStatus: 502,
      }),
    );
    expect(JSON.stringify(failure.details)).not.toContain(task.token);
    expect(mock.requests(task.webhookId)).toHaveLength(1);
    expect(await rows(workflowId)).toEqual([]);

    const acts = activitiesWith(orm);
    const env = new MockActivityEnvironment({}, { logger });
    await env.run(acts.recordAttempt, details.pendingRow!);
    await env.run(acts.recordAttempt, details.pendingRow!);

    expect(await rows(workflowId)).toEqual([
      expect.objectContaining({ attempt: 2, status: 'RETRYING', http_status: 502 }),
    ]);
    expect(await taskStatus(task.id)).toBe('ACTIVE');
  });

  it('when a successful post could not be logged, then recordAttempt writes the SUCCESS row and the task’s last execution', async () => {
    const task = await insertTask();
    const workflowId = `task-${task.id}-${randomUUID()}`;

    const failure = await failureOf(
      deliver(
        activitiesWith(ormFailing(/insert into task_logs/)),
        { taskId: task.id },
        { workflowId, attempt: 1 },
      ),
    );
    const row = (failure.details?.[0] as InfrastructureFailureDetails).pendingRow!;
    expect(row.status).toBe('SUCCESS');
    await new MockActivityEnvironment({}, { logger }).run(activitiesWith(orm).recordAttempt, row);

    expect(await rows(workflowId)).toEqual([
      expect.objectContaining({ attempt: 1, status: 'SUCCESS' }),
    ]);
    const again = await deliver(
      activitiesWith(orm),
      { taskId: task.id },
      { workflowId, attempt: 1 },
    );
    expect(again).toEqual({ status: 'ALREADY_DELIVERED' });
    expect(mock.requests(task.webhookId)).toHaveLength(1);
  });

  it('when the task was deleted before its pending row is recorded, then recordAttempt writes nothing and does not fail', async () => {
    const task = await insertTask();
    const workflowId = `task-${task.id}-${randomUUID()}`;
    const failure = await failureOf(
      deliver(
        activitiesWith(ormFailing(/insert into task_logs/)),
        { taskId: task.id },
        { workflowId, attempt: 1 },
      ),
    );
    await orm.em.fork().getConnection().execute('delete from tasks where id = ?', [task.id]);

    await new MockActivityEnvironment({}, { logger }).run(
      activitiesWith(orm).recordAttempt,
      (failure.details?.[0] as InfrastructureFailureDetails).pendingRow!,
    );

    expect(await rows(workflowId)).toEqual([]);
  });
});

describe('deliverWebhook for late scheduled runs (missed runs)', () => {
  it('when a later run of an @every task is already due, then this run is skipped without posting or a row', async () => {
    const task = await insertTask({ schedule: '@every 10s' });
    const workflowId = `task-${task.id}-${randomUUID()}`;
    const scheduledTime = new Date(Math.floor(Date.now() / 10_000) * 10_000 - 20_000).toISOString();

    const result = await deliver(
      activitiesWith(orm),
      { taskId: task.id, scheduledTime },
      { workflowId, attempt: 1 },
    );

    expect(result).toEqual({ status: 'SKIPPED', reason: 'SUPERSEDED' });
    expect(mock.requests(task.webhookId)).toHaveLength(0);
    expect(await rows(workflowId)).toEqual([]);
  });

  it('when the run is the latest one due, then it is delivered late', async () => {
    const task = await insertTask({ schedule: '@every 1m' });
    // The run of the current minute (a real fire time: whole minutes since the epoch), some
    // seconds late; the next one is still ahead.
    if (Date.now() % 60_000 > 58_000) await new Promise((resolve) => setTimeout(resolve, 2_500));
    const scheduledTime = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();

    const result = await deliver(activitiesWith(orm), { taskId: task.id, scheduledTime });

    expect(result.status).toBe('SUCCESS');
    expect(mock.requests(task.webhookId)).toHaveLength(1);
  });

  it('when the only missed run is older than the catch-up window, then it is not posted and a FAILED row says why, and the task stays ACTIVE', async () => {
    // Yearly: this year's run (1 January 00:00 UTC, a real fire time) is far older than the
    // 5-minute window and the next one is a year away, so it is not superseded.
    const task = await insertTask({ schedule: '@yearly' });
    const workflowId = `task-${task.id}-${randomUUID()}`;
    const scheduledTime = new Date(Date.UTC(new Date().getUTCFullYear(), 0, 1)).toISOString();

    const result = await deliver(
      activitiesWith(orm),
      { taskId: task.id, scheduledTime },
      { workflowId, attempt: 1 },
    );

    expect(result).toEqual({ status: 'SKIPPED', reason: 'STALE' });
    expect(mock.requests(task.webhookId)).toHaveLength(0);
    const logged = await rows(workflowId);
    expect(logged).toEqual([
      expect.objectContaining({ attempt: 1, status: 'FAILED', http_status: null }),
    ]);
    expect(logged[0]?.message).toMatch(/not delivered: .*SCHEDULE_CATCHUP_WINDOW \(300 s\)/);
    expect(await taskStatus(task.id)).toBe('ACTIVE');
  });

  it('when a scheduled run finds its task no longer ACTIVE, then nothing is posted; a manual run still delivers', async () => {
    const task = await insertTask({ status: 'INACTIVE' });
    const scheduledTime = new Date().toISOString();

    expect(await deliver(activitiesWith(orm), { taskId: task.id, scheduledTime })).toEqual({
      status: 'SKIPPED',
      reason: 'NOT_ACTIVE',
    });
    expect(mock.requests(task.webhookId)).toHaveLength(0);
    expect(
      (await deliver(activitiesWith(orm), { taskId: task.id, scheduledTime: null })).status,
    ).toBe('SUCCESS');
  });

  it('when a late run takes the last of maxRuns while a later fire time is due, then it is delivered (the later one is beyond the count and posts nothing)', async () => {
    // maxRuns 2 with one left: the run of 20 s ago starts late (after an outage) while the run of
    // 10 s ago is also due. Superseding it would leave the task one delivery short.
    const task = await insertTask({ schedule: '@every 10s', maxRuns: 2, runsLeft: 1 });
    const tick = Math.floor(Date.now() / 10_000) * 10_000;
    const acts = activitiesWith(orm);

    const late = await deliver(acts, {
      taskId: task.id,
      scheduledTime: new Date(tick - 20_000).toISOString(),
    });
    expect(late).toEqual(expect.objectContaining({ status: 'SUCCESS', lastRun: true }));
    const later = await deliver(acts, {
      taskId: task.id,
      scheduledTime: new Date(tick - 10_000).toISOString(),
    });
    expect(later).toEqual({ status: 'SKIPPED', reason: 'RUNS_USED_UP', lastRun: true });

    expect(mock.requests(task.webhookId)).toHaveLength(1);
    expect(await runsLeft(task.id)).toBe(0);
  });

  it('when the later run took the last of maxRuns first, then the earlier late run is superseded, so one post in all', async () => {
    const task = await insertTask({ schedule: '@every 10s', maxRuns: 2, runsLeft: 1 });
    const tick = Math.floor(Date.now() / 10_000) * 10_000;
    const acts = activitiesWith(orm);

    const later = await deliver(acts, {
      taskId: task.id,
      scheduledTime: new Date(tick - 10_000).toISOString(),
    });
    expect(later.status).toBe('SUCCESS');
    const earlier = await deliver(acts, {
      taskId: task.id,
      scheduledTime: new Date(tick - 20_000).toISOString(),
    });
    expect(earlier).toEqual(expect.objectContaining({ status: 'SKIPPED', reason: 'SUPERSEDED' }));

    expect(mock.requests(task.webhookId)).toHaveLength(1);
    expect(await runsLeft(task.id)).toBe(0);
  });

  it('when a calendar run is late and a later one of its schedule is already due, then it is skipped, computed without asking Temporal; the latest one is delivered', async () => {
    const task = await insertTask({ schedule: '*/2 * * * *' });
    const lastEven = Math.floor(Date.now() / 120_000) * 120_000;
    // No Temporal client at all: the decision is the local calculator's.
    const acts = activitiesWith(orm);

    const late = await deliver(acts, {
      taskId: task.id,
      scheduledTime: new Date(lastEven - 240_000).toISOString(),
    });
    expect(late).toEqual({ status: 'SKIPPED', reason: 'SUPERSEDED' });

    const latest = await deliver(acts, {
      taskId: task.id,
      scheduledTime: new Date(lastEven).toISOString(),
    });
    expect(latest.status).toBe('SUCCESS');
    expect(mock.requests(task.webhookId)).toHaveLength(1);
  });
});
