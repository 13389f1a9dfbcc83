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
  type InfrastructureFailureDetails,
  MAX_WEBHOOK_TIMEOUT_MS,
  NON_RETRYABLE_DELIVERY_ERRORS,
} from '../src/temporal/contracts';
import { alertFailure } from './alerts';
import { untilAnswered } from './outage';

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
  try {
    const answer = await untilAnswered(
      () =>
        deleteDiscordMessage({
          taskId: input.taskId,
          messageId: input.messageId,
          reason: input.reason,
        }),
      {
        taskId: input.taskId,
        doing: 'deleting a message',
        // A FAILED row the database could not take at the time ends the delete.
        record: async (row) => {
          await recordAttempt(row);
          return row.status === 'FAILED';
        },
      },
    );
    return answer === 'GAVE_UP' ? { status: 'GAVE_UP' } : answer;
  } catch (error) {
    const cause = error instanceof ActivityFailure ? error.cause : undefined;
    if (cause instanceof ApplicationFailure) {
      if (cause.type === DeliveryErrorType.REJECTED) return failTask(input.taskId, cause.message);
      const row = (cause.details?.[0] as Partial<InfrastructureFailureDetails> | undefined)
        ?.pendingRow;
      if (row?.status === 'FAILED') return failTask(input.taskId, row.message);
      if (cause.type === DeliveryErrorType.UNAVAILABLE) {
        log.warn('gave up deleting a message: the webhook kept failing', {
          taskId: input.taskId,
          messageId: input.messageId,
          message: cause.message,
        });
        return { status: 'GAVE_UP' };
      }
    }
    throw error;
  }
}

/** The webhook is gone: the task becomes FAILED (its schedule pauses), as a post's would. */
async function failTask(taskId: string, reason: string): Promise<never> {
  const marked = await markTaskFailed({ taskId, reason });
  if (marked?.alert) await alertFailure(taskId, reason);
  throw ApplicationFailure.nonRetryable(`delete failed: ${reason}`, 'DeliveryFailed');
}
