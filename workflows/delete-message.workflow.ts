import {
  ActivityFailure,
  ApplicationFailure,
  log,
  proxyActivities,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  ATTEMPT_LOGGING_MARGIN_MS,
  type DeleteDiscordMessageResult,
  type DeleteMessageInput,
  DeliveryErrorType,
  DeliveryWaitType,
  type InfrastructureFailureDetails,
  MAX_WEBHOOK_TIMEOUT_MS,
  NON_RETRYABLE_DELIVERY_ERRORS,
  OutageErrorType,
} from '../src/temporal/contracts';
import { OUTAGE_GIVE_UP_MS, outageBackoffMs } from './outage';

// A webhook's own failures (5xx, timeouts while Discord answers) are retried a few times with
// backoff; Discord's waits and our outages end the call and are waited out below.
const { deleteDiscordMessage } = proxyActivities<Activities>({
  startToCloseTimeout: MAX_WEBHOOK_TIMEOUT_MS + ATTEMPT_LOGGING_MARGIN_MS,
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_DELIVERY_ERRORS,
  },
});
const { markTaskFailed, recordAttempt } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

const WAITS: string[] = [...Object.values(DeliveryWaitType), OutageErrorType.INFRASTRUCTURE];

export type DeleteMessageResult = DeleteDiscordMessageResult | { status: 'GAVE_UP' };

/**
 * Deletes one Discord message a task posted (SPEC §13): the message a `replace` run replaced, at
 * once, or a message `deleteAfter` after it was posted, on a durable timer that survives restarts
 * of every process. Started by sendWebhook as a child that outlives it (ParentClosePolicy ABANDON),
 * so a long `deleteAfter` never holds up the task's next run.
 *
 * Discord's limits and outages and our own are waited out as a delivery's are; a webhook that is
 * gone fails the task as a post would. A message that is already gone is done. A webhook that
 * keeps answering 5xx to the delete is given up after five tries: the message stays, the task
 * goes on (a log line says so).
 */
export async function deleteMessage(input: DeleteMessageInput): Promise<DeleteMessageResult> {
  if (input.delayMs > 0) await sleep(input.delayMs);
  const reason = input.reason;
  const startedAt = Date.now();
  for (let interruptions = 0; ; interruptions += 1) {
    let waitMs: number;
    try {
      return await deleteDiscordMessage({
        taskId: input.taskId,
        messageId: input.messageId,
        reason,
      });
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      const cause = error.cause;
      const type = cause instanceof ApplicationFailure ? cause.type : undefined;
      if (cause instanceof ApplicationFailure && type === DeliveryErrorType.REJECTED) {
        return failTask(input.taskId, cause.message);
      }
      if (cause instanceof ApplicationFailure && type === DeliveryErrorType.UNAVAILABLE) {
        log.warn('gave up deleting a message: the webhook kept failing', {
          taskId: input.taskId,
          messageId: input.messageId,
          message: cause.message,
        });
        return { status: 'GAVE_UP' };
      }
      const details = (
        cause instanceof ApplicationFailure && type && WAITS.includes(type)
          ? (cause.details?.[0] ?? {})
          : {}
      ) as Partial<InfrastructureFailureDetails>;
      const row = details.pendingRow;
      if (row) {
        await recordAttempt(row);
        if (row.status === 'FAILED') return failTask(input.taskId, row.message);
      }
      // A wait Discord named, else (our outage, an attempt lost to a crash) the outage backoff.
      waitMs = details.retryDelayMs ?? outageBackoffMs(interruptions);
    }
    if (Date.now() - startedAt > OUTAGE_GIVE_UP_MS) {
      log.warn('gave up deleting a message after a day of outages', {
        taskId: input.taskId,
        messageId: input.messageId,
      });
      return { status: 'GAVE_UP' };
    }
    await sleep(waitMs);
  }
}

/** The webhook is gone: the task becomes FAILED (its schedule pauses), as a post's would. */
async function failTask(taskId: string, reason: string): Promise<never> {
  await markTaskFailed({ taskId, reason });
  throw ApplicationFailure.nonRetryable(`delete failed: ${reason}`, 'DeliveryFailed');
}
