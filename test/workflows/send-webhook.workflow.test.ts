import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type {
  DeliverWebhookInput,
  DeliverWebhookResult,
  DeliveryPolicy,
  DeliveryStart,
  InfrastructureFailureDetails,
  MarkTaskFailedInput,
  PendingAttemptRow,
  SendWebhookInput,
  SendWebhookResult,
} from '../../src/temporal/contracts';
import { WORKFLOWS_PATH } from '../../src/temporal/workflow-bundle';
import type { sendWebhook } from '../../workflows';

/**
 * The sendWebhook workflow (SPEC §6) on the real Temporal dev server, with mocked activities: the
 * retry policy it gives the delivery activity (maxRetry + 1 attempts, backoff from the worker's
 * configuration, permanent failures not retried, Discord's retry_after honoured), what it returns,
 * and when it marks the task FAILED and fails.
 */

const POLICY: DeliveryPolicy = {
  initialIntervalMs: 100,
  backoffCoefficient: 2,
  maximumIntervalMs: 10_000,
  activityTimeoutMs: 5_000,
};

interface Call {
  input: DeliverWebhookInput;
  attempt: number;
  at: number;
  workflowId: string | undefined;
}

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  // The worker's per-attempt "Activity failed" warnings are expected here; keep the output readable.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('TEMPORAL_ADDRESS is not set; the integration global setup exports it');
  env = await TestWorkflowEnvironment.createFromExistingServer({ address });
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: new DefaultLogger('ERROR'),
  });
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

/** Mocked activities; `deliver` decides each attempt's outcome from its attempt number. */
function mockActivities(
  deliver: (
    attempt: number,
    input: DeliverWebhookInput,
  ) => DeliverWebhookResult | Promise<DeliverWebhookResult>,
  policy: DeliveryPolicy = POLICY,
) {
  const calls: Call[] = [];
  const getDeliveryPolicy = jest.fn(async (): Promise<DeliveryPolicy> => policy);
  const deliverWebhook = jest.fn(
    async (input: DeliverWebhookInput): Promise<DeliverWebhookResult> => {
      const info = Context.current().info;
      calls.push({
        input,
        attempt: info.attempt,
        at: Date.now(),
        workflowId: info.workflowExecution?.workflowId,
      });
      return deliver(info.attempt, input);
    },
  );
  const markTaskFailed = jest.fn(async (_input: MarkTaskFailedInput): Promise<void> => undefined);
  const recordAttempt = jest.fn(async (_row: PendingAttemptRow): Promise<void> => undefined);
  // The local call that starts a delivery; with a policy that keeps the first attempt regular it
  // only reads the policy.
  const startDelivery = jest.fn(
    async (_first: DeliverWebhookInput): Promise<DeliveryStart> => policy,
  );
  return {
    calls,
    activities: { startDelivery, getDeliveryPolicy, deliverWebhook, markTaskFailed, recordAttempt },
  };
}

type Mocks = ReturnType<typeof mockActivities>;

