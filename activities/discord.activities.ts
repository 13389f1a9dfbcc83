import { Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import axios, { type AxiosInstance } from 'axios';
import type { Config } from '../src/config';
import type { ExecutionStatus, ITask } from '../src/db/entities';
import type { Orm } from '../src/db/orm';
import type { AttemptOutcome, DeliveryMetrics } from '../src/metrics';
import {
  classifyAnswer,
  classifyWait,
  type DeliveryOutcome,
  type DiscordAnswer,
  isInvalidRequest,
  retryAfterMsOf,
} from '../src/discord/classify';
import { createDiscordHealthProbe, type DiscordHealthProbe } from '../src/discord/discord-health';
import { createDiscordPacer, type DiscordPacer } from '../src/discord/pacer';
import { createMemoryRateLimitStore, readBucketHeaders } from '../src/discord/rate-limit';
import type { SecretBox } from '../src/crypto/secrets';
import { parseDeleteAfter, toEditBody } from '../src/discord/messages';
import { validatePayload } from '../src/discord/payload-schema';
import { renderPayload } from '../src/discord/template';
import {
  axiosWebhookHttp,
  createWebhookHttp,
  egressProxyConfigured,
  type WebhookHttp,
  WebhookNetworkError,
} from '../src/discord/webhook-http';
import {
  redactWebhookTokens,
  toDeliveryUrl,
  toMessageUrl,
  validateWebhookUrl,
  webhookIdentity,
} from '../src/discord/webhook-url';
import { isLastRun, nextScheduledRun } from '../src/schedule/runs-ahead';
import {
  type CompleteTaskInput,
  COMPLETED_NOTE,
  type DeliverWebhookInput,
  type DeliverWebhookResult,
  DeliveryErrorType,
  type DeliveryFailureDetails,
  DeliveryWaitType,
  type DeliveryPolicy,
  type DeliveryStart,
  ATTEMPT_LOGGING_MARGIN_MS,
  type InfrastructureFailureDetails,
  type MarkTaskFailedInput,
  type MarkTaskFailedResult,
  type SendAlertInput,
  type SendAlertResult,
  type MessageFollowUp,
  type DeleteDiscordMessageInput,
  type DeleteDiscordMessageResult,
  OutageErrorType,
  type PendingAttemptRow,
  type RecordAttemptInput,
  scheduleIdForTask,
} from '../src/temporal/contracts';
import { version } from '../package.json';

export const USER_AGENT = `DiscordBot (https://github.com/discord-task-scheduler/discord-task-scheduler, ${version})`;
/** The headers of a request to Discord without a body, and with a JSON one. */
const BARE_HEADERS = Object.freeze({ 'User-Agent': USER_AGENT });
const JSON_HEADERS = Object.freeze({
  'Content-Type': 'application/json',
  'User-Agent': USER_AGENT,
});

export interface DiscordActivityDeps {
  orm: Orm;
  config: Pick<Config, 'webhookTimeoutMs' | 'webhookAllowedOrigins' | 'retry'> &
    Partial<
      Pick<
        Config,
        | 'scheduleCatchupWindowMs'
        | 'deliveryFirstAttempt'
        | 'deliveryRateLimitDeadlineMs'
        | 'discordInvalidRequestBudget'
        | 'alertWebhookUrl'
      >
    >;
  /**
   * Where alerts link to (SPEC §14): the console's public address (PUBLIC_URL) and the Temporal Web
   * UI's; a link is left out when its address is unknown.
   */
  links?: { publicUrl?: string; temporalUiUrl?: string; namespace?: string };
  /** Pauses a task's schedule when its delivery fails for good (also for manual triggers). */
  temporal?: Pick<Client, 'schedule'>;
  /** Opens the webhook URLs sealed at rest (SPEC §15). */
  secrets: SecretBox;
  /** Each database call of a delivery gives up after this long and counts as our outage; default 5 s. */
  databaseTimeoutMs?: number;
  /** Discord's API for the health probe (and the deliveries behind an egress proxy). */
  http?: AxiosInstance;
  /**
   * The deliveries' HTTP client; default: node's http and https (src/discord/webhook-http.ts), or
   * axios when HTTP(S)_PROXY routes outbound HTTP.
   */
  webhookHttp?: WebhookHttp;
  /** Jitter added to Discord's retry_after so that retries don't collide; default 0-500 ms. */
  jitterMs?: () => number;
  /** Prometheus counters and histograms of deliveries (SPEC §8); none when omitted. */
  metrics?: DeliveryMetrics;
  /**
   * Discord's buckets (SPEC §13): shared by every activity of the worker, and through Redis by
   * every worker when REDIS_URL is set. Default: in this process.
   */
  pacer?: DiscordPacer;
  /** Tells Discord's outage from one webhook's failure; default: probes with `http`. */
  probe?: DiscordHealthProbe;
}

/** A database call that failed or timed out: our outage, not Discord's failure (SPEC §6). */
class DatabaseUnavailable extends Error {
  constructor(cause: unknown) {
    super(`database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'DatabaseUnavailable';
  }
}

/** What a delivery reads of its task. */
type DeliveryTask = Pick<
  ITask,
  | 'id'
  | 'name'
  | 'schedule'
  | 'timezone'
  | 'webhookUrl'
  | 'payload'
  | 'status'
  | 'messageMode'
  | 'deleteAfter'
  | 'lastMessageId'
  | 'startAt'
  | 'endAt'
  | 'maxRuns'
  | 'runsLeft'
  | 'runsCountedThrough'
>;

interface TaskRow {
  id: string;
  name: string;
  schedule: string;
  timezone: string;
  webhook_url: string;
  payload: ITask['payload'];
  status: ITask['status'];
  message_mode: ITask['messageMode'];
  delete_after: string | null;
  last_message_id: string | null;
  start_at: Date | string | null;
  end_at: Date | string | null;
  max_runs: number | null;
  runs_left: number | null;
  runs_counted_through: Date | string | null;
}

/**
 * Counts a scheduled run against its task's maxRuns (see countOf), as the first part of the
 * statement that reads the task: parameters (scheduledTime, taskId, scheduledTime). A task without
 * maxRuns, or whose count already went through this run's time, is left as it is.
 */
const COUNT_RUN = `with counted as (update tasks
    set runs_left = runs_left - 1, runs_counted_through = ?
    where id = ? and max_runs is not null and runs_left > 0
      and (runs_counted_through is null or runs_counted_through < ?)
    returning runs_left)`;

/** How many next fire times a worker keeps (see nextRunAfter). */
const NEXT_RUNS_KEPT = 1_000;

const dateOrNull = (value: Date | string | null | undefined): Date | null =>
  value === null || value === undefined ? null : new Date(value);

/** A task row as a delivery reads it, its webhook URL opened (a SecretKeyError is our outage). */
function toDeliveryTask(row: TaskRow, secrets: SecretBox): DeliveryTask {
  return {
    id: row.id,
    name: row.name,
    schedule: row.schedule,
    timezone: row.timezone,
    webhookUrl: secrets.open(row.webhook_url, 'tasks.webhook_url'),
    payload: row.payload,
    status: row.status,
    messageMode: row.message_mode,
    deleteAfter: row.delete_after,
    lastMessageId: row.last_message_id,
    startAt: dateOrNull(row.start_at),
    endAt: dateOrNull(row.end_at),
    maxRuns: row.max_runs,
    runsLeft: row.runs_left,
    runsCountedThrough: dateOrNull(row.runs_counted_through),
  };
}

/** A row an earlier run of this attempt wrote (see deliverWebhook). */
interface EarlierAttempt {
  attempt: number;
  status: ExecutionStatus;
  http_status: number | null;
  message: string | null;
  message_id: string | null;
  replaced_message_id: string | null;
  execution_time: string;
}

interface Attempt {
  task: DeliveryTask;
  workflowId: string;
  runId: string;
  attempt: number;
  /** Attempts of this run that counted against maxRetry before this one. */
  countedBefore: number;
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
  // The proxy variables are the platform's, not our configuration: axios reads them by itself.
  const webhookHttp =
    deps.webhookHttp ??
    (egressProxyConfigured(process.env)
      ? axiosWebhookHttp(http)
      : createWebhookHttp({ timeoutMs: config.webhookTimeoutMs }));
  const jitter = deps.jitterMs ?? (() => Math.floor(Math.random() * 500));
  const metrics = deps.metrics;
  const rateLimitDeadlineMs = config.deliveryRateLimitDeadlineMs ?? 3_600_000;
  const pacer =
    deps.pacer ??
    createDiscordPacer({
      store: createMemoryRateLimitStore(),
      invalidBudget: config.discordInvalidRequestBudget ?? 5_000,
      leaseMs: config.webhookTimeoutMs + 1_000,
      metrics: metrics?.discord,
    });
  const probe =
    deps.probe ??
    createDiscordHealthProbe({
      http,
      timeoutMs: Math.min(5_000, config.webhookTimeoutMs),
      onChange: (origin, health) => {
        metrics?.discord?.unreachable.set({ origin }, health === 'down' ? 1 : 0);
        if (health === 'down')
          log.warn("Discord's API is not answering: deliveries wait", { origin });
        else log.info("Discord's API answers again", { origin });
      },
    });

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

  const databaseTimeoutMs = deps.databaseTimeoutMs ?? 5_000;
  const catchupWindowMs = config.scheduleCatchupWindowMs ?? 300_000;

  /** Runs a database call with a deadline; any failure becomes DatabaseUnavailable. */
  async function database<T>(fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${databaseTimeoutMs} ms`)),
        databaseTimeoutMs,
      );
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (error) {
      throw new DatabaseUnavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  function rowFor(
    attempt: Attempt,
    status: ExecutionStatus,
    outcome: {
      httpStatus?: number | null;
      message: string;
      messageId?: string | null;
      replacedMessageId?: string | null;
    },
  ): PendingAttemptRow {
    const now = new Date();
    return {
      taskId: attempt.task.id,
      workflowId: attempt.workflowId,
      runId: attempt.runId,
      attempt: attempt.attempt,
      status,
      httpStatus: outcome.httpStatus ?? null,
      message: redactWebhookTokens(outcome.message).slice(0, 2000),
      durationMs: now.getTime() - attempt.startedAt.getTime(),
      executionTime: attempt.startedAt.toISOString(),
      scheduledTime: attempt.scheduledTime?.toISOString() ?? null,
      createdAt: now.toISOString(),
      ...(outcome.messageId ? { messageId: outcome.messageId } : {}),
      ...(outcome.replacedMessageId ? { replacedMessageId: outcome.replacedMessageId } : {}),
    };
  }

  /** Writes an attempt's row (and, for a SUCCESS, the task's last execution); idempotent. */
  async function insertRow(row: PendingAttemptRow): Promise<{ recovered: boolean }> {
    // (workflow_id, attempt) is unique: a re-run of an attempt that already wrote its row is a
    // no-op; a task deleted meanwhile takes no row (rather than a foreign-key error). A SUCCESS
    // also sets the task's last execution, in the same statement (one round trip).
    const insert = `insert into task_logs (id, task_id, execution_time, status, retry_count,
         message, attempt, http_status, duration_ms, scheduled_time, workflow_id, run_id, created_at,
         message_id, replaced_message_id)
       select gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
       where exists (select 1 from tasks where id = ?)
       on conflict (workflow_id, attempt) do nothing`;
    const success = row.status === 'SUCCESS';
    // A SUCCESS also clears the failure alert's mark and says whether there was one: that task
    // has recovered (SPEC §14).
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<{ recovered?: boolean }[]>(
        success
          ? `with inserted as (${insert}),
             prev as (select failure_alerted from tasks where id = ?)
           update tasks set last_execution_at = ?, last_execution_status = 'SUCCESS',
             last_message_id = coalesce(?, last_message_id), failure_alerted = false
           where id = ? returning (select failure_alerted from prev) as recovered`
          : insert,
        [
          row.taskId,
          new Date(row.executionTime),
          row.status,
          row.attempt - 1,
          row.message,
          row.attempt,
          row.httpStatus,
          row.durationMs,
          row.scheduledTime ? new Date(row.scheduledTime) : null,
          row.workflowId,
          row.runId,
          new Date(row.createdAt),
          row.messageId ?? null,
          row.replacedMessageId ?? null,
          row.taskId,
          ...(success
            ? [row.taskId, new Date(row.executionTime), row.messageId ?? null, row.taskId]
            : []),
        ],
      );
    return { recovered: success && rows[0]?.recovered === true };
  }

  /**
   * Writes the attempt's row. When the database cannot take it, the attempt did reach Discord, so
   * the row travels in the failure to the workflow, which records it once the database is back.
   */
  async function writeLog(
    attempt: Attempt,
    status: ExecutionStatus,
    outcome: {
      httpStatus?: number | null;
      message: string;
      messageId?: string | null;
      replacedMessageId?: string | null;
    },
    retry?: { delayMs?: number; counted: boolean },
    followUp?: MessageFollowUp,
  ): Promise<{ recovered: boolean }> {
    const row = rowFor(attempt, status, outcome);
    try {
      return await database(() => insertRow(row));
    } catch (error) {
      throw outage(error, {
        attemptsMade: attempt.attempt,
        failuresCounted: attempt.countedBefore + (retry?.counted === false ? 0 : 1),
        pendingRow: row,
        retryDelayMs: retry?.delayMs,
        ...(hasDeletes(followUp) ? { followUp } : {}),
      });
    }
  }

  /** The failure that hands our outage to the workflow, which waits it out without using a retry. */
  function outage(error: unknown, details: InfrastructureFailureDetails): ApplicationFailure {
    const message = redactWebhookTokens(error instanceof Error ? error.message : String(error));
    log.warn('delivery interrupted by our own outage; the workflow will try again', {
      attemptsMade: details.attemptsMade,
      rowPending: details.pendingRow !== undefined,
      message,
    });
    return ApplicationFailure.create({
      message,
      type: OutageErrorType.INFRASTRUCTURE,
      nonRetryable: true,
      details: [details],
    });
  }

  /** The backoff Temporal's retry policy would wait after a failure of attempt `n`. */
  function backoffMs(n: number): number {
    const { initialIntervalMs, backoffCoefficient, maximumIntervalMs } = config.retry;
    return Math.min(
      maximumIntervalMs,
      initialIntervalMs * backoffCoefficient ** Math.max(0, n - 1),
    );
  }

  /**
   * For a late scheduled run: the time of a later run of the same schedule that is already due,
   * or null. From the fire-time calculator proven equal to Temporal's (src/schedule/next-fire.ts),
   * so no call to Temporal is needed; a schedule that cannot be computed counts as not superseded
   * (the run is delivered).
   */
  function laterRunDue(task: DeliveryTask, scheduledTime: Date, now: Date): Date | null {
    try {
      const next = nextRunAfter(task, scheduledTime);
      return next && next.getTime() <= now.getTime() ? next : null;
    } catch (error) {
      log.warn('could not compute the next run of a late run; delivering it', {
        taskId: task.id,
        error: String(error),
      });
      return null;
    }
  }

  /**
   * The next fire times laterRunDue has computed, by schedule, bounds and run: the runs of one
   * schedule that many tasks share (a 09:00 cron) fall due together and compile it once. Bounded:
   * cleared when full.
   */
  const nextRuns = new Map<string, Date | null>();

  /** The next fire time after a run, within the task's bounds (maxRuns is the run's own count). */
  function nextRunAfter(task: DeliveryTask, scheduledTime: Date): Date | null {
    const key = JSON.stringify([
      task.schedule,
      task.timezone,
      task.startAt?.getTime() ?? null,
      task.endAt?.getTime() ?? null,
      scheduledTime.getTime(),
    ]);
    const known = nextRuns.get(key);
    if (known !== undefined) return known;
    const next = nextScheduledRun({ ...task, runsLeft: null }, scheduledTime);
    if (nextRuns.size >= NEXT_RUNS_KEPT) nextRuns.clear();
    nextRuns.set(key, next);
    return next;
  }

  /**
   * The webhook's own failure (it counts against maxRetry): logged RETRYING, or FAILED when no
   * attempt follows, and thrown for the retry policy.
   */
  async function fail(
    attempt: Attempt,
    kind: 'permanent' | 'transient',
    message: string,
    httpStatus: number | null,
  ): Promise<never> {
    const final = kind === 'permanent' || attempt.lastAttempt;
    recordOutcome(
      attempt,
      kind === 'permanent' ? 'rejected' : httpStatus === null ? 'network_error' : 'server_error',
      final,
    );
    const retryDelayMs = backoffMs(attempt.countedBefore + 1);
    await writeLog(
      attempt,
      final ? 'FAILED' : 'RETRYING',
      { httpStatus, message },
      final ? undefined : { delayMs: retryDelayMs, counted: true },
    );
    const safe = redactWebhookTokens(message);
    log.warn('delivery attempt failed', {
      taskId: attempt.task.id,
      attempt: attempt.attempt,
      httpStatus,
      message: safe,
    });
    if (kind === 'permanent')
      throw ApplicationFailure.nonRetryable(safe, DeliveryErrorType.REJECTED);
    const details: DeliveryFailureDetails = { retryDelayMs };
    throw ApplicationFailure.create({
      message: safe,
      type: DeliveryErrorType.UNAVAILABLE,
      details: [details],
    });
  }

  /**
   * Discord's limit or outage, not the webhook's failure (SPEC §13): the attempt (when one was
   * made) is logged RETRYING, and the workflow waits `retryDelayMs` (or its outage backoff) with
   * a durable timer before it calls again; maxRetry is not used up.
   */
  async function waitOut(
    attempt: Attempt,
    type: (typeof DeliveryWaitType)[keyof typeof DeliveryWaitType],
    message: string,
    sent: { httpStatus: number | null } | null,
    retryDelayMs?: number,
  ): Promise<never> {
    const safe = redactWebhookTokens(message);
    if (sent) {
      recordOutcome(
        attempt,
        type === DeliveryWaitType.DISCORD_DOWN ? 'discord_down' : 'rate_limited',
        false,
      );
      await writeLog(
        attempt,
        'RETRYING',
        { httpStatus: sent.httpStatus, message: safe },
        { delayMs: retryDelayMs, counted: false },
      );
    }
    log.info('delivery waits for Discord', {
      taskId: attempt.task.id,
      attempt: sent ? attempt.attempt : undefined,
      reason: type,
      waitMs: retryDelayMs,
      message: safe,
    });
    const details: InfrastructureFailureDetails = {
      attemptsMade: sent ? attempt.attempt : attempt.attempt - 1,
      failuresCounted: attempt.countedBefore,
      retryDelayMs,
    };
    throw discordWait(type, safe, details);
  }

  /** Whether this run has stayed rate-limited past DELIVERY_RATE_LIMIT_DEADLINE. */
  function rateLimitedForMs(
    input: Pick<DeliverWebhookInput, 'rateLimitedSince'>,
    now: number,
  ): number {
    const since = input.rateLimitedSince ? Date.parse(input.rateLimitedSince) : NaN;
    return Number.isFinite(since) ? Math.max(0, now - since) : 0;
  }

  /** The delivery activity: one attempt (SPEC §6), logged as exactly one task_logs row. */
  /**
   * A scheduled run counted against its task's maxRuns, once (SPEC §14), by the statement that
   * reads the task (COUNT_RUN): 'counted' by it or by an earlier try of this run, or 'used-up' when
   * none was left (Temporal's limited actions may be a run ahead of the row, which is the
   * authority). Says the runs left after it, and whether this run is the latest counted (no later
   * run has taken a count since).
   */
  function countOf(
    row: Pick<TaskRow, 'runs_left' | 'runs_counted_through'> & { counted_left: number | null },
    scheduledTime: Date,
  ): { outcome: 'counted' | 'used-up'; runsLeft: number; latest: boolean } {
    if (row.counted_left !== null) {
      return { outcome: 'counted', runsLeft: row.counted_left, latest: true };
    }
    // The row as it was before the statement's own update, which did not count this run.
    const through = row.runs_counted_through
      ? new Date(row.runs_counted_through).getTime()
      : -Infinity;
    if (through >= scheduledTime.getTime()) {
      const latest = through === scheduledTime.getTime();
      return { outcome: 'counted', runsLeft: row.runs_left ?? 0, latest };
    }
    return { outcome: 'used-up', runsLeft: 0, latest: false };
  }

  /** A run, and whether it was its task's last scheduled one (see DeliverWebhookResult). */
  async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
    const run: { last?: boolean } = {};
    const result = await deliverRun(input, run);
    return run.last && result.status !== 'TASK_DELETED' ? { ...result, lastRun: true } : result;
  }

  async function deliverRun(
    input: DeliverWebhookInput,
    run: { last?: boolean },
  ): Promise<DeliverWebhookResult> {
    const info = Context.current().info;
    const execution = info.workflowExecution;
    if (!execution)
      throw ApplicationFailure.nonRetryable('deliverWebhook runs inside a workflow only', 'Misuse');
    const workflowId = execution.workflowId;
    // Attempt numbers continue across the workflow's re-invocations after our own outages.
    const number = (input.attemptOffset ?? 0) + info.attempt;
    // Every retry of this invocation followed a failure that counted: the others end it.
    const countedBefore = (input.failuresCounted ?? input.attemptOffset ?? 0) + info.attempt - 1;
    const scheduledTime = input.scheduledTime ? new Date(input.scheduledTime) : null;

    let loaded: (TaskRow & { earlier: EarlierAttempt[]; counted_left: number | null }) | undefined;
    let task: DeliveryTask | undefined;
    try {
      // One round trip: the task; from an earlier run of this attempt (posted and logged, then
      // its completion lost), a SUCCESS, which means nothing is posted again, or this attempt's
      // own row, which means it already ran; and for a scheduled run of a task with maxRuns, its
      // count (COUNT_RUN; the select sees the row as it was before that update).
      const rows = await database(() =>
        orm.em
          .fork()
          .getConnection()
          .execute<NonNullable<typeof loaded>[]>(
            `${scheduledTime ? COUNT_RUN : ''}
            select t.id, t.name, t.schedule, t.timezone, t.webhook_url, t.payload, t.status,
              t.message_mode, t.delete_after, t.last_message_id, t.start_at, t.end_at,
              t.max_runs, t.runs_left, t.runs_counted_through,
              ${scheduledTime ? '(select runs_left from counted)' : 'null'} as counted_left,
              coalesce((select json_agg(json_build_object('attempt', l.attempt,
                  'status', l.status, 'http_status', l.http_status, 'message', l.message,
                  'message_id', l.message_id, 'replaced_message_id', l.replaced_message_id,
                  'execution_time', l.execution_time))
                from task_logs l
                where l.workflow_id = ? and (l.status = 'SUCCESS' or l.attempt = ?)), '[]') as earlier
            from tasks t where t.id = ?`,
            [
              ...(scheduledTime ? [scheduledTime, input.taskId, scheduledTime] : []),
              workflowId,
              number,
              input.taskId,
            ],
          ),
      );
      loaded = rows[0];
      task = loaded && toDeliveryTask(loaded, deps.secrets);
    } catch (error) {
      throw outage(error, { attemptsMade: number - 1, failuresCounted: countedBefore });
    }
    if (!loaded || !task) return { status: 'TASK_DELETED' };
    const earlier = loaded.earlier;
    // This run took the last of maxRuns: a later fire time is a run beyond the count, which posts
    // nothing (RUNS_USED_UP), so it does not supersede this one.
    let tookLastRun = false;
    if (scheduledTime) {
      // Bounds (SPEC §14): a scheduled run counts against maxRuns, and may be the task's last.
      if (task.maxRuns !== null) {
        const counted = countOf(loaded, scheduledTime);
        task.runsLeft = counted.runsLeft;
        tookLastRun = counted.outcome === 'counted' && counted.runsLeft === 0 && counted.latest;
        if (counted.outcome === 'used-up') {
          log.info('scheduled run beyond maxRuns; nothing delivered', { taskId: task.id });
          run.last = true;
          return { status: 'SKIPPED', reason: 'RUNS_USED_UP' };
        }
      }
      try {
        run.last = isLastRun(task, scheduledTime);
      } catch (error) {
        log.warn('could not tell whether this run is the last; the task stays as it is', {
          taskId: task.id,
          error: String(error),
        });
      }
    }
    const delivered = earlier.find((row) => row.status === 'SUCCESS');
    if (delivered) {
      // Its deletes may not have been started (the completion was lost): they are still due.
      const followUp = delivered.message_id
        ? followUpOf(task, delivered.message_id, delivered.replaced_message_id, {
            postedAt: new Date(delivered.execution_time),
          })
        : undefined;
      return { status: 'ALREADY_DELIVERED', ...(hasDeletes(followUp) ? { followUp } : {}) };
    }
    const replay = earlier.find((row) => row.attempt === number);
    if (replay) throw replayedFailure(replay, number, countedBefore);

    const attempt: Attempt = {
      task,
      workflowId,
      runId: execution.runId,
      attempt: number,
      countedBefore,
      lastAttempt: countedBefore + 1 >= input.maxAttempts,
      scheduledTime,
      startedAt: new Date(),
    };

    // Before a scheduled run's first post, and again after it waited out an outage: is it still
    // wanted? (SPEC §6 "missed runs")
    if (scheduledTime && (number === 1 || input.recheckMissedRun)) {
      if (task.status !== 'ACTIVE') {
        log.info('scheduled run of a task that is not active; nothing delivered', {
          taskId: task.id,
        });
        return { status: 'SKIPPED', reason: 'NOT_ACTIVE' };
      }
      const later = tookLastRun ? null : laterRunDue(task, scheduledTime, attempt.startedAt);
      if (later) {
        log.info('missed run skipped: a later run is already due', {
          taskId: task.id,
          scheduledTime: scheduledTime.toISOString(),
          laterRun: later.toISOString(),
        });
        metrics?.deliveries.inc({ outcome: 'skipped' });
        return { status: 'SKIPPED', reason: 'SUPERSEDED' };
      }
      const lateMs = attempt.startedAt.getTime() - scheduledTime.getTime();
      if (lateMs > catchupWindowMs) {
        const row = rowFor(attempt, 'FAILED', {
          message:
            `not delivered: this run was due at ${scheduledTime.toISOString()} and could only start ` +
            `${Math.round(lateMs / 1000)} s later, after an outage (ours or Discord's); runs later than ` +
            `SCHEDULE_CATCHUP_WINDOW (${Math.round(catchupWindowMs / 1000)} s) are not posted stale`,
        });
        try {
          await database(() => insertRow(row));
        } catch (error) {
          throw outage(error, { attemptsMade: number - 1, failuresCounted: countedBefore });
        }
        metrics?.deliveries.inc({ outcome: 'skipped' });
        return { status: 'SKIPPED', reason: 'STALE' };
      }
    }

    const url = validateWebhookUrl(task.webhookUrl, config.webhookAllowedOrigins);
    const identity = url.ok ? webhookIdentity(task.webhookUrl) : null;
    if (!url.ok || !identity) {
      const reason = url.ok ? 'not a webhook URL' : url.reason;
      return fail(attempt, 'permanent', `webhook URL refused: ${reason}`, null);
    }
    const body = renderPayload(task.payload, templateVars(task, attempt));
    const invalid = validatePayload(body);
    if (invalid.length > 0) {
      const detail = invalid.map((e) => `${e.path} ${e.message}`).join('; ');
      return fail(attempt, 'permanent', `rendered payload is invalid: ${detail}`, null);
    }

    // edit: the last run's message is edited; there is none yet, or it was deleted in Discord
    // (below), then a new one is posted. post and replace: a new one is posted.
    const previous = task.lastMessageId ?? null;
    let editing = task.messageMode === 'edit' && previous !== null;
    // A wait for the bucket moves the attempt to when it is sent, and its times with it.
    const bodyAfter = (waitedMs: number): Record<string, unknown> => {
      if (waitedMs <= 0) return body;
      attempt.startedAt = new Date();
      return renderPayload(task.payload, templateVars(task, attempt));
    };
    const post = {
      method: 'POST',
      url: toDeliveryUrl(task.webhookUrl),
      body: bodyAfter,
    } as const;
    let sent = await exchange(
      identity,
      editing && previous !== null
        ? {
            method: 'PATCH',
            url: toMessageUrl(task.webhookUrl, previous),
            body: (waitedMs) => toEditBody(bodyAfter(waitedMs)),
          }
        : post,
      input,
    );
    if (editing && previous !== null && sent.outcome.kind === 'message-gone') {
      // Deleted in Discord: post a new one, and edit that one from now on.
      log.info('the message to edit was deleted in Discord; posting a new one', {
        taskId: task.id,
        messageId: previous,
      });
      await forgetMessage(task.id, previous).catch((error: unknown) => {
        throw outage(error, { attemptsMade: number - 1, failuresCounted: countedBefore });
      });
      editing = false;
      sent = await exchange(identity, post, input);
    }

    const { outcome, httpStatus } = sent;
    if (sent.paced) {
      // Nothing was sent: the bucket (or the invalid-request budget) is empty for longer than
      // the activity waits, or the run has waited past DELIVERY_RATE_LIMIT_DEADLINE.
      if (outcome.kind !== 'rate-limited') {
        const reason = outcome.kind === 'webhook-failure' ? outcome.reason : outcome.kind;
        return fail(attempt, 'permanent', reason, null);
      }
      return waitOut(
        attempt,
        DeliveryWaitType.PACED,
        outcome.reason,
        null,
        outcome.retryAfterMs + jitter(),
      );
    }
    switch (outcome.kind) {
      case 'success': {
        const messageId = outcome.messageId ?? (editing ? previous : null);
        recordOutcome(attempt, 'success', true);
        const replaced = task.messageMode === 'replace' ? previous : null;
        const followUp = messageId
          ? followUpOf(task, messageId, replaced, { postedAt: attempt.startedAt })
          : undefined;
        const { recovered } = await writeLog(
          attempt,
          'SUCCESS',
          {
            httpStatus,
            messageId,
            replacedMessageId: followUp?.replacedMessageId ?? null,
            message: messageId
              ? `${editing ? 'edited' : 'delivered:'} Discord message ${messageId}` +
                (followUp?.replacedMessageId ? ` (replaces ${followUp.replacedMessageId})` : '')
              : `delivered (HTTP ${httpStatus ?? ''})`,
          },
          undefined,
          followUp,
        );
        return {
          status: 'SUCCESS',
          messageId,
          httpStatus: httpStatus ?? 200,
          ...(hasDeletes(followUp) ? { followUp } : {}),
          ...(recovered ? { recovered } : {}),
        };
      }
      case 'rate-limited':
        return waitOut(
          attempt,
          DeliveryWaitType.RATE_LIMITED,
          outcome.reason,
          { httpStatus },
          outcome.retryAfterMs + jitter(),
        );
      case 'discord-down':
        return waitOut(attempt, DeliveryWaitType.DISCORD_DOWN, outcome.reason, { httpStatus });
      case 'webhook-failure':
        return fail(
          attempt,
          outcome.retryable ? 'transient' : 'permanent',
          outcome.reason,
          httpStatus,
        );
      case 'message-gone':
        // A POST is never answered "Unknown Message"; if Discord did, it refused this request.
        return fail(attempt, 'permanent', outcome.reason, httpStatus);
      case 'needs-probe':
        throw new Error('unreachable: a probed answer is classified');
    }
  }

  /**
   * What a delivered message leaves to delete (MessageFollowUp): the message it replaced, and
   * itself `deleteAfter` after it was posted.
   */
  function followUpOf(
    task: DeliveryTask,
    messageId: string,
    replaced: string | null,
    { postedAt }: { postedAt: Date },
  ): MessageFollowUp {
    const deleteAfter = task.deleteAfter ? parseDeleteAfter(task.deleteAfter) : undefined;
    return {
      messageId,
      ...(replaced !== null && replaced !== messageId ? { replacedMessageId: replaced } : {}),
      ...(deleteAfter?.ok
        ? { deleteAt: new Date(postedAt.getTime() + deleteAfter.ms).toISOString() }
        : {}),
    };
  }

  /** The task's last message is gone: the next edit posts instead of trying it again. */
  async function forgetMessage(taskId: string, messageId: string): Promise<void> {
    await database(() =>
      orm.em
        .fork()
        .getConnection()
        .execute('update tasks set last_message_id = null where id = ? and last_message_id = ?', [
          taskId,
          messageId,
        ]),
    );
  }

  /**
   * One request to a webhook through its Discord bucket (SPEC §13), classified: `paced` when
   * nothing was sent (the bucket stays empty longer than the activity waits), else Discord's
   * answer, probed when a failure could be Discord's as a whole. Executes, edits and deletes all
   * go through here, so they share the webhook's bucket and the one classifier.
   */
  async function exchange(
    identity: { webhookId: string; origin: string },
    request: {
      method: 'POST' | 'PATCH' | 'DELETE';
      url: string;
      body?: (waitedMs: number) => Record<string, unknown>;
    },
    input: Pick<DeliverWebhookInput, 'rateLimitedSince'>,
  ): Promise<{ paced: boolean; outcome: DeliveryOutcome; httpStatus: number | null }> {
    const context = () => ({
      discord: 'unknown' as const,
      rateLimitedForMs: rateLimitedForMs(input, Date.now()),
      rateLimitDeadlineMs,
    });
    const turn = await pacer.waitForTurn(identity.webhookId);
    if (!turn.ok) return { paced: true, outcome: classifyWait(turn, context()), httpStatus: null };
    const data = request.body?.(turn.waitedMs);

    let answer: DiscordAnswer;
    const requestTimer = metrics?.requestDuration.startTimer();
    try {
      const response = await webhookHttp.request({
        method: request.method,
        url: request.url,
        body: data,
        headers: data === undefined ? BARE_HEADERS : JSON_HEADERS,
      });
      answer = { kind: 'response', ...response };
    } catch (error) {
      answer = {
        kind: 'network',
        code: error instanceof WebhookNetworkError ? error.code : undefined,
        message: networkErrorMessage(error, config.webhookTimeoutMs),
      };
    }
    const answeredAt = Date.now();
    const httpStatus = answer.kind === 'response' ? answer.status : null;
    let outcome: DeliveryOutcome = classifyAnswer(answer, context());
    requestTimer?.({ outcome: outcomeLabel(outcome, httpStatus) });
    await settleTurn(identity.webhookId, answer, outcome, httpStatus);
    if (httpStatus !== null && httpStatus < 500) probe.noteAnswered(identity.origin);
    if (outcome.kind === 'needs-probe') {
      outcome = classifyAnswer(answer, {
        ...context(),
        discord: await probe.check(identity.origin, answeredAt),
      });
    }
    return { paced: false, outcome, httpStatus };
  }

  /** Gives the bucket its place back and tells it what the answer said (SPEC §13). */
  async function settleTurn(
    webhookId: string,
    answer: DiscordAnswer,
    outcome: DeliveryOutcome,
    httpStatus: number | null,
  ): Promise<void> {
    const invalid = isInvalidRequest(outcome, httpStatus);
    if (invalid && httpStatus !== null) {
      metrics?.discord?.invalidRequests.inc({ status: String(httpStatus) });
    }
    if (outcome.kind === 'rate-limited') {
      metrics?.discord?.rateLimited.inc({
        scope: outcome.global ? 'global' : outcome.invalid ? 'webhook' : 'shared',
      });
    }
    const headers = answer.kind === 'response' ? answer.headers : undefined;
    await pacer.store.settle(webhookId, {
      answer: readBucketHeaders(headers),
      ...(httpStatus === 429
        ? {
            retryAfterMs: retryAfterMsOf(answer.kind === 'response' ? answer : {}) ?? 1_000,
            global: outcome.kind === 'rate-limited' && outcome.global,
          }
        : {}),
      invalid,
    });
  }

  function deliveryPolicy(): DeliveryPolicy {
    return {
      initialIntervalMs: config.retry.initialIntervalMs,
      backoffCoefficient: config.retry.backoffCoefficient,
      maximumIntervalMs: config.retry.maximumIntervalMs,
      activityTimeoutMs: config.webhookTimeoutMs + ATTEMPT_LOGGING_MARGIN_MS,
      firstAttemptLocal: config.deliveryFirstAttempt === 'local',
    };
  }

  return {
    /**
     * Local activity that starts a delivery: reads the retry policy from the worker's
     * configuration and, when that policy makes the first attempt local
     * (DELIVERY_FIRST_ATTEMPT=local), makes that attempt: a delivery that succeeds at once is
     * then one local activity.
     */
    async startDelivery(firstAttempt: DeliverWebhookInput): Promise<DeliveryStart> {
      const policy = deliveryPolicy();
      if (!policy.firstAttemptLocal) return policy;
      return { ...policy, firstAttempt: await deliverWebhook(firstAttempt) };
    },

    /**
     * Local activity: the worker's retry policy alone. (Given an attempt's input, as histories from
     * before `startDelivery` had its name recorded it, it starts the delivery as that does.)
     */
    async getDeliveryPolicy(firstAttempt?: DeliverWebhookInput): Promise<DeliveryStart> {
      const policy = deliveryPolicy();
      if (!firstAttempt || !policy.firstAttemptLocal) return policy;
      return { ...policy, firstAttempt: await deliverWebhook(firstAttempt) };
    },

    deliverWebhook,

    /**
     * Deletes one message a task posted (SPEC §13), through the webhook's bucket and the one
     * classifier, like a delivery. Discord's waits and our outages come back as the delivery's
     * failure types, which the deleteMessage workflow waits out; a webhook that is gone (401, 404
     * Unknown Webhook) fails the task as a post would, with a FAILED row saying so; a message
     * that is already gone (404 Unknown Message) is done.
     */
    async deleteDiscordMessage(
      input: DeleteDiscordMessageInput,
    ): Promise<DeleteDiscordMessageResult> {
      const info = Context.current().info;
      const execution = info.workflowExecution;
      if (!execution)
        throw ApplicationFailure.nonRetryable('deleteDiscordMessage runs in a workflow', 'Misuse');
      const nothingCounted: InfrastructureFailureDetails = { attemptsMade: 0, failuresCounted: 0 };
      let webhookUrl: string | undefined;
      try {
        const rows = await database(() =>
          orm.em
            .fork()
            .getConnection()
            .execute<{ webhook_url: string }[]>('select webhook_url from tasks where id = ?', [
              input.taskId,
            ]),
        );
        const stored = rows[0]?.webhook_url;
        webhookUrl =
          stored === undefined ? undefined : deps.secrets.open(stored, 'tasks.webhook_url');
      } catch (error) {
        throw outage(error, nothingCounted);
      }
      if (webhookUrl === undefined) {
        log.info('the task was deleted; its message stays', { taskId: input.taskId });
        return { status: 'TASK_DELETED' };
      }
      const identity = webhookIdentity(webhookUrl);
      const startedAt = new Date();
      const failed = async (reason: string, httpStatus: number | null): Promise<never> => {
        const message = redactWebhookTokens(
          `could not delete Discord message ${input.messageId} (${input.reason}): ${reason}`,
        ).slice(0, 2000);
        const row: PendingAttemptRow = {
          taskId: input.taskId,
          workflowId: execution.workflowId,
          runId: execution.runId,
          attempt: 1,
          status: 'FAILED',
          httpStatus,
          message,
          durationMs: Date.now() - startedAt.getTime(),
          executionTime: startedAt.toISOString(),
          scheduledTime: null,
          createdAt: new Date().toISOString(),
        };
        try {
          await database(() => insertRow(row));
        } catch (error) {
          throw outage(error, { ...nothingCounted, pendingRow: row });
        }
        log.warn('deleting a message failed for good', { taskId: input.taskId, message });
        throw ApplicationFailure.nonRetryable(message, DeliveryErrorType.REJECTED);
      };
      if (!identity) return failed('the webhook URL is not a webhook URL', null);

      const sent = await exchange(
        identity,
        { method: 'DELETE', url: toMessageUrl(webhookUrl, input.messageId) },
        {},
      );
      const { outcome, httpStatus } = sent;
      const wait = (type: string, reason: string, retryDelayMs?: number): never => {
        log.info('deleting a message waits for Discord', {
          taskId: input.taskId,
          reason: type,
          waitMs: retryDelayMs,
        });
        throw discordWait(type, reason, { ...nothingCounted, retryDelayMs });
      };
      if (sent.paced) {
        if (outcome.kind === 'rate-limited')
          return wait(DeliveryWaitType.PACED, outcome.reason, outcome.retryAfterMs + jitter());
        return failed(outcome.kind === 'webhook-failure' ? outcome.reason : outcome.kind, null);
      }
      switch (outcome.kind) {
        case 'success':
        case 'message-gone':
          try {
            await forgetMessage(input.taskId, input.messageId);
          } catch (error) {
            // Deleted; the next try finds it gone and forgets it then.
            throw outage(error, nothingCounted);
          }
          log.info(
            outcome.kind === 'success' ? 'deleted a Discord message' : 'the message was gone',
            { taskId: input.taskId, messageId: input.messageId, reason: input.reason },
          );
          return { status: outcome.kind === 'success' ? 'DELETED' : 'ALREADY_GONE' };
        case 'rate-limited':
          return wait(
            DeliveryWaitType.RATE_LIMITED,
            outcome.reason,
            outcome.retryAfterMs + jitter(),
          );
        case 'discord-down':
          return wait(DeliveryWaitType.DISCORD_DOWN, outcome.reason);
        case 'webhook-failure':
          if (!outcome.retryable) return failed(outcome.reason, httpStatus);
          throw ApplicationFailure.create({
            message: redactWebhookTokens(outcome.reason),
            type: DeliveryErrorType.UNAVAILABLE,
          });
        case 'needs-probe':
          throw new Error('unreachable: a probed answer is classified');
      }
    },

    /** The row of an attempt that reached Discord while the database was down (see writeLog). */
    async recordAttempt(row: RecordAttemptInput): Promise<void> {
      await insertRow(row);
    },

    /**
     * After the last failed attempt: the task becomes FAILED and its schedule is paused. Says
     * whether it just became FAILED (it was not already), which is when it is alerted (SPEC §14).
     */
    async markTaskFailed(input: MarkTaskFailedInput): Promise<MarkTaskFailedResult> {
      const rows = await orm.em
        .fork()
        .getConnection()
        .execute<{ was: string | null }[]>(
          // The row is locked first (a concurrent failure of the same task then reads FAILED),
          // and the update returns the status it had.
          `with prev as (select id, status from tasks where id = ? for update),
             changed as (update tasks t set status = 'FAILED', last_execution_at = ?,
               last_execution_status = 'FAILED', failure_alerted = true
             from prev where t.id = prev.id returning prev.status as was)
           select was from changed`,
          [input.taskId, new Date()],
        );
      if (rows.length === 0) return { alert: false };
      const alert = rows[0]?.was !== 'FAILED';
      if (!deps.temporal) return { alert };
      // A schedule-started run pauses its schedule itself (pauseOnFailure); a manual trigger does not.
      await deps.temporal.schedule
        .getHandle(scheduleIdForTask(input.taskId))
        .pause(
          `paused: delivery failed permanently: ${redactWebhookTokens(input.reason)}`.slice(0, 500),
        )
        .catch((error: unknown) => {
          log.warn('could not pause the schedule of a failed task', {
            taskId: input.taskId,
            error: String(error),
          });
        });
      return { alert };
    },

    /**
     * After a task's last scheduled run (SPEC §14): the task becomes COMPLETED and its schedule
     * is paused, unless it is no longer ACTIVE (FAILED, toggled off) or a change since gave it a
     * run ahead (a PATCH while the run was going). Says whether it completed.
     */
    async completeTask(input: CompleteTaskInput): Promise<{ completed: boolean }> {
      const completed = await orm.em.fork().transactional(async (em) => {
        const connection = em.getConnection();
        const [row] = await connection.execute<TaskRow[]>(
          `select id, name, schedule, timezone, webhook_url, payload, status, message_mode,
             delete_after, last_message_id, start_at, end_at, max_runs, runs_left,
             runs_counted_through
           from tasks where id = ? for update`,
          [input.taskId],
          'all',
          em.getTransactionContext(),
        );
        if (!row || row.status !== 'ACTIVE') return false;
        const task = toDeliveryTask(row, deps.secrets);
        let ahead: Date | null;
        try {
          ahead = nextScheduledRun(task, new Date());
        } catch {
          ahead = null; // a schedule that cannot be computed has nothing ahead we could tell
        }
        if (ahead) return false;
        await connection.execute(
          `update tasks set status = 'COMPLETED', updated_at = ? where id = ?`,
          [new Date(), input.taskId],
          'run',
          em.getTransactionContext(),
        );
        return true;
      });
      if (!completed || !deps.temporal) return { completed };
      await deps.temporal.schedule
        .getHandle(scheduleIdForTask(input.taskId))
        .pause(COMPLETED_NOTE)
        .catch((error: unknown) => {
          // Nothing is left for it to fire; reconciliation pauses it later.
          log.warn('could not pause the schedule of a completed task', {
            taskId: input.taskId,
            error: String(error),
          });
        });
      return { completed };
    },

    /**
     * Posts one failure or recovery alert (SPEC §14) to the task's own alert webhook, else
     * ALERT_WEBHOOK_URL, through that webhook's bucket and the one classifier. Never a row of the
     * task's logs. Discord's waits and our outages come back as the delivery's wait types (the
     * sendAlert workflow waits them out); an alert webhook that refuses it for good is logged and
     * given up: an alert never fails or delays the task.
     */
    async deliverAlert(input: SendAlertInput): Promise<SendAlertResult> {
      const nothingCounted: InfrastructureFailureDetails = { attemptsMade: 0, failuresCounted: 0 };
      let task: { name: string; alert_webhook_url: string | null } | undefined;
      try {
        const rows = await database(() =>
          orm.em
            .fork()
            .getConnection()
            .execute<{ name: string; alert_webhook_url: string | null }[]>(
              'select name, alert_webhook_url from tasks where id = ?',
              [input.taskId],
            ),
        );
        const row = rows[0];
        task = row && {
          name: row.name,
          alert_webhook_url: row.alert_webhook_url
            ? deps.secrets.open(row.alert_webhook_url, 'tasks.alert_webhook_url')
            : null,
        };
      } catch (error) {
        throw outage(error, nothingCounted);
      }
      if (!task) return { status: 'TASK_DELETED' };
      const url = task.alert_webhook_url ?? config.alertWebhookUrl;
      if (!url) return { status: 'NO_ALERT_WEBHOOK' };
      const identity = webhookIdentity(url);
      if (!identity) return { status: 'REJECTED' };
      const sent = await exchange(
        identity,
        {
          method: 'POST',
          url: toDeliveryUrl(url),
          body: () => alertMessage(input, task.name, deps.links),
        },
        {},
      );
      const { outcome } = sent;
      const wait = (type: string, reason: string, retryDelayMs?: number): never => {
        throw discordWait(type, reason, { ...nothingCounted, retryDelayMs });
      };
      if (sent.paced) {
        if (outcome.kind === 'rate-limited')
          return wait(DeliveryWaitType.PACED, outcome.reason, outcome.retryAfterMs + jitter());
        return { status: 'REJECTED' };
      }
      switch (outcome.kind) {
        case 'success':
          log.info('alert sent', { taskId: input.taskId, kind: input.kind });
          return { status: 'SENT' };
        case 'rate-limited':
          return wait(
            DeliveryWaitType.RATE_LIMITED,
            outcome.reason,
            outcome.retryAfterMs + jitter(),
          );
        case 'discord-down':
          return wait(DeliveryWaitType.DISCORD_DOWN, outcome.reason);
        case 'webhook-failure':
          if (outcome.retryable) {
            throw ApplicationFailure.create({
              message: redactWebhookTokens(outcome.reason),
              type: DeliveryErrorType.UNAVAILABLE,
            });
          }
          log.warn('the alert webhook refused an alert; it is given up', {
            taskId: input.taskId,
            kind: input.kind,
            message: redactWebhookTokens(outcome.reason),
          });
          return { status: 'REJECTED' };
        case 'message-gone':
          return { status: 'REJECTED' };
        case 'needs-probe':
          throw new Error('unreachable: a probed answer is classified');
      }
    },
  };
}

