import { createHash } from 'node:crypto';
import {
  type Client,
  type ScheduleDescription,
  ScheduleClient,
  type ScheduleOptions,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
// The client's own update encoder; its path is internal to the client, pinned exactly in
// package.json (see also schedule/next-fire.ts).
import { compileUpdatedScheduleOptions } from '@temporalio/client/lib/schedule-helpers';
import { msToNumber } from '@temporalio/common/lib/time';
import type { Config } from '../config';
import type { TaskStatus } from '../db/entities';
import { toScheduleSpec } from '../schedule/cron';
import {
  COMPLETED_NOTE,
  scheduleIdForTask,
  SEND_WEBHOOK_WORKFLOW,
  type SendWebhookInput,
  type TaskMemo,
} from './contracts';
import {
  type DescribedTask,
  executionMetadata,
  type ExecutionMetadata,
} from './execution-metadata';

/** What a schedule is derived from: the task row's scheduling fields. */
export interface SchedulableTask {
  id: string;
  name: string;
  schedule: string;
  timezone: string;
  maxRetry: number;
  status: TaskStatus;
  /** Bounds (SPEC §14): the spec's own startAt and endAt. */
  startAt?: Date | null;
  endAt?: Date | null;
  /** maxRuns set: the schedule's limited actions, with runsLeft remaining. */
  maxRuns?: number | null;
  runsLeft?: number | null;
}

export interface ScheduleSettings {
  taskQueue: string;
  catchupWindowMs: number;
  /** PUBLIC_URL: the console's address, linked from each execution's details (SPEC §15). */
  publicUrl?: string;
}

/**
 * The settings every writer of task schedules uses (the API's gateway, its start-up
 * reconciliation, `npm run reconcile`): one source, so that they agree on each fingerprint.
 */
export function scheduleSettings(
  config: Pick<Config, 'temporalTaskQueue' | 'scheduleCatchupWindowMs'> &
    Partial<Pick<Config, 'publicUrl'>>,
): ScheduleSettings {
  return {
    taskQueue: config.temporalTaskQueue,
    catchupWindowMs: config.scheduleCatchupWindowMs,
    publicUrl: config.publicUrl,
  };
}

/**
 * The search attributes (TaskId, TaskName), summary and details of an execution of the task
 * (SPEC §15): the schedule's action carries those of a scheduled run, a trigger starts its manual
 * run with these.
 */
export function runMetadata(
  task: DescribedTask,
  kind: 'scheduled' | 'manual',
  settings: Pick<ScheduleSettings, 'publicUrl'>,
): ExecutionMetadata {
  return executionMetadata(task, { kind, publicUrl: settings.publicUrl });
}

/**
 * The one mapping from a task row to its Temporal Schedule (SPEC §6): id `task-<taskId>`, action
 * `sendWebhook` with `{ taskId, maxRetry }` only (no URL, no payload: secrets stay out of
 * history), memo `{ taskName }`, search attributes TaskId and TaskName with a summary and
 * details on every run it starts (SPEC §15), overlap BUFFER_ALL, the configured catch-up window,
 * pause on failure, paused exactly when the task is not ACTIVE. The note says why the schedule
 * runs or not and ends with the configuration's fingerprint (see scheduleFingerprint).
 */
export function buildScheduleOptions(
  task: SchedulableTask,
  settings: ScheduleSettings,
): ScheduleOptions {
  return desiredSchedule(task, settings).options;
}

/** The schedule a task row describes, with the fingerprint its note carries. */
export function desiredSchedule(
  task: SchedulableTask,
  settings: ScheduleSettings,
): { options: ScheduleOptions; fingerprint: string } {
  const { scheduleId, fingerprint, ...update } = buildScheduleUpdate(task, settings);
  return { options: { scheduleId, ...update, memo: memoFor(task) }, fingerprint };
}

/**
 * A short, stable hash of everything reconciliation compares: the canonical spec and time zone,
 * the action's workflow type, task queue, workflow id and argument, its search attributes (task
 * id and name), summary and details, the policies and the paused state. Not the note. The memo
 * holds nothing the search attributes do not: a rename changes the hash through TaskName. Kept at
 * the end of the schedule's note, which Temporal returns when listing schedules, so that
 * reconciliation can tell an unchanged schedule from the list alone instead of describing each.
 */
export function scheduleFingerprint(task: SchedulableTask, settings: ScheduleSettings): string {
  return buildScheduleUpdate(task, settings).fingerprint;
}

const FINGERPRINT_SUFFIX = /(?:^| · )config ([0-9a-f]{12})$/;

/**
 * The fingerprint at the end of a schedule's note; undefined when there is none (a schedule from
 * an older version, or a note that Temporal or someone else wrote).
 */
export function fingerprintInNote(note: string | undefined): string | undefined {
  return note?.match(FINGERPRINT_SUFFIX)?.[1];
}

/** The note without its fingerprint: the part meant for people. */
export function noteText(note: string | undefined): string {
  return (note ?? '').replace(FINGERPRINT_SUFFIX, '');
}

function noteWithFingerprint(text: string, fingerprint: string): string {
  return text ? `${text} · config ${fingerprint}` : `config ${fingerprint}`;
}

function buildScheduleUpdate(
  task: SchedulableTask,
  settings: ScheduleSettings,
  keepNote?: string,
): ScheduleUpdateOptions & { scheduleId: string; fingerprint: string } {
  const input: SendWebhookInput = { taskId: task.id, maxRetry: task.maxRetry };
  const paused = task.status !== 'ACTIVE';
  // maxRuns is Temporal's limited actions. The runs count themselves down in the row (a run is
  // counted once, and a scheduled run with none left is not delivered), so the row's count is the
  // authority and Temporal's may only be ahead of it, by a run it just started.
  const limited = typeof task.maxRuns === 'number';
  const metadata = runMetadata(task, 'scheduled', settings);
  const update = {
    scheduleId: scheduleIdForTask(task.id),
    spec: toScheduleSpec(task.schedule, task.timezone, {
      startAt: task.startAt ?? null,
      endAt: task.endAt ?? null,
    }),
    action: {
      type: 'startWorkflow' as const,
      workflowType: SEND_WEBHOOK_WORKFLOW,
      // Temporal appends the scheduled time, so every run's id starts with task-<taskId>.
      workflowId: scheduleIdForTask(task.id),
      taskQueue: settings.taskQueue,
      args: [input],
      memo: memoFor(task),
      // Every run it starts is found by task in the Web UI, with a summary naming it (SPEC §15).
      typedSearchAttributes: metadata.typedSearchAttributes,
      staticSummary: metadata.staticSummary,
      staticDetails: metadata.staticDetails,
    },
    policies: {
      // Runs of one task never overlap, and none is dropped: a run that comes due while another
      // is still running (a late catch-up run, Discord's retries) waits its turn. The delivery
      // activity then skips any run whose successor is already due (SPEC §6 "missed runs").
      overlap: ScheduleOverlapPolicy.BUFFER_ALL,
      catchupWindow: settings.catchupWindowMs,
      pauseOnFailure: true,
    },
  };
  // Versioned, in a fixed order: a change here changes every fingerprint, which only costs the
  // next reconciliation one describe per schedule (and an update where the schedule differs: the
  // search attributes and summary of SPEC §15 reached the schedules of before them that way).
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify([
        'v1',
        canonicalSpec(update.spec),
        update.spec.timezone ?? 'UTC',
        update.action.workflowType,
        update.action.taskQueue,
        update.action.workflowId,
        update.action.args,
        update.policies.overlap,
        update.policies.catchupWindow,
        update.policies.pauseOnFailure,
        paused,
        // Only when set, so that the schedules of tasks without them keep their fingerprints.
        ...(limited || update.spec.startAt || update.spec.endAt
          ? [
              update.spec.startAt?.toISOString() ?? null,
              update.spec.endAt?.toISOString() ?? null,
              limited,
            ]
          : []),
        metadata.typedSearchAttributes.map(({ key, value }) => [key.name, value]),
        metadata.staticSummary,
        metadata.staticDetails,
      ]),
    )
    .digest('hex')
    .slice(0, 12);
  // A paused schedule keeps the reason it was paused with (the delivery activity's, Temporal's
  // pause-on-failure note, an operator's) when only the fingerprint is added; our own wordings
  // follow the row.
  const text = paused && keepNote && !OWN_NOTES.has(keepNote) ? keepNote : noteFor(task.status);
  return {
    ...update,
    fingerprint,
    state: {
      paused,
      note: noteWithFingerprint(text, fingerprint),
      ...(limited ? { remainingActions: Math.max(0, task.runsLeft ?? task.maxRuns ?? 0) } : {}),
    },
  };
}

