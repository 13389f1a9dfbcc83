/**
 * The one place where the API, the worker and workflows/ agree on names and shapes. This file is
 * bundled into the workflow sandbox (workflows/ imports its constants), so it imports nothing and
 * holds only plain data and types; ESLint enforces both sides.
 */

/** Workflow type started by every task's schedule. */
export const SEND_WEBHOOK_WORKFLOW = 'sendWebhook';

/** The schedule's workflow argument: ids and numbers only, never the webhook URL or payload. */
export interface SendWebhookInput {
  taskId: string;
  maxRetry: number;
}

export interface SendWebhookResult {
  status: 'SUCCESS' | 'SKIPPED';
  attempts?: number;
  messageId?: string;
}

/** Memo on schedules and their workflows, searchable in the Temporal Web UI. */
export interface TaskMemo {
  taskName: string;
}

export const SCHEDULE_ID_PREFIX = 'task-';

export function scheduleIdForTask(taskId: string): string {
  return `${SCHEDULE_ID_PREFIX}${taskId}`;
}

/** Retry settings from the worker's config, read once per workflow through a local activity. */
export interface DeliveryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** The activity's start-to-close timeout: the HTTP timeout plus time for the log writes. */
  activityTimeoutMs: number;
}

export interface DeliverWebhookInput {
  taskId: string;
  /** When the schedule meant this run to happen; null for a manual trigger. ISO 8601. */
  scheduledTime: string | null;
  /** maxRetry + 1: the activity needs it to know whether a failure is the last one. */
  maxAttempts: number;
}

export type DeliverWebhookResult =
  | { status: 'SUCCESS'; messageId: string | null; httpStatus: number }
  | { status: 'ALREADY_DELIVERED' }
  | { status: 'TASK_DELETED' };

export interface MarkTaskFailedInput {
  taskId: string;
  reason: string;
}

/** ApplicationFailure types thrown by the delivery activity. */
export const DeliveryErrorType = {
  /** 400/401/403/404/413, a redirect, an invalid rendered payload or URL: never retried. */
  REJECTED: 'DiscordRejected',
  /** 429: retried after Discord's retry_after (nextRetryDelay). */
  RATE_LIMITED: 'DiscordRateLimited',
  /** 5xx, timeout, connection error: retried with backoff. */
  UNAVAILABLE: 'DiscordUnavailable',
} as const;

export const NON_RETRYABLE_DELIVERY_ERRORS: string[] = [DeliveryErrorType.REJECTED];
