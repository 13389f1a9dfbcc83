import {
  ActivityFailure,
  ApplicationFailure,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  startChild,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  ATTEMPT_LOGGING_MARGIN_MS,
  type DeliverWebhookInput,
  type DeliverWebhookResult,
  DeliveryErrorType,
  type DeliveryFailureDetails,
  DeliveryWaitType,
  DISCORD_AWARE_PATCH,
  deleteMessageWorkflowId,
  type DeleteMessageInput,
  type DeliveryPolicy,
  type InfrastructureFailureDetails,
  type MessageFollowUp,
  MAX_WEBHOOK_TIMEOUT_MS,
  NON_RETRYABLE_DELIVERY_ERRORS,
  OutageErrorType,
  type SendWebhookInput,
  type SendWebhookResult,
} from '../src/temporal/contracts';
import { alertFailure, alertRecovery } from './alerts';
import { deleteMessage } from './delete-message.workflow';
import { OUTAGE_GIVE_UP_MS, outageBackoffMs } from './outage';

const { getDeliveryPolicy } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10s' });
// The local activity that reads the policy and makes the first attempt when the worker's policy
// says so (DELIVERY_FIRST_ATTEMPT=local); histories from before SPEC §13 recorded it under the
// policy's name. Not retried: a failed attempt is the workflow's to handle. The attempt ends on its
// own HTTP and database timeouts (and a bucket wait of a few seconds); this bound is only the
// longest the configuration allows, since the policy that holds the worker's own is not read yet.
const firstCall = {
  startToCloseTimeout: MAX_WEBHOOK_TIMEOUT_MS + ATTEMPT_LOGGING_MARGIN_MS,
  retry: { maximumAttempts: 1 },
};
const { startDelivery, getDeliveryPolicy: startDeliveryBeforeDiscordWaits } =
  proxyLocalActivities<Activities>(firstCall);
// Recording an outcome must not give up while the database is away: these wait it out.
const { completeTask, markTaskFailed, recordAttempt } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

/** The webhook's own failures, which count against maxRetry. */
const WEBHOOK_FAILURES: string[] = [DeliveryErrorType.REJECTED, DeliveryErrorType.UNAVAILABLE];
/** Before SPEC §13 a 429 was one of them too (histories without the patch). */
const WEBHOOK_FAILURES_BEFORE_DISCORD_WAITS: string[] = Object.values(DeliveryErrorType);
/** Discord's limits and outages, waited out (SPEC §13). */
const DISCORD_WAITS: string[] = Object.values(DeliveryWaitType);

/**
 * Started by a task's Temporal Schedule (or a manual trigger): delivers the task's message once,
 * under a retry policy of maxRetry + 1 attempts with exponential backoff. A permanent failure, or
 * the last failed attempt, marks the task FAILED and fails this workflow, so that the schedule
 * (pauseOnFailure) pauses itself. The input holds ids only: URL and payload stay in PostgreSQL.
 *
 * The first attempt runs as a local activity when the worker's policy says so
 * (DELIVERY_FIRST_ATTEMPT=local, the default), in the same call that reads the policy: a delivery
 * that succeeds at once then costs Temporal one workflow task with one marker, and the failure of
 * that attempt is recorded in the workflow's history (the marker) before the regular activity
 * makes the attempts that are left.
 *
 * Our own outages (SPEC §6) are not Discord's failures: when the activity could not reach the
 * database, or lost its last attempt to a worker crash, this workflow waits (a durable timer) and
 * calls it again with the attempts made so far, so that they never use up maxRetry, mark the task
 * FAILED or pause the schedule. An attempt that reached Discord while its row could not be
 * written comes back in the failure's details and is recorded here once the database is back.
 *
 * Discord's limits and outages (SPEC §13) are waited out the same way: a 429, a webhook's empty
 * bucket, or Discord failing as a whole (the activity's classifier says which) come back as a
 * DeliveryWaitType with the wait, and this workflow sleeps it on a durable timer and calls again,
 * counting nothing against maxRetry. After an outage the missed-run rules apply again.
 */