/**
 * The outcome of an attempt that already ran and logged (its completion was lost, e.g. to a
 * worker crash), thrown again without posting a second time.
 */
function replayedFailure(
  row: { http_status: number | null; message: string | null },
  attemptsMade: number,
  failuresCounted: number,
): ApplicationFailure {
  const message = row.message ?? 'attempt failed';
  const status = row.http_status;
  if (status === 429) {
    const details: InfrastructureFailureDetails = { attemptsMade, failuresCounted };
    return ApplicationFailure.create({
      message,
      type: DeliveryWaitType.RATE_LIMITED,
      nonRetryable: true,
      details: [details],
    });
  }
  if (status !== null && status < 500) {
    return ApplicationFailure.nonRetryable(message, DeliveryErrorType.REJECTED);
  }
  return ApplicationFailure.create({ message, type: DeliveryErrorType.UNAVAILABLE });
}

/**
 * A wait of SPEC §13 (Discord's limit or outage) handed to the workflow, which sleeps it on a
 * durable timer: non-retryable for the activity's retry policy, with what was made and counted.
 */
function discordWait(
  type: string,
  reason: string,
  details: InfrastructureFailureDetails,
): ApplicationFailure {
  return ApplicationFailure.create({
    message: redactWebhookTokens(reason),
    type,
    nonRetryable: true,
    details: [details],
  });
}

