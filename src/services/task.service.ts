import { createHash, randomUUID } from 'node:crypto';
import { type EntityManager, LockMode } from '@mikro-orm/core';
import {
  type Client,
  isGrpcServiceError,
  ScheduleNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
} from '@temporalio/client';
import type { Circuit } from '../circuit';
import { createSemaphore, forEachLimited } from '../concurrency';
import { retryOnDeadConnection } from '../db/dead-connections';
import { type DiscordPayload, type ITask, Task, type TaskStatus } from '../db/entities';
import type { SecretBox, SecretColumn } from '../crypto/secrets';
import {
  createPageTotals,
  createQueryRows,
  escapeLike,
  isoTimestamp,
  readPage,
  whereAll,
} from '../db/sql';
import { type Orm, poolSize } from '../db/orm';
import { messageModeConflict, type MessageMode, parseDeleteAfter } from '../discord/messages';
import { validatePayload } from '../discord/payload-schema';
import { findTemplateErrors } from '../discord/template';
import { maskWebhookUrl, validateWebhookUrl } from '../discord/webhook-url';
import {
  ConflictError,
  NotFoundError,
  TEMPORAL_UNAVAILABLE,
  UpstreamUnavailableError,
  ValidationError,
  type FieldError,
} from '../errors';
import type { Logger } from '../logger';
import { atOf, atInstant } from '../schedule/at';
import { isValidTimeZone, parseSchedule } from '../schedule/cron';
import {
  scheduleIdForTask,
  SEND_WEBHOOK_WORKFLOW,
  type SendWebhookInput,
} from '../temporal/contracts';
import type { ScheduleGateway } from '../temporal/schedules';
import { type LogResource, type LogRow, logColumns, toLogResource } from './log.mapper';
import { createNextRuns } from './next-run';

export interface CreateTaskInput {
  name: string;
  schedule: string;
  webhookUrl: string;
  payload: DiscordPayload;
  maxRetry?: number;
  messageMode?: MessageMode;
  deleteAfter?: string | null;
  alertWebhookUrl?: string | null;
  timezone?: string;
  status?: 'ACTIVE' | 'INACTIVE';
  /** ISO 8601 with an offset (SPEC §14); null clears. */
  startAt?: string | null;
  endAt?: string | null;
  maxRuns?: number | null;
}

export type UpdateTaskInput = Partial<Omit<CreateTaskInput, 'status'>>;

export interface TaskResource {
  id: string;
  name: string;
  schedule: string;
  timezone: string;
  webhookUrl: string;
  payload: DiscordPayload;
  maxRetry: number;
  messageMode: MessageMode;
  deleteAfter: string | null;
  lastMessageId: string | null;
  alertWebhookUrl: string | null;
  status: TaskStatus;
  startAt: string | null;
  endAt: string | null;
  maxRuns: number | null;
  runsLeft: number | null;
  nextRunAt: string | null;
  lastExecutionAt: string | null;
  lastExecutionStatus: ITask['lastExecutionStatus'];
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  data: T[];
  meta: {
    page: number;
    limit: number;
    total: number;
    totalPages: number;
    /** true when `total` is PostgreSQL's estimate (more than EXACT_TOTAL_LIMIT rows match). */
    totalIsEstimate: boolean;
  };
}

export interface ListTasksQuery {
  page: number;
  limit: number;
  status?: TaskStatus;
  search?: string;
  sort?: string;
}

/** `sort` values (the contract's enum) as ORDER BY clauses; id breaks ties so pages are stable. */
const SORTS: Record<string, string> = {
  createdAt: 't.created_at asc, t.id asc',
  '-createdAt': 't.created_at desc, t.id desc',
  name: 't.name asc, t.id asc',
  '-name': 't.name desc, t.id desc',
  lastExecutionAt: 't.last_execution_at asc nulls first, t.id asc',
  '-lastExecutionAt': 't.last_execution_at desc nulls last, t.id desc',
};