export async function sendWebhook(input: SendWebhookInput): Promise<SendWebhookResult> {
  const maxAttempts = input.maxRetry + 1;
  const scheduled = workflowInfo().searchAttributes['TemporalScheduledStartTime']?.[0];
  const scheduledTime =
    scheduled instanceof Date
      ? scheduled.toISOString()
      : typeof scheduled === 'string'
        ? scheduled
        : null;
  const startedAt = Date.now();
  const firstInput: DeliverWebhookInput = { taskId: input.taskId, scheduledTime, maxAttempts };

  // Runs started before SPEC §13's waits replay as they ran (no marker in their history).
  const discordAware = patched(DISCORD_AWARE_PATCH);
  const webhookFailures = discordAware ? WEBHOOK_FAILURES : WEBHOOK_FAILURES_BEFORE_DISCORD_WAITS;

  // Read by the first call below; until then the worker's policy is unknown.
  let policy: DeliveryPolicy | undefined;
  // Attempts that reached Discord (each has its row), and those of them that count against
  // maxRetry (the webhook's own failures; not 429s or Discord's outages).
  let attemptsMade = 0;
  let failuresCounted = 0;
  let rateLimitedSince: number | undefined;
  let recheckMissedRun = false;
  for (let interruptions = 0; ;) {
    // Whether the call that may throw below is the local first attempt.
    let wasLocal = false;
    let waitMs: number;
    try {
      let result: DeliverWebhookResult;
      if (policy === undefined) {
        // One local activity reads the policy and, with DELIVERY_FIRST_ATTEMPT=local, makes the
        // first attempt: a delivery that succeeds at once completes within this workflow task.
        wasLocal = true;
        const { firstAttempt, ...read } = await (
          discordAware ? startDelivery : startDeliveryBeforeDiscordWaits
        )(firstInput);
        policy = read;
        if (firstAttempt) {
          result = firstAttempt;
        } else if (policy.firstAttemptLocal) {
          // A history from before the policy and the first attempt were one call.
          result = await localDelivery(policy).deliverWebhook(firstInput);
        } else {
          wasLocal = false;
          result = await regularDelivery(policy, maxAttempts, 0).deliverWebhook(firstInput);
        }
      } else {
        result = await regularDelivery(
          policy,
          maxAttempts - failuresCounted,
          failuresCounted,
        ).deliverWebhook({
          ...firstInput,
          ...(attemptsMade > 0 ? { attemptOffset: attemptsMade } : {}),
          ...(discordAware ? { failuresCounted } : {}),
          ...(rateLimitedSince === undefined
            ? {}
            : { rateLimitedSince: new Date(rateLimitedSince).toISOString() }),
          ...(recheckMissedRun ? { recheckMissedRun } : {}),
        });
      }
      if (result.status === 'TASK_DELETED') {
        log.info('task was deleted; nothing delivered', { taskId: input.taskId });
        return { status: 'SKIPPED' };
      }
      // The task's last scheduled run (SPEC §14): it completes once the run has ended. (Results
      // recorded before bounds existed carry no lastRun, so their histories replay unchanged.)
      if (result.status === 'SKIPPED') {
        if (result.lastRun) await completeTask({ taskId: input.taskId });
        return { status: 'SKIPPED' };
      }
      if (result.status === 'SUCCESS' || result.status === 'ALREADY_DELIVERED')
        await startDeletes(input.taskId, result.followUp);
      if (result.status === 'SUCCESS' && result.recovered) await alertRecovery(input.taskId);
      if (result.lastRun) await completeTask({ taskId: input.taskId });
      return {
        status: 'SUCCESS',
        messageId: result.status === 'SUCCESS' ? (result.messageId ?? undefined) : undefined,
      };
    } catch (error) {
      // A failed first call leaves the policy unread: read it alone.
      policy ??= await getDeliveryPolicy();
      // A regular activity's failure comes wrapped in an ActivityFailure, a local one's as is.
      const cause =
        error instanceof ActivityFailure ? error.cause : wasLocal ? asFailure(error) : undefined;
      const type = cause instanceof ApplicationFailure ? cause.type : undefined;
      // The attempt ended without a Discord outcome: lost (timed out, its worker died) or an
      // unexpected error of ours.
      const lost =
        error instanceof ActivityFailure ||
        (wasLocal && (cause instanceof ApplicationFailure || cause instanceof TimeoutFailure));
      if (cause instanceof ApplicationFailure && type && webhookFailures.includes(type)) {
        if (!wasLocal || type === DeliveryErrorType.REJECTED || maxAttempts === 1) {
          return failTask(input.taskId, cause.message);
        }
        // The local first attempt failed and was logged RETRYING: the regular activity makes
        // the attempts that are left, after the policy's first backoff.
        const details = cause.details?.[0] as DeliveryFailureDetails | undefined;
        attemptsMade = 1;
        failuresCounted = 1;
        await sleep(details?.retryDelayMs ?? backoffMs(policy, 0));
        continue;
      }
      if (
        cause instanceof ApplicationFailure &&
        type &&
        discordAware &&
        DISCORD_WAITS.includes(type)
      ) {
        const details = (cause.details?.[0] ?? {}) as Partial<InfrastructureFailureDetails>;
        // Without details (not the activity's own failure), the attempt counts as made.
        attemptsMade = details.attemptsMade ?? attemptsMade + 1;
        failuresCounted = details.failuresCounted ?? failuresCounted;
        if (type === DeliveryWaitType.DISCORD_DOWN) {
          recheckMissedRun = true;
          waitMs = details.retryDelayMs ?? outageBackoffMs(interruptions);
        } else {
          // Discord's rate limit: the deadline counts from the first wait.
          rateLimitedSince ??= Date.now();
          await sleep(details.retryDelayMs ?? policy.initialIntervalMs);
          continue;
        }
      } else if (cause instanceof ApplicationFailure && type === OutageErrorType.INFRASTRUCTURE) {
        const details = (cause.details?.[0] ?? { attemptsMade }) as InfrastructureFailureDetails;
        attemptsMade = details.attemptsMade;
        failuresCounted = details.failuresCounted ?? details.attemptsMade;
        if (discordAware) recheckMissedRun = true;
        const row = details.pendingRow;
        if (row) {
          await recordAttempt(row);
          if (row.status === 'SUCCESS') {
            await startDeletes(input.taskId, details.followUp);
            return { status: 'SUCCESS' };
          }
          if (row.status === 'FAILED') return failTask(input.taskId, row.message);
        }
        waitMs = row
          ? (details.retryDelayMs ?? policy.initialIntervalMs)
          : outageBackoffMs(interruptions);
      } else if (wasLocal && maxAttempts > 1 && lost) {
        // The local first attempt was lost (its worker died, it timed out): like a regular
        // activity's lost attempt, it counts, and the regular activity makes the rest.
        attemptsMade = 1;
        failuresCounted = 1;
        await sleep(backoffMs(policy, 0));
        continue;
      } else if (lost) {
        // The last attempt the policy allowed was lost to a worker crash or an outage (or an
        // unexpected error of ours): whether it reached Discord is unknown, so it is run again
        // under the same number; a row it wrote makes the re-run replay its outcome.
        attemptsMade += Math.max(0, maxAttempts - failuresCounted - 1);
        failuresCounted = maxAttempts - 1;
        waitMs = outageBackoffMs(interruptions);
      } else {
        throw error;
      }
    }
    if (Date.now() - startedAt > OUTAGE_GIVE_UP_MS) {
      log.warn('gave up waiting for the outage to end; the task is left as it was', {
        taskId: input.taskId,
      });
      return { status: 'SKIPPED' };
    }
    log.info("delivery interrupted by an outage (ours or Discord's); trying again", {
      taskId: input.taskId,
      waitMs,
      attemptsMade,
    });
    await sleep(waitMs);
    interruptions += 1;
  }
}

