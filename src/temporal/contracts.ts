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

/**
 * Search attributes (Keyword) that every sendWebhook execution carries, scheduled or manual
 * (SPEC §15): the Temporal Web UI lists a task's runs with `TaskId = "<id>"` or
 * `TaskName = "<name>"`. Ids and names only: nothing secret goes into Temporal's visibility store.
 */
export const TASK_ID_SEARCH_ATTRIBUTE = 'TaskId';
export const TASK_NAME_SEARCH_ATTRIBUTE = 'TaskName';

export function scheduleIdForTask(taskId: string): string {
  return `${SCHEDULE_ID_PREFIX}${taskId}`;
}

/** WEBHOOK_TIMEOUT_MS's upper bound, and the time an attempt has for its log writes beyond it. */
export const MAX_WEBHOOK_TIMEOUT_MS = 120_000;
export const ATTEMPT_LOGGING_MARGIN_MS = 10_000;

/** Retry settings from the worker's config, read once per workflow through a local activity. */
export interface DeliveryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** The activity's start-to-close timeout: the HTTP timeout plus time for the log writes. */
  activityTimeoutMs: number;
  /**
   * DELIVERY_FIRST_ATTEMPT=local: the first attempt runs as a local activity inside the workflow
   * task (a delivery that succeeds at once costs Temporal one workflow task instead of two and an
   * activity task); the attempts after a failure are a regular activity under the retry policy.
   * Absent or false: every attempt is a regular activity.
   */
  firstAttemptLocal?: boolean;
}

/**
 * What the workflow's first local activity answers (`startDelivery`, and `getDeliveryPolicy` in
 * histories from before it had its own name): the policy and, when the policy makes the first
 * attempt local, that attempt's outcome. No `firstAttempt` with `firstAttemptLocal`: a history from
 * before the two were one call, whose workflow then makes the local attempt as a call of its own.
 */
export interface DeliveryStart extends DeliveryPolicy {
  firstAttempt?: DeliverWebhookResult;
}

/** Details of a retryable failure of the webhook (DiscordUnavailable). */
export interface DeliveryFailureDetails {
  /**
   * How long the retry policy is to wait before the next attempt: Discord's retry_after for a
   * 429, else the backoff. Carried as a detail because a failure's nextRetryDelay does not reach
   * the workflow; the workflow needs it when it schedules the next attempt itself.
   */
  retryDelayMs?: number;
}

/** The activity that writes an attempt's row which the database could not take at the time. */
export type RecordAttemptInput = PendingAttemptRow;

export interface DeliverWebhookInput {
  taskId: string;
  /** When the schedule meant this run to happen; null for a manual trigger. ISO 8601. */
  scheduledTime: string | null;
  /** maxRetry + 1: the activity needs it to know whether a failure is the last one. */
  maxAttempts: number;
  /**
   * Attempts already made by earlier invocations of the activity in this run (the workflow calls
   * it again after our own outage interrupted it): attempt numbers continue from here. 0 or absent
   * on the first invocation.
   */
  attemptOffset?: number;
  /**
   * Of the attempts made before this invocation, how many counted against maxRetry (429s, waits
   * for Discord's buckets and Discord-wide outages do not). Absent: every attempt counted (the
   * workflows of before SPEC §13).
   */
  failuresCounted?: number;
  /** Since when this run has been rate-limited without a delivery (ISO 8601), for the deadline. */
  rateLimitedSince?: string;
  /**
   * The run waited out an outage (Discord's or ours) before this invocation: before posting, the
   * missed-run rules (superseded, stale) apply again, as they do before a first attempt.
   */
  recheckMissedRun?: boolean;
}

/** Why a run ended without posting and without counting as a failure. */
export type SkipReason =
  /** A later run of the task had already come due (missed runs: only the latest is delivered). */
  | 'SUPERSEDED'
  /** Later than SCHEDULE_CATCHUP_WINDOW after our outage: not posted stale, a row says why. */
  | 'STALE'
  /** A scheduled run of a task that is no longer ACTIVE (started before the pause, or buffered). */
  | 'NOT_ACTIVE'
  /** A scheduled run beyond maxRuns (Temporal was a run ahead of the task's count): not posted. */
  | 'RUNS_USED_UP';