/** A task's ten newest logs as a JSON array of LogRow, newest first. */
const RECENT_LOGS = `
  (select coalesce(json_agg(l order by l.execution_time desc, l.attempt desc, l.id desc), '[]'::json)
   from (select ${logColumns('x')} from task_logs x where x.task_id = t.id
         order by x.execution_time desc, x.attempt desc, x.id desc limit 10) l)`;

export interface TaskServiceDeps {
  orm: Orm;
  /** Schedule calls behind Temporal's circuit (see services/index.ts). */
  schedules: ScheduleGateway;
  client: Client;
  /** Fail-fast guards: every database call runs behind `database`, every Temporal call behind `temporal`. */
  circuits: { database: Circuit; temporal: Circuit };
  logger: Logger;
  settings: { taskQueue: string; allowedOrigins: readonly string[] };
  /** Seals webhook URLs at rest and opens them to mask them (SPEC §15). */
  secrets: SecretBox;
}

/**
 * The pool's connections that writes waiting on Temporal leave to everything else: one for the
 * database circuit's probe, one for reads. Taking them all, slow answers from Temporal starved
 * the probe, and the circuit called a healthy database down.
 */
export const CONNECTIONS_LEFT_BY_WRITES = 2;

/**
 * The task behaviour. Every write changes the row and the task's Temporal Schedule together:
 * the row is written inside a transaction, the schedule call is made before the commit, and a
 * failed schedule call rolls the row back, so the two never disagree (SPEC §6). A dependency
 * that is down fails the call within about a second (503). `nextRunAt` is computed locally (see
 * next-run.ts): no request, read or write, waits on a describe.
 */