/** The first attempt as a local activity, as a history from before DeliveryStart recorded it. */
function localDelivery(policy: DeliveryPolicy) {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: policy.activityTimeoutMs,
    retry: { maximumAttempts: 1 },
  });
}

/** Regular activities for the attempts left, the backoff carrying on from attempt `backoffFrom`. */
function regularDelivery(policy: DeliveryPolicy, attemptsLeft: number, backoffFrom: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: policy.activityTimeoutMs,
    retry: {
      maximumAttempts: Math.max(1, attemptsLeft),
      initialInterval: backoffMs(policy, backoffFrom),
      backoffCoefficient: policy.backoffCoefficient,
      maximumInterval: policy.maximumIntervalMs,
      nonRetryableErrorTypes: NON_RETRYABLE_DELIVERY_ERRORS,
    },
  });
}

function asFailure(error: unknown): ApplicationFailure | TimeoutFailure | undefined {
  return error instanceof ApplicationFailure || error instanceof TimeoutFailure ? error : undefined;
}

/** The retry policy's wait after the failure of attempt `n + 1`: initial x coefficient^n, capped. */
function backoffMs(policy: DeliveryPolicy, n: number): number {
  return Math.min(
    policy.maximumIntervalMs,
    policy.initialIntervalMs * policy.backoffCoefficient ** n,
  );
}

/**
 * The task becomes FAILED (its schedule pauses) and the workflow fails: Discord said no for good.
 * A task that just became FAILED is alerted (SPEC §14; histories from before alerts recorded no
 * answer here, and so start no alert when replayed).
 */
async function failTask(taskId: string, reason: string): Promise<never> {
  const marked = await markTaskFailed({ taskId, reason });
  if (marked?.alert) await alertFailure(taskId, reason);
  throw ApplicationFailure.nonRetryable(`delivery failed: ${reason}`, 'DeliveryFailed');
}

/**
 * The deletes a delivered message leaves (SPEC §13): the replaced message now, the posted one
 * after `deleteAfter`. Each is a workflow of its own that outlives this run, so that a long
 * `deleteAfter` never holds up the task's next run; one per message (its id says which).
 */
async function startDeletes(taskId: string, followUp: MessageFollowUp | undefined): Promise<void> {
  if (!followUp) return;
  const deletes: DeleteMessageInput[] = [];
  if (followUp.replacedMessageId) {
    deletes.push({ taskId, messageId: followUp.replacedMessageId, reason: 'replace', delayMs: 0 });
  }
  if (followUp.deleteAt) {
    // Counted from the post, not from now: a run whose completion waited out a crash or an
    // outage still deletes on time.
    const delayMs = Math.max(0, Date.parse(followUp.deleteAt) - Date.now());
    deletes.push({ taskId, messageId: followUp.messageId, reason: 'deleteAfter', delayMs });
  }
  for (const input of deletes) {
    try {
      await startChild(deleteMessage, {
        workflowId: deleteMessageWorkflowId(taskId, input.messageId, input.reason),
        args: [input],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (error) {
      // Already being deleted (a re-run of this run's last step): nothing more to start.
      // (@temporalio/workflow does not export the error's class; its name is its contract.)
      if (!(error instanceof Error && error.name === 'WorkflowExecutionAlreadyStartedError'))
        throw error;
    }
  }
}