/** Discord's red and green, for a failure and a recovery. */
const ALERT_COLORS = { failed: 0xed4245, recovered: 0x57f287 } as const;

/**
 * An alert as a Discord message (SPEC §14): the task's name, why, when (as a Discord timestamp
 * every reader sees in their own zone), and links to the task's page in the console and to the
 * execution in the Temporal Web UI when their addresses are known. Holds no webhook token: the
 * reason is already redacted, and the links are ours.
 */
export function alertMessage(
  input: SendAlertInput,
  taskName: string,
  links: { publicUrl?: string; temporalUiUrl?: string; namespace?: string } = {},
): Record<string, unknown> {
  const unix = Math.floor(Date.parse(input.at) / 1000);
  const fields: { name: string; value: string; inline?: boolean }[] = [
    { name: 'When', value: `<t:${unix}:f> (<t:${unix}:R>)` },
  ];
  if (links.publicUrl) {
    fields.push({
      name: 'Task',
      value: `[Open in the console](${links.publicUrl}/tasks/${input.taskId})`,
      inline: true,
    });
  }
  if (links.temporalUiUrl) {
    const execution = `${links.temporalUiUrl}/namespaces/${encodeURIComponent(links.namespace ?? 'default')}/workflows/${encodeURIComponent(input.workflowId)}/${encodeURIComponent(input.runId)}/history`;
    fields.push({
      name: 'Execution',
      value: `[Open in the Temporal Web UI](${execution})`,
      inline: true,
    });
  }
  const title = `${input.kind === 'failed' ? 'Task failed' : 'Task recovered'}: ${taskName}`;
  const description =
    input.kind === 'failed'
      ? `Its schedule is paused until someone resumes it.\n\n${redactWebhookTokens(input.reason ?? 'delivery failed')}`
      : 'It delivered again after failing.';
  return {
    username: 'Task Scheduler',
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title: title.slice(0, 256),
        description: description.slice(0, 4096),
        color: ALERT_COLORS[input.kind],
        fields,
        timestamp: input.at,
      },
    ],
  };
}