export function createTaskService(deps: TaskServiceDeps) {
  const { orm, schedules, settings, secrets } = deps;
  const sealUrl = (url: string) => secrets.seal(url, 'tasks.webhook_url');
  const sealAlertUrl = (url: string | null | undefined) =>
    url ? secrets.seal(url, 'tasks.alert_webhook_url') : null;
  const openUrl = (stored: string) => secrets.open(stored, 'tasks.webhook_url');
  const openAlertUrl = (stored: string | null | undefined) =>
    stored ? secrets.open(stored, 'tasks.alert_webhook_url') : null;
  const masked = createMaskedStoredUrls(secrets);
  const nextRuns = createNextRuns({ logger: deps.logger });
  const { database } = deps.circuits;
  const rowsOf = createQueryRows(orm);
  const totals = createPageTotals('tasks', 't');
  // A write holds its connection until Temporal answers (see CONNECTIONS_LEFT_BY_WRITES).
  const writeSlots = createSemaphore(Math.max(1, poolSize(orm) - CONNECTIONS_LEFT_BY_WRITES));

  function validate(input: UpdateTaskInput): void {
    const errors = fieldErrors(input, 'body');
    if (errors.length > 0) throw new ValidationError('The task is invalid; see errors.', errors);
  }

  /** The mode and deleteAfter a task would have, checked together (an update merges first). */
  function validateMessages(mode: MessageMode, deleteAfter: string | null, at: string): void {
    const conflict = messageModeConflict(mode, deleteAfter);
    if (conflict) {
      throw new ValidationError('The task is invalid; see errors.', [
        { path: `${at}.deleteAfter`, message: conflict },
      ]);
    }
  }

  /** What the OpenAPI schema cannot check: schedule, zone, URL origin, payload limits, templates. */
  function fieldErrors(input: UpdateTaskInput, at: string): FieldError[] {
    const errors: FieldError[] = [];
    if (input.schedule !== undefined) {
      const parsed = parseSchedule(input.schedule);
      if (!parsed.ok) errors.push({ path: `${at}.schedule`, message: parsed.reason });
    }
    if (input.timezone !== undefined && !isValidTimeZone(input.timezone)) {
      errors.push({
        path: `${at}.timezone`,
        message: `unknown IANA time zone "${input.timezone}"`,
      });
    }
    // Compared as instants: the OpenAPI schema has checked both are date-times with offsets.
    if (input.startAt && input.endAt) {
      if (Date.parse(input.endAt) <= Date.parse(input.startAt)) {
        errors.push({ path: `${at}.endAt`, message: 'endAt must be after startAt' });
      }
    }
    if (input.webhookUrl !== undefined) {
      const url = validateWebhookUrl(input.webhookUrl, settings.allowedOrigins);
      if (!url.ok) errors.push({ path: `${at}.webhookUrl`, message: url.reason });
    }
    if (input.alertWebhookUrl !== undefined && input.alertWebhookUrl !== null) {
      const url = validateWebhookUrl(input.alertWebhookUrl, settings.allowedOrigins);
      if (!url.ok) errors.push({ path: `${at}.alertWebhookUrl`, message: url.reason });
    }
    if (input.deleteAfter !== undefined && input.deleteAfter !== null) {
      const parsed = parseDeleteAfter(input.deleteAfter);
      if (!parsed.ok) errors.push({ path: `${at}.deleteAfter`, message: parsed.reason });
    }
    // Both given (always so at creation, where the mode defaults to post); an update that gives
    // one is checked against the other's stored value once the row is read.
    if (input.messageMode !== undefined && input.deleteAfter !== undefined) {
      const conflict = messageModeConflict(input.messageMode, input.deleteAfter);
      if (conflict) errors.push({ path: `${at}.deleteAfter`, message: conflict });
    }
    if (input.payload !== undefined) {
      for (const error of [
        ...validatePayload(input.payload),
        ...findTemplateErrors(input.payload),
      ]) {
        errors.push({ path: `${at}.${error.path}`, message: error.message });
      }
    }
    return errors;
  }

  /**
   * A task as it would be written must have a run ahead (SPEC §14): an `@at` in the future, an
   * endAt not passed, maxRuns not used up, and a fire time between its bounds. Checked at creation
   * and when what decides the runs changes; a 400 naming the field that leaves no run.
   */
  function checkRunAhead(task: TimingFields, at: string, now: Date): void {
    const problem = noRunAhead(task, now);
    if (problem) {
      throw new ValidationError('The task is invalid; see errors.', [
        { path: `${at}.${problem.field}`, message: problem.message },
      ]);
    }
  }

  function noRunAhead(
    task: TimingFields,
    now: Date,
  ): { field: 'schedule' | 'endAt' | 'startAt' | 'maxRuns'; message: string } | undefined {
    const oneOff = atOf(task.schedule);
    if (oneOff?.ok) {
      const instant = atInstant(oneOff.at, task.timezone);
      if (instant <= now) {
        return {
          field: 'schedule',
          message: `${task.schedule.trim()} is in the past (${instant.toISOString()}); a one-off task must lie in the future`,
        };
      }
    }
    if (task.endAt && task.endAt <= now) {
      return { field: 'endAt', message: `endAt ${task.endAt.toISOString()} is in the past` };
    }
    if (task.maxRuns !== null && task.runsLeft === 0) {
      return {
        field: 'maxRuns',
        message: `maxRuns ${task.maxRuns} is used up: ${task.maxRuns} scheduled runs were made; raise it or remove it`,
      };
    }
    if (nextRuns.nextFireAt({ ...task, id: task.id ?? 'new', status: 'ACTIVE' }, now) === null) {
      const field = task.endAt ? 'endAt' : task.startAt ? 'startAt' : 'schedule';
      return {
        field,
        message:
          field === 'schedule'
            ? 'this schedule never fires again'
            : 'no run of this schedule falls between startAt and endAt',
      };
    }
    return undefined;
  }

  async function load(em: EntityManager, id: string, lock = false): Promise<ITask> {
    const task = await em.findOne(
      Task,
      { id },
      lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    if (!task) throw new NotFoundError(`Task ${id} does not exist.`);
    return task;
  }

  /** The row and its schedule together (see writeTogether); the input is already validated. */
  async function insertWithSchedule(input: CreateTaskInput, signal: AbortSignal): Promise<ITask> {
    const em = orm.em.fork();
    const task = em.create(Task, {
      id: randomUUID(),
      name: input.name,
      schedule: input.schedule.trim(),
      timezone: input.timezone ?? 'UTC',
      webhookUrl: sealUrl(input.webhookUrl),
      payload: input.payload,
      maxRetry: input.maxRetry ?? 3,
      messageMode: input.messageMode ?? 'post',
      deleteAfter: input.deleteAfter ?? null,
      lastMessageId: null,
      alertWebhookUrl: sealAlertUrl(input.alertWebhookUrl),
      startAt: input.startAt ? new Date(input.startAt) : null,
      endAt: input.endAt ? new Date(input.endAt) : null,
      maxRuns: input.maxRuns ?? null,
      runsLeft: input.maxRuns ?? null,
      status: input.status ?? 'ACTIVE',
    });
    let scheduled = false;
    await writeTogether(
      async (tx) => {
        tx.persist(task);
        return task;
      },
      async (created) => {
        await schedules.create(created);
        scheduled = true;
      },
      signal,
    ).catch(async (error: unknown) => {
      // The commit itself failed after the schedule was made: remove the schedule again.
      if (scheduled) await schedules.delete(task.id).catch(() => undefined);
      throw error;
    });
    return task;
  }

  /** A written task as the client sees it (its URLs opened, then masked). */
  function toResource(task: ITask): TaskResource {
    return toTaskResource(
      {
        ...task,
        webhookUrl: openUrl(task.webhookUrl),
        alertWebhookUrl: openAlertUrl(task.alertWebhookUrl),
      },
      nextRuns.nextRunAt(task),
    );
  }

  /** A task read from the database. */
  function rowToResource(row: TaskRow): TaskResource {
    return taskRowToResource(
      row,
      {
        webhookUrl: masked.of(row.webhook_url, 'tasks.webhook_url'),
        alertWebhookUrl: row.alert_webhook_url
          ? masked.of(row.alert_webhook_url, 'tasks.alert_webhook_url')
          : null,
      },
      // The fields it reads, not a copy of the whole row: a page makes one per task.
      nextRuns.nextRunAt({
        id: row.id,
        schedule: row.schedule,
        timezone: row.timezone,
        status: row.status,
        startAt: row.start_at,
        endAt: row.end_at,
        runsLeft: row.runs_left,
      }),
    );
  }

  /**
   * Runs `write` in a transaction that commits only if `syncSchedule` succeeds. `signal` aborts
   * when the database circuit gave the call up (the client has its 503): work that resumes when
   * the database answers again then rolls back instead of changing the schedule.
   */
  async function writeTogether<T>(
    write: (em: EntityManager) => Promise<T>,
    syncSchedule: (result: T) => Promise<void>,
    signal: AbortSignal,
  ): Promise<T> {
    const em = orm.em.fork();
    try {
      return await writeSlots.run(
        () =>
          em.transactional(async (tx) => {
            const result = await write(tx);
            await tx.flush();
            signal.throwIfAborted();
            await syncSchedule(result);
            return result;
          }),
        signal,
      );
    } catch (error) {
      throw translateTemporalError(error);
    }
  }

  return {
    async create(input: CreateTaskInput): Promise<TaskResource> {
      validate(input);
      checkRunAhead(timingOfInput(input), 'body', new Date());
      return toResource(await database.run((signal) => insertWithSchedule(input, signal)));
    },

    /**
     * Many tasks, each exactly as create() makes it (its row commits only once its schedule
     * exists), `concurrency` at a time. Every input is validated before any is written; an
     * invalid one fails the whole call with paths like `body[3].schedule`. If a write fails, no
     * new one starts, those in flight finish, and the error says how many were created (rows and
     * schedules of those stay: each task is whole or absent, never half).
     */
    async createMany(
      inputs: CreateTaskInput[],
      options: { concurrency?: number } = {},
    ): Promise<{ ids: string[] }> {
      const now = new Date();
      const errors = inputs.flatMap((input, i) => {
        const found = fieldErrors(input, `body[${i}]`);
        const problem = found.length === 0 ? noRunAhead(timingOfInput(input), now) : undefined;
        if (problem) found.push({ path: `body[${i}].${problem.field}`, message: problem.message });
        return found;
      });
      if (errors.length > 0)
        throw new ValidationError('Some tasks are invalid; see errors.', errors);
      const ids: string[] = [];
      let failure: { error: unknown } | undefined;
      await forEachLimited(
        inputs,
        options.concurrency ?? 16,
        async (input) => {
          try {
            ids.push((await database.run((signal) => insertWithSchedule(input, signal))).id);
          } catch (error) {
            failure ??= { error };
          }
        },
        () => failure !== undefined,
      );
      if (failure) {
        const reason =
          failure.error instanceof Error ? failure.error.message : String(failure.error);
        throw Object.assign(
          new Error(`bulk create stopped after ${ids.length} of ${inputs.length} tasks: ${reason}`),
          { cause: failure.error, createdIds: ids },
        );
      }
      return { ids };
    },

    /** The task and its ten newest logs, in one query (repeated once on a dead connection). */
    async get(id: string): Promise<TaskResource & { recentLogs: LogResource[] }> {
      const [row] = await database.run((signal) =>
        retryOnDeadConnection(
          () =>
            rowsOf<TaskRow & { recent_logs: LogRow[] }>(
              `select ${taskColumns('t')}, ${RECENT_LOGS} as recent_logs from tasks t where t.id = ?`,
              [id],
            ),
          signal,
        ),
      );
      if (!row) throw new NotFoundError(`Task ${id} does not exist.`);
      return {
        ...rowToResource(row),
        recentLogs: row.recent_logs.map((log) => toLogResource(log, row.name)),
      };
    },

    /**
     * One query for the page and its total (see readPage): exact up to EXACT_TOTAL_LIMIT tasks, an
     * estimate beyond. Repeated once on a dead connection.
     */
    async list(query: ListTasksQuery): Promise<Page<TaskResource>> {
      const filter = whereAll([
        query.status !== undefined && { sql: 't.status = ?', params: [query.status] },
        query.search !== undefined && {
          sql: 't.name ilike ?',
          params: [`%${escapeLike(query.search)}%`],
        },
      ]);
      const { rows, total, estimated } = await database.run((signal) =>
        retryOnDeadConnection(
          () =>
            readPage<TaskRow>(rowsOf, {
              columns: taskColumns('t'),
              from: 'tasks t',
              totals,
              filter,
              orderBy: SORTS[query.sort ?? '-createdAt'] ?? SORTS['-createdAt']!,
              page: query.page,
              limit: query.limit,
              fewMatches: query.search !== undefined,
              // A pattern's best plan depends on it, and so does a status's: few FAILED tasks
              // among many ACTIVE ones are read by their index, the others by creation order.
              customPlan: query.search !== undefined || query.status !== undefined,
            }),
          signal,
        ),
      );
      return { data: rows.map(rowToResource), meta: pageMeta(query, total, estimated) };
    },

    async update(id: string, input: UpdateTaskInput): Promise<TaskResource> {
      validate(input);
      const task = await database.run((signal) =>
        writeTogether(
          async (tx) => {
            const current = await load(tx, id, true);
            const before = timingKey(current);
            if (input.name !== undefined) current.name = input.name;
            if (input.schedule !== undefined) current.schedule = input.schedule.trim();
            if (input.timezone !== undefined) current.timezone = input.timezone;
            if (
              input.webhookUrl !== undefined &&
              input.webhookUrl !== openUrl(current.webhookUrl)
            ) {
              current.webhookUrl = sealUrl(input.webhookUrl);
              // The last message belongs to the old webhook: another webhook can neither edit
              // nor delete it, so the next run starts over with a new one.
              current.lastMessageId = null;
            }
            if (input.payload !== undefined) current.payload = input.payload;
            if (input.maxRetry !== undefined) current.maxRetry = input.maxRetry;
            if (input.messageMode !== undefined) current.messageMode = input.messageMode;
            if (input.deleteAfter !== undefined) current.deleteAfter = input.deleteAfter;
            if (input.alertWebhookUrl !== undefined)
              current.alertWebhookUrl = sealAlertUrl(input.alertWebhookUrl);
            validateMessages(current.messageMode, current.deleteAfter ?? null, 'body');
            if (input.startAt !== undefined)
              current.startAt = input.startAt === null ? null : new Date(input.startAt);
            if (input.endAt !== undefined)
              current.endAt = input.endAt === null ? null : new Date(input.endAt);
            if (input.maxRuns !== undefined && input.maxRuns !== (current.maxRuns ?? null)) {
              // The scheduled runs made so far still count against a new limit.
              const made =
                typeof current.maxRuns === 'number'
                  ? current.maxRuns - (current.runsLeft ?? current.maxRuns)
                  : 0;
              current.maxRuns = input.maxRuns;
              current.runsLeft = input.maxRuns === null ? null : Math.max(0, input.maxRuns - made);
            }
            if (timingKey(current) !== before) checkRunAhead(timingOf(current), 'body', new Date());
            return current;
          },
          (updated) => syncSchedule(updated),
          signal,
        ),
      );
      return toResource(task);
    },

    async remove(id: string): Promise<void> {
      await database.run((signal) =>
        writeTogether(
          async (tx) => {
            const task = await load(tx, id, true);
            tx.remove(task);
            return task;
          },
          async (task) => {
            await schedules.delete(task.id).catch((error: unknown) => {
              if (!(error instanceof ScheduleNotFoundError)) throw error;
            });
          },
          signal,
        ),
      );
    },

    /**
     * ACTIVE -> INACTIVE (paused); INACTIVE, FAILED or COMPLETED -> ACTIVE (unpaused), only with a
     * run ahead (SPEC §14): a 409 otherwise, until a PATCH gives it one.
     */
    async toggle(id: string): Promise<TaskResource> {
      const task = await database.run((signal) =>
        writeTogether(
          async (tx) => {
            const current = await load(tx, id, true);
            if (current.status !== 'ACTIVE') {
              const problem = noRunAhead(timingOf(current), new Date());
              if (problem) {
                throw new ConflictError(
                  `The task has no run ahead (${problem.message}); change its ${problem.field} first.`,
                );
              }
            }
            current.status = current.status === 'ACTIVE' ? 'INACTIVE' : 'ACTIVE';
            return current;
          },
          (updated) => syncSchedule(updated),
          signal,
        ),
      );
      return toResource(task);
    },

    /** One delivery now through the same workflow and retry policy, whatever the status. */
    /**
     * One delivery now. With an idempotency key (SPEC §14), the workflow id derives from it, so
     * a repeat is refused by Temporal itself (REJECT_DUPLICATE) and answers the same workflow id,
     * even when the first call's answer was a 503 while Temporal had taken the start.
     */
    async trigger(
      id: string,
      idempotency?: { apiKeyId: string; key: string },
    ): Promise<{ workflowId: string }> {
      const task = await database.run(() => load(orm.em.fork(), id));
      const workflowId = idempotency
        ? `${scheduleIdForTask(task.id)}-manual-key-${createHash('sha256')
            .update(`${idempotency.apiKeyId}\n${idempotency.key}`, 'utf8')
            .digest('hex')
            .slice(0, 32)}`
        : `${scheduleIdForTask(task.id)}-manual-${new Date().toISOString()}-${randomUUID().slice(0, 8)}`;
      const input: SendWebhookInput = { taskId: task.id, maxRetry: task.maxRetry };
      try {
        await deps.circuits.temporal.run(() =>
          deps.client.connection.withDeadline(Date.now() + 5_000, () =>
            deps.client.workflow.start(SEND_WEBHOOK_WORKFLOW, {
              taskQueue: settings.taskQueue,
              workflowId,
              args: [input],
              memo: { taskName: task.name },
              // TaskId, TaskName, summary and details, as a scheduled run has them (SPEC §15).
              ...schedules.manualRunMetadata(task),
              workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            }),
          ),
        );
      } catch (error) {
        // Started before, under this key: the same delivery, not a second one.
        if (idempotency && error instanceof WorkflowExecutionAlreadyStartedError) {
          return { workflowId };
        }
        throw translateTemporalError(error);
      }
      return { workflowId };
    },
  };

  /** Updates the schedule to match the row, re-creating it if it went missing. */
  async function syncSchedule(task: ITask): Promise<void> {
    try {
      await schedules.update(task);
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
      deps.logger.warn({ taskId: task.id }, 'schedule was missing; re-creating it');
      await schedules.create(task);
    }
  }
}

export type TaskService = ReturnType<typeof createTaskService>;

/** What decides a task's runs (SPEC §14). */
interface TimingFields {
  id?: string;
  schedule: string;
  timezone: string;
  startAt: Date | null;
  endAt: Date | null;
  maxRuns: number | null;
  runsLeft: number | null;
}

function timingOf(task: ITask): TimingFields {
  return {
    id: task.id,
    schedule: task.schedule,
    timezone: task.timezone,
    startAt: task.startAt ?? null,
    endAt: task.endAt ?? null,
    maxRuns: task.maxRuns ?? null,
    runsLeft: task.runsLeft ?? null,
  };
}

function timingOfInput(input: CreateTaskInput): TimingFields {
  return {
    schedule: input.schedule,
    timezone: input.timezone ?? 'UTC',
    startAt: input.startAt ? new Date(input.startAt) : null,
    endAt: input.endAt ? new Date(input.endAt) : null,
    maxRuns: input.maxRuns ?? null,
    runsLeft: input.maxRuns ?? null,
  };
}

/** Changes when anything that decides the runs changes. */
function timingKey(task: ITask): string {
  const t = timingOf(task);
  return JSON.stringify([
    t.schedule.trim(),
    t.timezone,
    t.startAt?.getTime() ?? null,
    t.endAt?.getTime() ?? null,
    t.maxRuns,
    t.runsLeft,
  ]);
}

export function toTaskResource(task: ITask, nextRunAt: Date | null): TaskResource {
  return {
    id: task.id,
    name: task.name,
    schedule: task.schedule,
    timezone: task.timezone,
    webhookUrl: maskWebhookUrl(task.webhookUrl),
    payload: task.payload,
    maxRetry: task.maxRetry,
    messageMode: task.messageMode,
    deleteAfter: task.deleteAfter ?? null,
    lastMessageId: task.lastMessageId ?? null,
    alertWebhookUrl: task.alertWebhookUrl ? maskWebhookUrl(task.alertWebhookUrl) : null,
    status: task.status,
    startAt: task.startAt ? task.startAt.toISOString() : null,
    endAt: task.endAt ? task.endAt.toISOString() : null,
    maxRuns: task.maxRuns ?? null,
    runsLeft: task.runsLeft ?? null,
    nextRunAt: nextRunAt ? nextRunAt.toISOString() : null,
    lastExecutionAt: task.lastExecutionAt ? task.lastExecutionAt.toISOString() : null,
    lastExecutionStatus: task.lastExecutionStatus ?? null,
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
  };
}

/** A tasks row as taskColumns selects it (times already ISO text). */
export interface TaskRow {
  id: string;
  name: string;
  schedule: string;
  timezone: string;
  webhook_url: string;
  payload: DiscordPayload;
  max_retry: number;
  message_mode: MessageMode;
  delete_after: string | null;
  last_message_id: string | null;
  alert_webhook_url: string | null;
  status: TaskStatus;
  start_at: string | null;
  end_at: string | null;
  max_runs: number | null;
  runs_left: number | null;
  last_execution_at: string | null;
  last_execution_status: ITask['lastExecutionStatus'] | null;
  created_at: string;
  updated_at: string;
}

/** The select list for a TaskRow from `tasks` aliased as `alias`. */
export function taskColumns(alias: string): string {
  const c = (column: string) => `${alias}.${column}`;
  return [
    ...[
      'id',
      'name',
      'schedule',
      'timezone',
      'webhook_url',
      'payload',
      'max_retry',
      'message_mode',
      'delete_after',
      'last_message_id',
      'alert_webhook_url',
      'status',
      'max_runs',
      'runs_left',
    ].map(c),
    `${isoTimestamp(c('start_at'))} as start_at`,
    `${isoTimestamp(c('end_at'))} as end_at`,
    `${isoTimestamp(c('last_execution_at'))} as last_execution_at`,
    c('last_execution_status'),
    `${isoTimestamp(c('created_at'))} as created_at`,
    `${isoTimestamp(c('updated_at'))} as updated_at`,
  ].join(', ');
}

const MASKED_STORED_CACHE_SIZE = 10_000;

/**
 * The masked form of stored (sealed) URLs, by stored value: a read of a page of tasks masks each
 * URL without decrypting it again (AES-GCM's set-up per value was most of a list request's CPU).
 * Holds masked URLs only, never a token; bounded like maskWebhookUrl's cache. A rotation or an
 * update stores a new value, so an entry never goes stale.
 */
export function createMaskedStoredUrls(secrets: Pick<SecretBox, 'open'>) {
  // One map per column: the stored value alone is the key (the column's additional data is
  // checked by the open that fills an entry).
  const caches = new Map<SecretColumn, Map<string, string>>();
  return {
    of(stored: string, column: SecretColumn): string {
      let cache = caches.get(column);
      if (!cache) caches.set(column, (cache = new Map()));
      let value = cache.get(stored);
      if (value === undefined) {
        value = maskWebhookUrl(secrets.open(stored, column));
        if (cache.size >= MASKED_STORED_CACHE_SIZE) cache.clear();
        cache.set(stored, value);
      }
      return value;
    },
  };
}

/** A row as the client sees it, with its URLs already masked (see createMaskedStoredUrls). */
export function taskRowToResource(
  row: TaskRow,
  masked: { webhookUrl: string; alertWebhookUrl: string | null },
  nextRunAt: Date | null,
): TaskResource {
  return {
    id: row.id,
    name: row.name,
    schedule: row.schedule,
    timezone: row.timezone,
    webhookUrl: masked.webhookUrl,
    payload: row.payload,
    maxRetry: row.max_retry,
    messageMode: row.message_mode,
    deleteAfter: row.delete_after,
    lastMessageId: row.last_message_id,
    alertWebhookUrl: masked.alertWebhookUrl,
    status: row.status,
    startAt: row.start_at,
    endAt: row.end_at,
    maxRuns: row.max_runs,
    runsLeft: row.runs_left,
    nextRunAt: nextRunAt ? nextRunAt.toISOString() : null,
    lastExecutionAt: row.last_execution_at,
    lastExecutionStatus: row.last_execution_status ?? null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function pageMeta(
  query: { page: number; limit: number },
  total: number,
  totalIsEstimate: boolean,
): Page<never>['meta'] {
  return {
    page: query.page,
    limit: query.limit,
    total,
    totalPages: Math.ceil(total / query.limit),
    totalIsEstimate,
  };
}

/** Temporal's answers in the API's terms: a rejected spec is 400, an unreachable server 503. */
export function translateTemporalError(error: unknown): unknown {
  if (!isGrpcServiceError(error)) {
    const cause = (error as { cause?: unknown } | null)?.cause;
    return cause && isGrpcServiceError(cause) ? translateTemporalError(cause) : error;
  }
  switch (error.code) {
    case 3: // INVALID_ARGUMENT
      return new ValidationError('Temporal rejected the schedule.', [
        { path: 'body.schedule', message: error.details || 'rejected by Temporal' },
      ]);
    case 4: // DEADLINE_EXCEEDED
    case 14: // UNAVAILABLE
      return new UpstreamUnavailableError(TEMPORAL_UNAVAILABLE);
    default:
      return error;
  }
}
