import { Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import axios, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import type { Config } from '../src/config';
import { type ExecutionStatus, type ITask, Task, TaskLog } from '../src/db/entities';
import type { Orm } from '../src/db/orm';
import type { AttemptOutcome, DeliveryMetrics } from '../src/metrics';
import { validatePayload } from '../src/discord/payload-schema';
import { renderPayload } from '../src/discord/template';
import { redactWebhookTokens, toDeliveryUrl, validateWebhookUrl } from '../src/discord/webhook-url';
import {
  type DeliverWebhookInput,
  type DeliverWebhookResult,
  DeliveryErrorType,
  type DeliveryPolicy,
  type MarkTaskFailedInput,
  scheduleIdForTask,
} from '../src/temporal/contracts';
import { version } from '../package.json';

export const USER_AGENT = `DiscordBot (https://github.com/discord-task-scheduler/discord-task-scheduler, ${version})`;

export interface DiscordActivityDeps {
  orm: Orm;
  config: Pick<Config, 'webhookTimeoutMs' | 'webhookAllowedOrigins' | 'retry'>;
  /** Pauses a task's schedule when its delivery fails for good (also for manual triggers). */
  temporal?: Pick<Client, 'schedule'>;
  http?: AxiosInstance;
  /** Jitter added to Discord's retry_after so that retries don't collide; default 0-500 ms. */
  jitterMs?: () => number;
  /** Prometheus counters and histograms of deliveries (SPEC §8); none when omitted. */
  metrics?: DeliveryMetrics;
}

interface Attempt {
  task: ITask;
  workflowId: string;
  runId: string;
  attempt: number;
  lastAttempt: boolean;
  scheduledTime: Date | null;
  startedAt: Date;
}

/**
 * The delivery activities (SPEC §6). Each call forks the EntityManager; outcomes become exactly
 * one task_logs row per attempt and, for failures, an ApplicationFailure whose type tells the
 * workflow's retry policy whether to try again.
 */
export function createDiscordActivities(deps: DiscordActivityDeps) {
  const { orm, config } = deps;
  const http =
    deps.http ??
    axios.create({
      timeout: config.webhookTimeoutMs,
      maxRedirects: 0,
      validateStatus: () => true,
      // Discord answers JSON; anything else is kept as text for the log message.
      transitional: { silentJSONParsing: true, forcedJSONParsing: true, clarifyTimeoutError: true },
    });
  const jitter = deps.jitterMs ?? (() => Math.floor(Math.random() * 500));
  const metrics = deps.metrics;

  /** Counts an attempt; when it ends the delivery, also the delivery and its latency. */
  function recordOutcome(attempt: Attempt, outcome: AttemptOutcome, final: boolean): void {
    if (!metrics) return;
    metrics.attempts.inc({ outcome });
    if (!final) {
      metrics.retries.inc({ reason: outcome });
      return;
    }
    const result = outcome === 'success' ? 'success' : 'failed';
    metrics.deliveries.inc({ outcome: result });
    if (attempt.scheduledTime) {
      const seconds = (Date.now() - attempt.scheduledTime.getTime()) / 1000;
      metrics.latency.observe({ outcome: result }, Math.max(0, seconds));
    }
  }

  async function writeLog(
    attempt: Attempt,
    status: ExecutionStatus,
    outcome: { httpStatus?: number | null; message: string },
  ): Promise<void> {
    const em = orm.em.fork();
    const now = new Date();
    // (workflow_id, attempt) is unique: a re-run of an attempt that already wrote its row is a no-op.
    await em.getConnection().execute(
      `insert into task_logs (id, task_id, execution_time, status, retry_count, message, attempt,
         http_status, duration_ms, scheduled_time, workflow_id, run_id, created_at)
       values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (workflow_id, attempt) do nothing`,
      [
        attempt.task.id,
        attempt.startedAt,
        status,
        attempt.attempt - 1,
        redactWebhookTokens(outcome.message).slice(0, 2000),
        attempt.attempt,
        outcome.httpStatus ?? null,
        now.getTime() - attempt.startedAt.getTime(),
        attempt.scheduledTime,
        attempt.workflowId,
        attempt.runId,
        now,
      ],
    );
    if (status === 'SUCCESS') {
      await em.nativeUpdate(
        Task,
        { id: attempt.task.id },
        { lastExecutionAt: attempt.startedAt, lastExecutionStatus: 'SUCCESS' },
      );
    }
  }

  /** Logs the failure (RETRYING, or FAILED when no attempt follows) and throws for Temporal. */
  async function fail(
    attempt: Attempt,
    kind: 'permanent' | 'transient' | 'rate-limited',
    message: string,
    httpStatus: number | null,
    nextRetryDelayMs?: number,
  ): Promise<never> {
    const final = kind === 'permanent' || attempt.lastAttempt;
    await writeLog(attempt, final ? 'FAILED' : 'RETRYING', { httpStatus, message });
    recordOutcome(
      attempt,
      kind === 'permanent'
        ? 'rejected'
        : kind === 'rate-limited'
          ? 'rate_limited'
          : httpStatus === null
            ? 'network_error'
            : 'server_error',
      final,
    );
    const safe = redactWebhookTokens(message);
    log.warn('delivery attempt failed', { taskId: attempt.task.id, attempt: attempt.attempt, httpStatus, message: safe });
    if (kind === 'permanent') throw ApplicationFailure.nonRetryable(safe, DeliveryErrorType.REJECTED);
    throw ApplicationFailure.create({
      message: safe,
      type: kind === 'rate-limited' ? DeliveryErrorType.RATE_LIMITED : DeliveryErrorType.UNAVAILABLE,
      nextRetryDelay: nextRetryDelayMs,
    });
  }

  return {
    /** Local activity: the retry policy comes from the worker's configuration. */
    async getDeliveryPolicy(): Promise<DeliveryPolicy> {
      return {
        initialIntervalMs: config.retry.initialIntervalMs,
        backoffCoefficient: config.retry.backoffCoefficient,
        maximumIntervalMs: config.retry.maximumIntervalMs,
        activityTimeoutMs: config.webhookTimeoutMs + 10_000,
      };
    },

    async deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
      const info = Context.current().info;
      const execution = info.workflowExecution;
      if (!execution) throw ApplicationFailure.nonRetryable('deliverWebhook runs inside a workflow only', 'Misuse');
      const em = orm.em.fork();
      const task = await em.findOne(Task, { id: input.taskId });
      if (!task) return { status: 'TASK_DELETED' };

      const workflowId = execution.workflowId;
      const attempt: Attempt = {
        task,
        workflowId,
        runId: execution.runId,
        attempt: info.attempt,
        lastAttempt: info.attempt >= input.maxAttempts,
        scheduledTime: input.scheduledTime ? new Date(input.scheduledTime) : null,
        startedAt: new Date(),
      };

      // An earlier attempt of this execution may have posted and logged, then lost its completion.
      const delivered = await em.count(TaskLog, { workflowId, status: 'SUCCESS' });
      if (delivered > 0) return { status: 'ALREADY_DELIVERED' };

      const url = validateWebhookUrl(task.webhookUrl, config.webhookAllowedOrigins);
      if (!url.ok) return fail(attempt, 'permanent', `webhook URL refused: ${url.reason}`, null);
      const body = renderPayload(task.payload, {
        task: { id: task.id, name: task.name },
        execution: { scheduledTime: attempt.scheduledTime, time: attempt.startedAt, attempt: attempt.attempt },
      });
      const invalid = validatePayload(body);
      if (invalid.length > 0) {
        const detail = invalid.map((e) => `${e.path} ${e.message}`).join('; ');
        return fail(attempt, 'permanent', `rendered payload is invalid: ${detail}`, null);
      }

      let response: AxiosResponse;
      const requestTimer = metrics?.requestDuration.startTimer();
      try {
        response = await http.post(toDeliveryUrl(task.webhookUrl), body, {
          headers: { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT },
        });
      } catch (error) {
        requestTimer?.({ outcome: 'network_error' });
        return fail(attempt, 'transient', networkErrorMessage(error, config.webhookTimeoutMs), null);
      }

      const status = response.status;
      requestTimer?.({ outcome: httpOutcome(status) });
      if (status >= 200 && status < 300) {
        const messageId = typeof response.data?.id === 'string' ? (response.data.id as string) : null;
        await writeLog(attempt, 'SUCCESS', {
          httpStatus: status,
          message: messageId ? `delivered: Discord message ${messageId}` : `delivered (HTTP ${status})`,
        });
        recordOutcome(attempt, 'success', true);
        return { status: 'SUCCESS', messageId, httpStatus: status };
      }
      const discordText = describeDiscordError(response);
      if (status === 429) {
        const delayMs = retryAfterMs(response);
        const wait = delayMs === null ? '' : `; retrying after ${(delayMs / 1000).toFixed(2)} s`;
        return fail(
          attempt,
          'rate-limited',
          `HTTP 429 rate limited: ${discordText}${wait}`,
          status,
          delayMs === null ? undefined : delayMs + jitter(),
        );
      }
      if (status >= 500) return fail(attempt, 'transient', `HTTP ${status}: ${discordText}`, status);
      if (status >= 300 && status < 400) {
        return fail(attempt, 'permanent', `HTTP ${status}: redirects are not followed`, status);
      }
      // 400, 401, 403, 404 (webhook deleted or token invalid), 413 and any other 4xx: retrying
      // the same request cannot succeed.
      const hint = status === 404 ? ' (the webhook was deleted or its token is wrong)' : '';
      return fail(attempt, 'permanent', `HTTP ${status}${hint}: ${discordText}`, status);
    },

    /** After the last failed attempt: the task becomes FAILED and its schedule is paused. */
    async markTaskFailed(input: MarkTaskFailedInput): Promise<void> {
      const em = orm.em.fork();
      const updated = await em.nativeUpdate(
        Task,
        { id: input.taskId },
        { status: 'FAILED', lastExecutionAt: new Date(), lastExecutionStatus: 'FAILED' },
      );
      if (updated === 0 || !deps.temporal) return;
      // A schedule-started run pauses its schedule itself (pauseOnFailure); a manual trigger does not.
      await deps.temporal.schedule
        .getHandle(scheduleIdForTask(input.taskId))
        .pause(`paused: delivery failed permanently: ${redactWebhookTokens(input.reason)}`.slice(0, 500))
        .catch((error: unknown) => {
          log.warn('could not pause the schedule of a failed task', { taskId: input.taskId, error: String(error) });
        });
    },
  };
}