/**
 * What a delivered run leaves to be done with Discord messages (SPEC §13): the message a
 * `replace` task's run replaced, deleted at once, and the `deleteAfter` of the message it posted.
 * The workflow starts a `deleteMessage` workflow for each.
 */
export interface MessageFollowUp {
  /** The message this run posted or edited. */
  messageId: string;
  /** `replace`: the previous run's message, to delete now. */
  replacedMessageId?: string;
  /** `deleteAfter`: when to delete `messageId` (posted + deleteAfter), ISO 8601. */
  deleteAt?: string;
}

export type DeliverWebhookResult = (
  | {
      status: 'SUCCESS';
      messageId: string | null;
      httpStatus: number;
      followUp?: MessageFollowUp;
      /** The task had a failure alert and this is its first success since: alert "recovered". */
      recovered?: boolean;
    }
  /** An earlier try of this run delivered (its completion was lost): its deletes are still due. */
  | { status: 'ALREADY_DELIVERED'; followUp?: MessageFollowUp }
  | { status: 'TASK_DELETED' }
  | { status: 'SKIPPED'; reason: SkipReason }
) & {
  /**
   * This scheduled run is the task's last (its @at, the last of maxRuns, or none left before
   * endAt): once it ends, the workflow marks the task COMPLETED (SPEC §14).
   */
  lastRun?: boolean;
};

/**
 * An attempt's task_logs row as the activity meant to write it, carried in Temporal (failure
 * details) when the database could not take it, so that the workflow records it once the
 * database is back. The message is already redacted: no token ever enters Temporal history.
 */
export interface PendingAttemptRow {
  taskId: string;
  workflowId: string;
  runId: string;
  attempt: number;
  status: 'SUCCESS' | 'FAILED' | 'RETRYING';
  httpStatus: number | null;
  message: string;
  durationMs: number;
  /** ISO 8601. */
  executionTime: string;
  scheduledTime: string | null;
  createdAt: string;
  /** A SUCCESS's Discord message: becomes the task's lastMessageId with the row. */
  messageId?: string | null;
  /** A SUCCESS's replaced message (`replace`), kept with the row (see MessageFollowUp). */
  replacedMessageId?: string | null;
}

/** Details of an InfrastructureUnavailable failure, and of the waits of DeliveryWaitType. */
export interface InfrastructureFailureDetails {
  /** Attempts that reached Discord in this run so far (the offset to go on from). */
  attemptsMade: number;
  /**
   * Of those, how many counted against maxRetry. Absent (histories of before SPEC §13): as many as
   * were made.
   */
  failuresCounted?: number;
  /** The row of an attempt that reached Discord but could not be logged. */
  pendingRow?: PendingAttemptRow;
  /** With a pendingRow of a retryable failure: when to try again (429's retry_after), in ms. */
  retryDelayMs?: number;
  /** With a pendingRow of a SUCCESS: the deletes it leaves to do. */
  followUp?: MessageFollowUp;
}

/** The schedule note of a task with no run ahead (its @at ran, maxRuns used up, endAt passed). */
export const COMPLETED_NOTE = 'completed: no run ahead';

/** After a task's last scheduled run: COMPLETED if it still has no run ahead (SPEC §14). */
export interface CompleteTaskInput {
  taskId: string;
}

export interface MarkTaskFailedInput {
  taskId: string;
  reason: string;
}

/** What marking a task FAILED found: whether it just became FAILED, and so is to be alerted. */
export interface MarkTaskFailedResult {
  alert: boolean;
}

/** Workflow type that posts one failure or recovery alert (SPEC §14). */
export const SEND_ALERT_WORKFLOW = 'sendAlert';

/** Ids, a reason already redacted and a time: the alert's URL and the task's name stay in PostgreSQL. */
export interface SendAlertInput {
  taskId: string;
  kind: 'failed' | 'recovered';
  /** Why it failed (the last attempt's message). */
  reason?: string;
  /** The execution that failed or recovered, linked in the alert. */
  workflowId: string;
  runId: string;
  /** ISO 8601. */
  at: string;
}