/** Whether a follow-up has anything to delete. */
function hasDeletes(followUp: MessageFollowUp | undefined): followUp is MessageFollowUp {
  return (
    followUp !== undefined &&
    (followUp.replacedMessageId !== undefined || followUp.deleteAt !== undefined)
  );
}

/** What the payload's template variables are for this attempt. */
function templateVars(task: DeliveryTask, attempt: Attempt) {
  return {
    task: { id: task.id, name: task.name },
    execution: {
      scheduledTime: attempt.scheduledTime,
      time: attempt.startedAt,
      attempt: attempt.attempt,
    },
  };
}

/** The request-duration histogram's label for an answer. */
function outcomeLabel(outcome: DeliveryOutcome, status: number | null): AttemptOutcome {
  if (outcome.kind === 'success') return 'success';
  if (outcome.kind === 'rate-limited' || status === 429) return 'rate_limited';
  if (status === null) return 'network_error';
  return status >= 500 ? 'server_error' : 'rejected';
}

function networkErrorMessage(error: unknown, timeoutMs: number): string {
  if (error instanceof WebhookNetworkError) {
    if (error.timedOut) return `timed out after ${timeoutMs} ms waiting for Discord`;
    return `network error: ${error.code ?? ''} ${error.message}`.trim();
  }
  return `network error: ${error instanceof Error ? error.message : String(error)}`;
}