function memoFor(task: SchedulableTask): TaskMemo & Record<string, unknown> {
  return { taskName: task.name };
}

function noteFor(status: TaskStatus): string {
  switch (status) {
    case 'ACTIVE':
      return 'active';
    case 'INACTIVE':
      return 'paused: task toggled off';
    case 'FAILED':
      return 'paused: the last delivery failed permanently; toggle the task to resume';
    case 'COMPLETED':
      return COMPLETED_NOTE;
  }
}

const OWN_NOTES = new Set((['ACTIVE', 'INACTIVE', 'FAILED', 'COMPLETED'] as const).map(noteFor));

type LooseSpec = Pick<ScheduleSpec, 'calendars' | 'intervals'> | ScheduleDescription['spec'];

/**
 * The aspects in which a spec differs from the desired one ('spec', 'timezone'); for a described
 * schedule's spec and for the one in a list summary alike.
 */
export function specDrift(
  actual: LooseSpec & { timezone?: string },
  desired: ScheduleSpec,
): string[] {
  const drift: string[] = [];
  if (canonicalSpec(actual) !== canonicalSpec(desired)) drift.push('spec');
  if ((actual.timezone ?? 'UTC') !== (desired.timezone ?? 'UTC')) drift.push('timezone');
  return drift;
}