export type SendAlertResult = {
  status: 'SENT' | 'NO_ALERT_WEBHOOK' | 'TASK_DELETED' | 'REJECTED' | 'GAVE_UP';
};

/** One alert per task, kind and execution: a re-run of the same step does not alert twice. */
export function alertWorkflowId(
  taskId: string,
  kind: SendAlertInput['kind'],
  runId: string,
): string {
  return `${SCHEDULE_ID_PREFIX}${taskId}-alert-${kind}-${runId}`;
}

/** ApplicationFailure types thrown by the delivery activity: the webhook's own failures. */
export const DeliveryErrorType = {
  /** 400/401/403/404/413, a redirect, an invalid rendered payload or URL: never retried. */
  REJECTED: 'DiscordRejected',
  /**
   * Before SPEC §13, a 429 retried by the activity's retry policy; now a DeliveryWaitType. Kept
   * so that histories which recorded it still replay.
   */
  RATE_LIMITED: 'DiscordRateLimited',
  /** 5xx, timeout, connection error of this webhook while Discord answers: retried with backoff. */
  UNAVAILABLE: 'DiscordUnavailable',
} as const;

/**
 * Discord's limits and outages (SPEC §13): thrown non-retryable so that the workflow, not the
 * activity's retry policy, waits them out with a durable timer; they never use up maxRetry.
 * Details: InfrastructureFailureDetails (retryDelayMs is the wait).
 */
export const DeliveryWaitType = {
  /** Discord answered 429: sent again after its retry_after. The attempt has its row. */
  RATE_LIMITED: 'DiscordRateLimited',
  /** Nothing was sent: the webhook's bucket (or the deployment's invalid-request budget) is empty. */
  PACED: 'DiscordPaced',
  /** Discord as a whole failed (every webhook, its API, or our network to it). */
  DISCORD_DOWN: 'DiscordDown',
} as const;

/**
 * Failures that are ours, not Discord's (SPEC §6 "our outages"): thrown non-retryable so that the
 * workflow, not the activity's retry policy, waits them out; they never use up maxRetry.
 */
export const OutageErrorType = {
  /** The database (or another dependency of ours) could not be reached; details: InfrastructureFailureDetails. */
  INFRASTRUCTURE: 'InfrastructureUnavailable',
} as const;

export const NON_RETRYABLE_DELIVERY_ERRORS: string[] = [
  DeliveryErrorType.REJECTED,
  ...Object.values(DeliveryWaitType),
  OutageErrorType.INFRASTRUCTURE,
];

/** The workflow's patch that introduced SPEC §13's waits and the `startDelivery` local activity. */
export const DISCORD_AWARE_PATCH = 'discord-aware-delivery';

/** Workflow type that deletes one Discord message a task posted (SPEC §13). */
export const DELETE_MESSAGE_WORKFLOW = 'deleteMessage';

/** Started by a run (as a child that outlives it): ids and a delay only, never the URL. */
export interface DeleteMessageInput {
  taskId: string;
  messageId: string;
  reason: 'replace' | 'deleteAfter';
  /** How long to wait (a durable timer) before deleting; 0 for a replaced message. */
  delayMs: number;
}

export interface DeleteDiscordMessageInput {
  taskId: string;
  messageId: string;
  /** Why it is deleted, for the log line and a failure's row. */
  reason: 'replace' | 'deleteAfter';
}

export type DeleteDiscordMessageResult =
  /** Deleted now, or it was already gone (deleted by hand, or by an earlier try). */
  | { status: 'DELETED' | 'ALREADY_GONE' }
  /** The task was deleted: its webhook URL is gone with it, so the message stays. */
  | { status: 'TASK_DELETED' };

/**
 * One delete per task, message and reason: a second start of the same delete is refused by
 * Temporal, while a `replace` of a message whose `deleteAfter` timer is still running deletes it
 * now (the timer's delete then finds it gone).
 */
export function deleteMessageWorkflowId(
  taskId: string,
  messageId: string,
  reason: DeleteMessageInput['reason'],
): string {
  return `${SCHEDULE_ID_PREFIX}${taskId}-delete-${messageId}-${reason === 'replace' ? 'replaced' : 'after'}`;
}
