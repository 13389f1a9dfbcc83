import {
  ActivityFailure,
  ApplicationFailure,
  log,
  ParentClosePolicy,
  proxyActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  alertWorkflowId,
  ATTEMPT_LOGGING_MARGIN_MS,
  DeliveryErrorType,
  MAX_WEBHOOK_TIMEOUT_MS,
  NON_RETRYABLE_DELIVERY_ERRORS,
  type SendAlertInput,
  type SendAlertResult,
} from '../src/temporal/contracts';
import { untilAnswered } from './outage';

// The alert webhook's own 5xx and timeouts are retried a few times; Discord's waits and our
// outages are waited out below.
const { deliverAlert } = proxyActivities<Activities>({
  startToCloseTimeout: MAX_WEBHOOK_TIMEOUT_MS + ATTEMPT_LOGGING_MARGIN_MS,
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_DELIVERY_ERRORS,
  },
});

/**
 * Posts one failure or recovery alert (SPEC §14), durably: Discord's limits and outages and ours
 * are waited out on timers, as deliveries wait them out. A workflow of its own, started as a child
 * that outlives the run (ParentClosePolicy ABANDON), so an alert webhook that is down never
 * delays or fails the task's own deliveries. An alert is never a row of the task's logs.
 */
export async function sendAlert(input: SendAlertInput): Promise<SendAlertResult> {
  try {
    const answer = await untilAnswered(() => deliverAlert(input), {
      taskId: input.taskId,
      doing: 'sending an alert',
    });
    return answer === 'GAVE_UP' ? { status: 'GAVE_UP' } : answer;
  } catch (error) {
    const cause = error instanceof ActivityFailure ? error.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === DeliveryErrorType.UNAVAILABLE) {
      log.warn('gave up an alert: its webhook kept failing', {
        taskId: input.taskId,
        kind: input.kind,
        message: cause.message,
      });
      return { status: 'GAVE_UP' };
    }
    throw error;
  }
}

/** Starts the alert of this run (one per task, kind and run: a re-run does not alert twice). */
async function startAlert(
  input: Omit<SendAlertInput, 'workflowId' | 'runId' | 'at'>,
): Promise<void> {
  const { workflowId, runId } = workflowInfo();
  try {
    await startChild(sendAlert, {
      workflowId: alertWorkflowId(input.taskId, input.kind, runId),
      args: [{ ...input, workflowId, runId, at: new Date().toISOString() }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (error) {
    // Already started by an earlier try of this step.
    if (!(error instanceof Error && error.name === 'WorkflowExecutionAlreadyStartedError'))
      throw error;
  }
}

/** The task just became FAILED: one alert naming why. */
export function alertFailure(taskId: string, reason: string): Promise<void> {
  return startAlert({ taskId, kind: 'failed', reason });
}

/** The task delivered for the first time since its failure alert: one "recovered". */
export function alertRecovery(taskId: string): Promise<void> {
  return startAlert({ taskId, kind: 'recovered' });
}