function httpOutcome(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) return 'success';
  if (status === 429) return 'rate_limited';
  return status >= 500 ? 'server_error' : 'rejected';
}

/** Discord's `retry_after` (float seconds, body) or `Retry-After` (seconds, header), in ms. */
export function retryAfterMs(response: Pick<AxiosResponse, 'data' | 'headers'>): number | null {
  const fromBody = Number((response.data as { retry_after?: unknown } | undefined)?.retry_after);
  if (Number.isFinite(fromBody) && fromBody >= 0) return Math.ceil(fromBody * 1000);
  const header = response.headers?.['retry-after'];
  const fromHeader = Number(Array.isArray(header) ? header[0] : header);
  if (Number.isFinite(fromHeader) && fromHeader >= 0) return Math.ceil(fromHeader * 1000);
  return null;
}

function describeDiscordError(response: AxiosResponse): string {
  const data = response.data as unknown;
  if (data && typeof data === 'object') {
    const { message, code } = data as { message?: unknown; code?: unknown };
    if (typeof message === 'string') return code === undefined ? message : `${message} (code ${String(code)})`;
    return JSON.stringify(data).slice(0, 300);
  }
  if (typeof data === 'string' && data.trim()) return data.trim().slice(0, 300);
  return response.statusText || 'no body';
}

function networkErrorMessage(error: unknown, timeoutMs: number): string {
  if (isAxiosError(error)) {
    if (error.code === 'ETIMEDOUT' || error.code === 'ECONNABORTED') {
      return `timed out after ${timeoutMs} ms waiting for Discord`;
    }
    return `network error: ${error.code ?? ''} ${error.message}`.trim();
  }
  return `network error: ${error instanceof Error ? error.message : String(error)}`;
}