/**
 * A short key equal for two specs exactly when specDrift finds no drift between them (their
 * canonical calendars and intervals, and time zone), for judging many listed schedules without
 * keeping their specs.
 */
export function specKey(spec: LooseSpec & { timezone?: string }): string {
  return createHash('sha256')
    .update(`${canonicalSpec(spec)}\n${spec.timezone ?? 'UTC'}`)
    .digest('base64url')
    .slice(0, 22);
}

/** A comparable text for calendars and intervals: comments dropped, durations as ms, ranges sorted. */
function canonicalSpec(spec: LooseSpec): string {
  const calendars = (spec.calendars ?? []).map((calendar) => {
    const { comment: _comment, ...fields } = calendar as Record<string, unknown>;
    // describe() adds `year: []` (every year); an empty field and a missing one mean the same.
    return Object.keys(fields)
      .sort()
      .filter((key) => !(Array.isArray(fields[key]) && (fields[key] as unknown[]).length === 0))
      .map((key) => [key, normalizeRanges(fields[key])]);
  });
  const intervals = (spec.intervals ?? []).map((interval) => [
    msToNumber(interval.every),
    msToNumber(interval.offset ?? 0),
  ]);
  return JSON.stringify({ calendars: calendars.map((c) => JSON.stringify(c)).sort(), intervals });
}

function normalizeRanges(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value
    .map((range: unknown) => {
      if (typeof range !== 'object' || range === null) return { start: range, end: range, step: 1 };
      const r = range as { start: unknown; end?: unknown; step?: unknown };
      return { start: r.start, end: r.end ?? r.start, step: r.step || 1 };
    })
    .map((r) => JSON.stringify(r))
    .sort();
}

const DEADLINE_MS = 5_000;

/** Schedule operations, each bounded by a deadline so that an unreachable Temporal is a fast 503. */
export function createScheduleGateway(deps: { client: Client; settings: ScheduleSettings }) {
  const { client, settings } = deps;
  const withDeadline = <T>(fn: () => Promise<T>) =>
    client.connection.withDeadline(Date.now() + DEADLINE_MS, fn);
  const handle = (taskId: string) => client.schedule.getHandle(scheduleIdForTask(taskId));

  return {
    async create(task: SchedulableTask): Promise<void> {
      const options = buildScheduleOptions(task, settings);
      await withDeadline(() => client.schedule.create(options));
    },

    /**
     * Replaces spec, action (argument, memo), policies, paused state and note with the row's.
     * `keepNote`: the current note's text, kept on a paused schedule (see buildScheduleUpdate).
     */
    async update(task: SchedulableTask, opts: { keepNote?: string } = {}): Promise<void> {
      const {
        scheduleId: _id,
        fingerprint: _fingerprint,
        ...update
      } = buildScheduleUpdate(task, settings, opts.keepNote);
      await withDeadline(() => UpdateWithoutDescribe.send(client.schedule, task.id, update));
    },

    async delete(taskId: string): Promise<void> {
      await withDeadline(() => handle(taskId).delete());
    },

    async describe(taskId: string): Promise<ScheduleDescription> {
      return withDeadline(() => handle(taskId).describe());
    },

    /** The search attributes, summary and details of a manual run of the task (the trigger's). */
    manualRunMetadata(task: DescribedTask): ExecutionMetadata {
      return runMetadata(task, 'manual', settings);
    },
  };
}

export type ScheduleGateway = ReturnType<typeof createScheduleGateway>;

/**
 * The UpdateSchedule request that `handle.update(fn)` sends, without the DescribeSchedule it
 * makes first so that `fn` can edit the current schedule: this update replaces every part from
 * the row, so it needs no read (SPEC §5: no request waits on a describe). What the SDK's update
 * keeps from the describe, the action's headers, this client never sets. A missing schedule is
 * a ScheduleNotFoundError as before. Declared as a subclass so that the compiler checks the call
 * against the client's protected method.
 */
class UpdateWithoutDescribe extends ScheduleClient {
  static async send(
    schedules: ScheduleClient,
    taskId: string,
    update: ScheduleUpdateOptions,
  ): Promise<void> {
    const scheduleId = scheduleIdForTask(taskId);
    await (schedules as UpdateWithoutDescribe)._updateSchedule(
      scheduleId,
      compileUpdatedScheduleOptions(scheduleId, update),
      {},
    );
  }
}

export type { ScheduleSpec };
