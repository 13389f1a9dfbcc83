import {
  ActivityFailure,
  ApplicationFailure,
  log,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  NON_RETRYABLE_DELIVERY_ERRORS,
  type SendWebhookInput,
  type SendWebhookResult,
} from '../src/temporal/contracts';

const { getDeliveryPolicy } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10s' });
// Recording the failure must not give up while the database is briefly away.
const { markTaskFailed } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

/**
 * Started by a task's Temporal Schedule (or a manual trigger): delivers the task's message once,
 * under a retry policy of maxRetry + 1 attempts with exponential backoff. A permanent failure, or
 * the last failed attempt, marks the task FAILED and fails this workflow, so that the schedule
 * (pauseOnFailure) pauses itself. The input holds ids only: URL and payload stay in PostgreSQL.
 */
export async function sendWebhook(input: SendWebhookInput): Promise<SendWebhookResult> {
  const policy = await getDeliveryPolicy();
  const maxAttempts = input.maxRetry + 1;
  const { deliverWebhook } = proxyActivities<Activities>({
    startToCloseTimeout: policy.activityTimeoutMs,
    retry: {
      maximumAttempts: maxAttempts,
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient: policy.backoffCoefficient,
      maximumInterval: policy.maximumIntervalMs,
      nonRetryableErrorTypes: NON_RETRYABLE_DELIVERY_ERRORS,
    },
  });

  const scheduled = workflowInfo().searchAttributes['TemporalScheduledStartTime']?.[0];
  const scheduledTime = scheduled instanceof Date ? scheduled.toISOString() : typeof scheduled === 'string' ? scheduled : null;

  try {
    const result = await deliverWebhook({ taskId: input.taskId, scheduledTime, maxAttempts });
    if (result.status === 'TASK_DELETED') {
      log.info('task was deleted; nothing delivered', { taskId: input.taskId });
      return { status: 'SKIPPED' };
    }
    return {
      status: 'SUCCESS',
      messageId: result.status === 'SUCCESS' ? (result.messageId ?? undefined) : undefined,
    };
  } catch (error) {
    const reason = failureReason(error);
    await markTaskFailed({ taskId: input.taskId, reason });
    throw ApplicationFailure.nonRetryable(`delivery failed: ${reason}`, 'DeliveryFailed');
  }
}

function failureReason(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) {
    return error.cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}