/** Runs `fn` while a fresh worker polls its own task queue. */
async function withWorker<T>(mocks: Mocks, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `test-send-webhook-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: mocks.activities,
  });
  return worker.runUntil(fn(taskQueue));
}

/** Starts sendWebhook directly (no schedule) and waits for its result. */
async function runWorkflow(
  mocks: Mocks,
  input: SendWebhookInput,
  workflowId = `task-${input.taskId}-${randomUUID()}`,
): Promise<SendWebhookResult> {
  return withWorker(mocks, (taskQueue) =>
    env.client.workflow.execute<typeof sendWebhook>('sendWebhook', {
      taskQueue,
      workflowId,
      args: [input],
    }),
  );
}

const unavailable = (message: string) =>
  ApplicationFailure.create({ message, type: 'DiscordUnavailable' });

function gaps(calls: Call[]): number[] {
  return calls.slice(1).map((call, i) => call.at - (calls[i]?.at ?? call.at));
}

describe('sendWebhook retry policy', () => {
  it.each([0, 1, 3])(
    'when Discord stays unavailable with maxRetry %i, then the delivery is attempted maxRetry + 1 times, the task is marked FAILED once and the workflow fails',
    async (maxRetry) => {
      const taskId = randomUUID();
      const mocks = mockActivities(() => {
        throw unavailable('HTTP 503: Service Unavailable');
      });

      const run = runWorkflow(mocks, { taskId, maxRetry });

      const error: unknown = await run.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).message).toContain('HTTP 503: Service Unavailable');
      expect(mocks.calls.map((c) => c.attempt)).toEqual(
        Array.from({ length: maxRetry + 1 }, (_v, i) => i + 1),
      );
      expect(mocks.activities.markTaskFailed).toHaveBeenCalledTimes(1);
      expect(mocks.activities.markTaskFailed).toHaveBeenCalledWith({
        taskId,
        reason: 'HTTP 503: Service Unavailable',
      });
    },
  );

  it('when the delivery activity is scheduled, then its retry policy and timeout are the ones startDelivery returns, with maximumAttempts = maxRetry + 1', async () => {
    const taskId = randomUUID();
    const workflowId = `task-${taskId}-${randomUUID()}`;
    const mocks = mockActivities(() => ({ status: 'SUCCESS', messageId: '1', httpStatus: 200 }));

    await runWorkflow(mocks, { taskId, maxRetry: 3 }, workflowId);

    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((event) => event.activityTaskScheduledEventAttributes)
      .find((attrs) => attrs?.activityType?.name === 'deliverWebhook');
    const durationMs = (d: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
      Number(d?.seconds ?? 0) * 1000 + (d?.nanos ?? 0) / 1e6;
    expect(scheduled).toBeDefined();
    expect(scheduled?.retryPolicy?.maximumAttempts).toBe(4);
    expect(durationMs(scheduled?.retryPolicy?.initialInterval)).toBe(POLICY.initialIntervalMs);
    expect(scheduled?.retryPolicy?.backoffCoefficient).toBe(POLICY.backoffCoefficient);
    expect(durationMs(scheduled?.retryPolicy?.maximumInterval)).toBe(POLICY.maximumIntervalMs);
    // Discord's waits and our outages are the workflow's to wait out, never the policy's retries.
    expect(scheduled?.retryPolicy?.nonRetryableErrorTypes).toEqual([
      'DiscordRejected',
      'DiscordRateLimited',
      'DiscordPaced',
      'DiscordDown',
      'InfrastructureUnavailable',
    ]);
    expect(durationMs(scheduled?.startToCloseTimeout)).toBe(POLICY.activityTimeoutMs);
    // SPEC §6: no URL or payload in Temporal history, only ids and numbers.
    const input = JSON.stringify(
      history.events?.map((e) => e.workflowExecutionStartedEventAttributes?.input),
    );
    expect(input).not.toMatch(/webhooks|https?:/);
  });

  it('when attempts keep failing, then the gaps between them grow with the configured backoff', async () => {
    // The dev server raises retry intervals under 1 s to 1 s (100 ms, 200 ms and 400 ms all
    // become about 1 s), so growth is only visible from a 1 s initial interval: about 1 s, then 2 s.
    const mocks = mockActivities(
      () => {
        throw unavailable('HTTP 500: Internal Server Error');
      },
      { ...POLICY, initialIntervalMs: 1_000 },
    );

    await expect(runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 })).rejects.toBeInstanceOf(
      WorkflowFailedError,
    );

    expect(mocks.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    const [first, second] = gaps(mocks.calls) as [number, number];
    expect(first).toBeGreaterThanOrEqual(900);
    expect(second).toBeGreaterThan(first);
    expect(second).toBeGreaterThanOrEqual(first * 1.5);
  });

  it('when Discord rejects the request (DiscordRejected), then it is attempted once only and the task is marked FAILED', async () => {
    const taskId = randomUUID();
    const mocks = mockActivities(() => {
      throw ApplicationFailure.nonRetryable(
        'HTTP 404 (the webhook was deleted): Unknown Webhook',
        'DiscordRejected',
      );
    });

    await expect(runWorkflow(mocks, { taskId, maxRetry: 3 })).rejects.toBeInstanceOf(
      WorkflowFailedError,
    );

    expect(mocks.calls).toHaveLength(1);
    expect(mocks.activities.markTaskFailed).toHaveBeenCalledTimes(1);
    expect(mocks.activities.markTaskFailed).toHaveBeenCalledWith({
      taskId,
      reason: 'HTTP 404 (the webhook was deleted): Unknown Webhook',
    });
  });

  it('when the DiscordRejected type is thrown as a plain retryable failure, then the policy still does not retry it', async () => {
    const mocks = mockActivities(() => {
      throw ApplicationFailure.create({
        message: 'HTTP 401: Unauthorized',
        type: 'DiscordRejected',
      });
    });

    await expect(runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 })).rejects.toBeInstanceOf(
      WorkflowFailedError,
    );

    expect(mocks.calls).toHaveLength(1);
    expect(mocks.activities.markTaskFailed).toHaveBeenCalledTimes(1);
  });

  /** What the activity throws for Discord's limits and outages (SPEC §13): the workflow waits. */
  const discordWait = (type: string, details: InfrastructureFailureDetails) =>
    ApplicationFailure.create({ message: type, type, nonRetryable: true, details: [details] });

  it("when Discord rate-limits with a retry delay, then the next attempt does not start before Discord's delay and the 429 uses up no retry", async () => {
    // Well above the ~1 s the backoff alone would give (see the backoff test).
    const retryDelayMs = 2_500;
    const mocks = mockActivities((attempt, input) => {
      if ((input.attemptOffset ?? 0) + attempt === 1) {
        throw discordWait('DiscordRateLimited', {
          attemptsMade: 1,
          failuresCounted: 0,
          retryDelayMs,
        });
      }
      return { status: 'SUCCESS', messageId: '1234', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 });

    expect(result.status).toBe('SUCCESS');
    expect(mocks.calls.map((c) => [c.input.attemptOffset, c.input.failuresCounted])).toEqual([
      [undefined, undefined],
      [1, 0],
    ]);
    expect(mocks.calls[1]?.input.rateLimitedSince).toEqual(expect.any(String));
    expect(gaps(mocks.calls)[0]).toBeGreaterThanOrEqual(retryDelayMs);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when Discord rate-limits what would be the last attempt, again and again, then the run keeps waiting and delivers, and the task is not FAILED', async () => {
    const mocks = mockActivities((attempt, input) => {
      const n = (input.attemptOffset ?? 0) + attempt;
      if (n <= 3)
        throw discordWait('DiscordRateLimited', {
          attemptsMade: n,
          failuresCounted: 0,
          retryDelayMs: 200,
        });
      return { status: 'SUCCESS', messageId: '1', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 0 });

    expect(result.status).toBe('SUCCESS');
    expect(mocks.calls.map((c) => (c.input.attemptOffset ?? 0) + c.attempt)).toEqual([1, 2, 3, 4]);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when Discord is down for everyone, then the run waits it out, the missed-run rules apply again, and maxRetry 0 is not used up', async () => {
    const mocks = mockActivities((attempt, input) => {
      const n = (input.attemptOffset ?? 0) + attempt;
      if (n <= 2) throw discordWait('DiscordDown', { attemptsMade: n, failuresCounted: 0 });
      return { status: 'SUCCESS', messageId: '1', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 0 });

    expect(result.status).toBe('SUCCESS');
    expect(mocks.calls.map((c) => [c.input.attemptOffset, c.input.recheckMissedRun])).toEqual([
      [undefined, undefined],
      [1, true],
      [2, true],
    ]);
    // The outage backoff: 1 s, then 2 s.
    const waits = gaps(mocks.calls);
    expect(waits[0]).toBeGreaterThanOrEqual(900);
    expect(waits[1]).toBeGreaterThanOrEqual(1_900);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when the webhook failed once and then its bucket makes the run wait, then the wait keeps the failure counted and the attempts left', async () => {
    const taskId = randomUUID();
    const workflowId = `task-${taskId}-${randomUUID()}`;
    const mocks = mockActivities((attempt, input) => {
      const n = (input.attemptOffset ?? 0) + attempt;
      if (n === 1) throw unavailable('HTTP 500: Internal Server Error');
      // Nothing sent on the second try: the bucket was empty (attempt 2 is not made).
      if ((input.attemptOffset ?? 0) === 0) {
        throw discordWait('DiscordPaced', {
          attemptsMade: 1,
          failuresCounted: 1,
          retryDelayMs: 300,
        });
      }
      return { status: 'SUCCESS', messageId: '1', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId, maxRetry: 2 }, workflowId);

    expect(result.status).toBe('SUCCESS');
    expect(
      mocks.calls.map((c) => [(c.input.attemptOffset ?? 0) + c.attempt, c.input.failuresCounted]),
    ).toEqual([
      [1, undefined],
      [2, undefined],
      [2, 1],
    ]);
    const budgets = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events
      ?.map((event) => event.activityTaskScheduledEventAttributes)
      .filter((attrs) => attrs?.activityType?.name === 'deliverWebhook')
      .map((attrs) => attrs?.retryPolicy?.maximumAttempts);
    expect(budgets).toEqual([3, 2]);
  });
});

describe('sendWebhook outcomes', () => {
  it('when the second attempt succeeds, then the workflow returns SUCCESS with the message id and the task is not marked FAILED', async () => {
    const mocks = mockActivities((attempt) => {
      if (attempt === 1) throw unavailable('network error: ECONNRESET socket hang up');
      return { status: 'SUCCESS', messageId: '987654321', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 3 });

    expect(result).toEqual(expect.objectContaining({ status: 'SUCCESS', messageId: '987654321' }));
    expect(mocks.calls.map((c) => c.attempt)).toEqual([1, 2]);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when an earlier attempt already delivered, then the workflow returns SUCCESS without a new failure', async () => {
    const mocks = mockActivities(() => ({ status: 'ALREADY_DELIVERED' }));

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 3 });

    expect(result.status).toBe('SUCCESS');
    expect(mocks.calls).toHaveLength(1);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when the task was deleted meanwhile, then the workflow returns SKIPPED and the task is not marked FAILED', async () => {
    const mocks = mockActivities(() => ({ status: 'TASK_DELETED' }));

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 3 });

    expect(result).toEqual({ status: 'SKIPPED' });
    expect(mocks.calls).toHaveLength(1);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when started directly, then the delivery activity receives the task id, maxAttempts = maxRetry + 1 and a null scheduledTime', async () => {
    const taskId = randomUUID();
    const mocks = mockActivities(() => ({ status: 'SUCCESS', messageId: '1', httpStatus: 200 }));

    await runWorkflow(mocks, { taskId, maxRetry: 4 });

    expect(mocks.activities.startDelivery).toHaveBeenCalledTimes(1);
    expect(mocks.activities.getDeliveryPolicy).not.toHaveBeenCalled();
    expect(mocks.calls).toHaveLength(1);
    expect(mocks.calls[0]?.input).toEqual({ taskId, maxAttempts: 5, scheduledTime: null });
    // SPEC §6: ids only in Temporal, never the URL or payload.
    expect(Object.keys(mocks.calls[0]?.input ?? {}).sort()).toEqual([
      'maxAttempts',
      'scheduledTime',
      'taskId',
    ]);
  });

  it('when started by a Temporal Schedule, then the delivery activity receives the scheduled time as an ISO string', async () => {
    const taskId = randomUUID();
    const mocks = mockActivities(() => ({ status: 'SUCCESS', messageId: '2', httpStatus: 200 }));

    const result = await withWorker(mocks, async (taskQueue) => {
      const schedule = await env.client.schedule.create({
        scheduleId: `test-send-webhook-${randomUUID()}`,
        spec: { intervals: [{ every: '1s' }] },
        action: {
          type: 'startWorkflow',
          workflowType: 'sendWebhook',
          workflowId: `task-${taskId}`,
          taskQueue,
          args: [{ taskId, maxRetry: 0 } satisfies SendWebhookInput],
        },
        state: { remainingActions: 1 },
      });
      try {
        const deadline = Date.now() + 10_000;
        while (mocks.calls.length === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await schedule.delete();
      }
      const call = mocks.calls[0];
      if (!call?.workflowId) throw new Error('the schedule did not start a run within 10 s');
      const output: SendWebhookResult = await env.client.workflow
        .getHandle(call.workflowId)
        .result();
      return output;
    });

    expect(result.status).toBe('SUCCESS');
    const call = mocks.calls[0] as Call;
    expect(call.workflowId).toMatch(new RegExp(`^task-${taskId}`));
    expect(call.input.taskId).toBe(taskId);
    expect(call.input.maxAttempts).toBe(1);
    const scheduledTime = call.input.scheduledTime;
    expect(typeof scheduledTime).toBe('string');
    expect(scheduledTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    const scheduledMs = Date.parse(scheduledTime as string);
    // Scheduled shortly before the activity ran (an every-1s interval fires on whole seconds).
    expect(scheduledMs).toBeLessThanOrEqual(call.at);
    expect(call.at - scheduledMs).toBeLessThan(5_000);
  });
});

describe('sendWebhook during our own outages (SPEC §6)', () => {
  const outage = (details: InfrastructureFailureDetails) =>
    ApplicationFailure.create({
      message: 'database unavailable: connect ECONNREFUSED 127.0.0.1:5432',
      type: 'InfrastructureUnavailable',
      nonRetryable: true,
      details: [details],
    });

  function pendingRow(
    taskId: string,
    status: PendingAttemptRow['status'],
    attempt: number,
  ): PendingAttemptRow {
    return {
      taskId,
      workflowId: 'w',
      runId: 'r',
      attempt,
      status,
      httpStatus: status === 'SUCCESS' ? 200 : 500,
      message:
        status === 'SUCCESS' ? 'delivered: Discord message 1' : 'HTTP 500: Internal Server Error',
      durationMs: 12,
      executionTime: new Date().toISOString(),
      scheduledTime: null,
      createdAt: new Date().toISOString(),
    };
  }

  it('when the database is unreachable before anything is posted, then the run waits and tries again without using up maxRetry, and the task is not FAILED', async () => {
    const taskId = randomUUID();
    let calls = 0;
    const mocks = mockActivities(() => {
      calls += 1;
      if (calls <= 3) throw outage({ attemptsMade: 0 });
      return { status: 'SUCCESS', messageId: '42', httpStatus: 200 };
    });

    // maxRetry 0: one Discord attempt; three outages must not use it up.
    const result = await runWorkflow(mocks, { taskId, maxRetry: 0 });

    expect(result).toEqual(expect.objectContaining({ status: 'SUCCESS', messageId: '42' }));
    expect(mocks.calls).toHaveLength(4);
    expect(mocks.calls.map((c) => c.attempt)).toEqual([1, 1, 1, 1]);
    expect(mocks.calls.map((c) => c.input.attemptOffset ?? 0)).toEqual([0, 0, 0, 0]);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
    // Waited 1 s, 2 s and 4 s between the tries.
    const waits = gaps(mocks.calls);
    expect(waits[0]).toBeGreaterThanOrEqual(900);
    expect(waits[2]).toBeGreaterThanOrEqual(3_900);
  });

  it('when an attempt reached Discord but its row could not be written, then the workflow records that row and the next attempt carries on from it', async () => {
    const taskId = randomUUID();
    const workflowId = `task-${taskId}-${randomUUID()}`;
    const row = pendingRow(taskId, 'RETRYING', 1);
    const mocks = mockActivities((attempt, input) => {
      if ((input.attemptOffset ?? 0) === 0 && attempt === 1) {
        throw outage({ attemptsMade: 1, pendingRow: row, retryDelayMs: 1_000 });
      }
      return { status: 'SUCCESS', messageId: '7', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId, maxRetry: 3 }, workflowId);

    expect(result.status).toBe('SUCCESS');
    expect(mocks.activities.recordAttempt).toHaveBeenCalledTimes(1);
    expect(mocks.activities.recordAttempt).toHaveBeenCalledWith(row);
    expect(mocks.calls.map((c) => c.input.attemptOffset ?? 0)).toEqual([0, 1]);
    // The second invocation has the 3 attempts that are left, not a fresh 4.
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const budgets = (history.events ?? [])
      .map((event) => event.activityTaskScheduledEventAttributes)
      .filter((attrs) => attrs?.activityType?.name === 'deliverWebhook')
      .map((attrs) => attrs?.retryPolicy?.maximumAttempts);
    expect(budgets).toEqual([4, 3]);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when a successful post could not be logged, then the row is recorded and nothing is posted again', async () => {
    const taskId = randomUUID();
    const row = pendingRow(taskId, 'SUCCESS', 1);
    const mocks = mockActivities(() => {
      throw outage({ attemptsMade: 1, pendingRow: row });
    });

    const result = await runWorkflow(mocks, { taskId, maxRetry: 3 });

    expect(result.status).toBe('SUCCESS');
    expect(mocks.calls).toHaveLength(1);
    expect(mocks.activities.recordAttempt).toHaveBeenCalledWith(row);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when the last attempt that could not be logged was a final failure, then the row is recorded and the task is marked FAILED', async () => {
    const taskId = randomUUID();
    const row = {
      ...pendingRow(taskId, 'FAILED', 1),
      httpStatus: 404,
      message: 'HTTP 404: Unknown Webhook',
    };
    const mocks = mockActivities(() => {
      throw outage({ attemptsMade: 1, pendingRow: row });
    });

    await expect(runWorkflow(mocks, { taskId, maxRetry: 3 })).rejects.toBeInstanceOf(
      WorkflowFailedError,
    );

    expect(mocks.activities.recordAttempt).toHaveBeenCalledWith(row);
    expect(mocks.activities.markTaskFailed).toHaveBeenCalledWith({
      taskId,
      reason: 'HTTP 404: Unknown Webhook',
    });
  });

  it('when the last allowed attempt times out (a worker killed mid-attempt), then the task is not FAILED and that attempt runs again', async () => {
    const taskId = randomUUID();
    let calls = 0;
    const mocks = mockActivities(
      async () => {
        calls += 1;
        if (calls === 1) {
          // Outlives the activity's start-to-close timeout, as an attempt whose worker died would.
          await new Promise((resolve) => setTimeout(resolve, 3_000));
        }
        return { status: 'SUCCESS', messageId: '9', httpStatus: 200 };
      },
      { ...POLICY, activityTimeoutMs: 1_000 },
    );

    const result = await runWorkflow(mocks, { taskId, maxRetry: 0 });

    expect(result.status).toBe('SUCCESS');
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
    expect(mocks.calls.map((c) => c.input.attemptOffset ?? 0)).toEqual([0, 0]);
  });
});

/**
 * DELIVERY_FIRST_ATTEMPT=local (the worker's default): the first attempt is a local activity, so a
 * delivery that succeeds at once is one workflow task; the attempts after its failure are the
 * regular activity. Every guarantee above holds in this mode too.
 */
describe('sendWebhook with the first attempt as a local activity', () => {
  const LOCAL: DeliveryPolicy = { ...POLICY, firstAttemptLocal: true };
  /** Attempt number as the delivery activity computes it: offset + the SDK's attempt. */
  const numbers = (mocks: Mocks) =>
    mocks.calls.map((c) => (c.input.attemptOffset ?? 0) + c.attempt);
  const retryable = (type: string, message: string, retryDelayMs?: number) =>
    ApplicationFailure.create({
      message,
      type,
      ...(retryDelayMs === undefined ? {} : { details: [{ retryDelayMs }] }),
    });
  const eventsOf = async (workflowId: string) =>
    (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];

  it('when the first attempt succeeds, then the run is one workflow task with no activity task, and its result is the message id', async () => {
    const workflowId = `task-${randomUUID()}-${randomUUID()}`;
    const mocks = mockActivities(
      () => ({ status: 'SUCCESS', messageId: '5', httpStatus: 200 }),
      LOCAL,
    );

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 3 }, workflowId);

    expect(result).toEqual(expect.objectContaining({ status: 'SUCCESS', messageId: '5' }));
    expect(numbers(mocks)).toEqual([1]);
    const events = await eventsOf(workflowId);
    expect(events.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    // The policy and the delivery: two local activity markers (beside the patch's).
    expect(
      events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
    ).toHaveLength(2);
  });

  it.each([0, 1, 3])(
    'when Discord stays unavailable with maxRetry %i, then attempts 1..maxRetry + 1 are made once each, the task is marked FAILED once and the workflow fails',
    async (maxRetry) => {
      const taskId = randomUUID();
      const workflowId = `task-${taskId}-${randomUUID()}`;
      const mocks = mockActivities(() => {
        throw retryable('DiscordUnavailable', 'HTTP 503: Service Unavailable');
      }, LOCAL);

      const error: unknown = await runWorkflow(mocks, { taskId, maxRetry }, workflowId).catch(
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect(numbers(mocks)).toEqual(Array.from({ length: maxRetry + 1 }, (_v, i) => i + 1));
      expect(mocks.activities.markTaskFailed).toHaveBeenCalledTimes(1);
      expect(mocks.activities.markTaskFailed).toHaveBeenCalledWith({
        taskId,
        reason: 'HTTP 503: Service Unavailable',
      });
      const events = await eventsOf(workflowId);
      // The first attempt's failure is in the history (its marker), for the Temporal Web UI.
      const firstFailure = events
        .map((e) => e.markerRecordedEventAttributes?.failure?.message)
        .find(Boolean);
      expect(firstFailure).toBe('HTTP 503: Service Unavailable');
      // The regular activity has the attempts that are left, under the same policy.
      const scheduled = events
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((attrs) => attrs?.activityType?.name === 'deliverWebhook');
      expect(scheduled.map((attrs) => attrs?.retryPolicy?.maximumAttempts)).toEqual(
        maxRetry === 0 ? [] : [maxRetry],
      );
      if (maxRetry > 0) {
        expect(scheduled[0]?.retryPolicy?.nonRetryableErrorTypes).toContain('DiscordRejected');
        expect(scheduled[0]?.retryPolicy?.nonRetryableErrorTypes).not.toContain(
          'DiscordUnavailable',
        );
        expect(scheduled[0]?.retryPolicy?.backoffCoefficient).toBe(POLICY.backoffCoefficient);
      }
    },
  );

  it('when attempts keep failing, then the gaps between them grow with the configured backoff across the local and the regular attempts', async () => {
    const mocks = mockActivities(
      () => {
        throw retryable('DiscordUnavailable', 'HTTP 500: Internal Server Error', 1_000);
      },
      { ...LOCAL, initialIntervalMs: 1_000 },
    );

    await expect(runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 })).rejects.toBeInstanceOf(
      WorkflowFailedError,
    );

    expect(numbers(mocks)).toEqual([1, 2, 3]);
    const [first, second] = gaps(mocks.calls) as [number, number];
    expect(first).toBeGreaterThanOrEqual(900);
    expect(second).toBeGreaterThanOrEqual(first * 1.5);
  });

  it('when Discord rejects the first attempt, then nothing is retried and the task is marked FAILED', async () => {
    const taskId = randomUUID();
    const mocks = mockActivities(() => {
      throw ApplicationFailure.nonRetryable('HTTP 404: Unknown Webhook', 'DiscordRejected');
    }, LOCAL);

    await expect(runWorkflow(mocks, { taskId, maxRetry: 3 })).rejects.toBeInstanceOf(
      WorkflowFailedError,
    );

    expect(mocks.calls).toHaveLength(1);
    expect(mocks.activities.markTaskFailed).toHaveBeenCalledWith({
      taskId,
      reason: 'HTTP 404: Unknown Webhook',
    });
  });

  it("when Discord rate-limits the first attempt, then the second does not start before Discord's delay", async () => {
    const retryDelayMs = 2_500;
    const mocks = mockActivities((attempt, input) => {
      if ((input.attemptOffset ?? 0) + attempt === 1) {
        throw retryable('DiscordRateLimited', 'HTTP 429 rate limited', retryDelayMs);
      }
      return { status: 'SUCCESS', messageId: '1234', httpStatus: 200 };
    }, LOCAL);

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 });

    expect(result.status).toBe('SUCCESS');
    expect(numbers(mocks)).toEqual([1, 2]);
    expect(gaps(mocks.calls)[0]).toBeGreaterThanOrEqual(retryDelayMs);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it('when the database is unreachable during the first attempt, then the regular activity tries again with the whole budget and the task is not FAILED', async () => {
    const taskId = randomUUID();
    const workflowId = `task-${taskId}-${randomUUID()}`;
    let calls = 0;
    const mocks = mockActivities(() => {
      calls += 1;
      if (calls === 1) {
        throw ApplicationFailure.create({
          message: 'database unavailable',
          type: 'InfrastructureUnavailable',
          nonRetryable: true,
          details: [{ attemptsMade: 0 }],
        });
      }
      return { status: 'SUCCESS', messageId: '8', httpStatus: 200 };
    }, LOCAL);

    const result = await runWorkflow(mocks, { taskId, maxRetry: 2 }, workflowId);

    expect(result.status).toBe('SUCCESS');
    expect(numbers(mocks)).toEqual([1, 1]);
    const budgets = (await eventsOf(workflowId))
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((attrs) => attrs?.activityType?.name === 'deliverWebhook')
      .map((attrs) => attrs?.retryPolicy?.maximumAttempts);
    expect(budgets).toEqual([3]);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it.each([
    [0, [1, 1]],
    [2, [1, 2]],
  ])(
    'when the first attempt outlives its timeout (a worker killed mid-attempt) with maxRetry %i, then the task is not FAILED and the next attempt is %j',
    async (maxRetry, expected) => {
      let calls = 0;
      const mocks = mockActivities(
        async () => {
          calls += 1;
          if (calls === 1) await new Promise((resolve) => setTimeout(resolve, 3_000));
          return { status: 'SUCCESS', messageId: '9', httpStatus: 200 };
        },
        { ...LOCAL, activityTimeoutMs: 1_000 },
      );

      const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry });

      expect(result.status).toBe('SUCCESS');
      expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
      expect(numbers(mocks)).toEqual(expected);
    },
  );
});

describe('sendWebhook with the policy and the first attempt in one local activity', () => {
  const LOCAL: DeliveryPolicy = { ...POLICY, firstAttemptLocal: true };
  /**
   * Mocked activities as the worker has them: startDelivery, given the first attempt's input,
   * makes that attempt (through the deliverWebhook mock) and answers the policy with its outcome.
   */
  function mockStarting(
    deliver: Parameters<typeof mockActivities>[0],
    policy: DeliveryPolicy = LOCAL,
  ): Mocks {
    const mocks = mockActivities(deliver, policy);
    const startDelivery = jest.fn(async (first: DeliverWebhookInput): Promise<DeliveryStart> =>
      policy.firstAttemptLocal
        ? { ...policy, firstAttempt: await mocks.activities.deliverWebhook(first) }
        : policy,
    );
    return { ...mocks, activities: { ...mocks.activities, startDelivery } };
  }
  const numbers = (mocks: Mocks) =>
    mocks.calls.map((c) => (c.input.attemptOffset ?? 0) + c.attempt);
  const eventsOf = async (workflowId: string) =>
    (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  // Local activities' markers; the patch's marker (SPEC §13's waits) is not a call.
  const localCalls = (events: Awaited<ReturnType<typeof eventsOf>>) =>
    events.filter(
      (e) =>
        e.markerRecordedEventAttributes &&
        e.markerRecordedEventAttributes.markerName !== 'core_patch',
    ).length;
  const regularBudgets = (events: Awaited<ReturnType<typeof eventsOf>>) =>
    events
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((attrs) => attrs?.activityType?.name === 'deliverWebhook')
      .map((attrs) => attrs?.retryPolicy?.maximumAttempts);

  it('when the first attempt succeeds, then the run is one workflow task with the local call and the patch marker and no activity task', async () => {
    const workflowId = `task-${randomUUID()}-${randomUUID()}`;
    const mocks = mockStarting(() => ({ status: 'SUCCESS', messageId: '5', httpStatus: 200 }));

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 3 }, workflowId);

    expect(result).toEqual(expect.objectContaining({ status: 'SUCCESS', messageId: '5' }));
    expect(numbers(mocks)).toEqual([1]);
    expect(mocks.activities.startDelivery).toHaveBeenCalledTimes(1);
    const events = await eventsOf(workflowId);
    expect(events.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
    expect(regularBudgets(events)).toEqual([]);
    expect(localCalls(events)).toBe(1);
  });

  it('when the worker makes every attempt a regular activity, then the one local call only reads the policy', async () => {
    const workflowId = `task-${randomUUID()}-${randomUUID()}`;
    const mocks = mockStarting(() => ({ status: 'SUCCESS', messageId: '6', httpStatus: 200 }), {
      ...POLICY,
      firstAttemptLocal: false,
    });

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 }, workflowId);

    expect(result.status).toBe('SUCCESS');
    const events = await eventsOf(workflowId);
    expect(localCalls(events)).toBe(1);
    expect(regularBudgets(events)).toEqual([3]);
  });

  it.each([0, 1, 3])(
    'when Discord stays unavailable with maxRetry %i, then attempts 1..maxRetry + 1 are made once each, the first failure is in the history and the task is marked FAILED once',
    async (maxRetry) => {
      const taskId = randomUUID();
      const workflowId = `task-${taskId}-${randomUUID()}`;
      const mocks = mockStarting(() => {
        throw unavailable('HTTP 503: Service Unavailable');
      });

      const error: unknown = await runWorkflow(mocks, { taskId, maxRetry }, workflowId).catch(
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect(numbers(mocks)).toEqual(Array.from({ length: maxRetry + 1 }, (_v, i) => i + 1));
      expect(mocks.activities.markTaskFailed).toHaveBeenCalledTimes(1);
      const events = await eventsOf(workflowId);
      const firstFailure = events
        .map((e) => e.markerRecordedEventAttributes?.failure?.message)
        .find(Boolean);
      expect(firstFailure).toBe('HTTP 503: Service Unavailable');
      expect(regularBudgets(events)).toEqual(maxRetry === 0 ? [] : [maxRetry]);
    },
  );

  it("when Discord rate-limits the first attempt, then the second does not start before Discord's delay", async () => {
    const retryDelayMs = 2_500;
    const mocks = mockStarting((attempt, input) => {
      if ((input.attemptOffset ?? 0) + attempt === 1) {
        throw ApplicationFailure.create({
          message: 'HTTP 429 rate limited',
          type: 'DiscordRateLimited',
          nonRetryable: true,
          details: [{ attemptsMade: 1, failuresCounted: 0, retryDelayMs }],
        });
      }
      return { status: 'SUCCESS', messageId: '1234', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 });

    expect(result.status).toBe('SUCCESS');
    expect(numbers(mocks)).toEqual([1, 2]);
    expect(gaps(mocks.calls)[0]).toBeGreaterThanOrEqual(retryDelayMs);
  });

  it('when Discord rejects the first attempt, then nothing is retried and the task is marked FAILED', async () => {
    const taskId = randomUUID();
    const mocks = mockStarting(() => {
      throw ApplicationFailure.nonRetryable('HTTP 404: Unknown Webhook', 'DiscordRejected');
    });

    await expect(runWorkflow(mocks, { taskId, maxRetry: 3 })).rejects.toBeInstanceOf(
      WorkflowFailedError,
    );

    expect(mocks.calls).toHaveLength(1);
    expect(mocks.activities.markTaskFailed).toHaveBeenCalledWith({
      taskId,
      reason: 'HTTP 404: Unknown Webhook',
    });
  });

  it('when the database is unreachable during the first attempt, then the regular activity tries again with the whole budget and the task is not FAILED', async () => {
    const workflowId = `task-${randomUUID()}-${randomUUID()}`;
    let calls = 0;
    const mocks = mockStarting(() => {
      calls += 1;
      if (calls === 1) {
        throw ApplicationFailure.create({
          message: 'database unavailable',
          type: 'InfrastructureUnavailable',
          nonRetryable: true,
          details: [{ attemptsMade: 0 }],
        });
      }
      return { status: 'SUCCESS', messageId: '8', httpStatus: 200 };
    });

    const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry: 2 }, workflowId);

    expect(result.status).toBe('SUCCESS');
    expect(numbers(mocks)).toEqual([1, 1]);
    expect(regularBudgets(await eventsOf(workflowId))).toEqual([3]);
    expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
  });

  it.each([
    [0, [1, 1]],
    [2, [1, 2]],
  ])(
    'when the first call ends without a Discord outcome (an error of ours) with maxRetry %i, then the task is not FAILED and the next attempt is %j',
    async (maxRetry, expected) => {
      let calls = 0;
      const mocks = mockStarting(() => {
        calls += 1;
        if (calls === 1) throw new Error('worker lost its way');
        return { status: 'SUCCESS', messageId: '9', httpStatus: 200 };
      });

      const result = await runWorkflow(mocks, { taskId: randomUUID(), maxRetry });

      expect(result.status).toBe('SUCCESS');
      expect(mocks.activities.markTaskFailed).not.toHaveBeenCalled();
      expect(numbers(mocks)).toEqual(expected);
    },
  );
});
