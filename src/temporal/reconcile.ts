import {
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
} from '@temporalio/client';
import type { EntityManager } from '@mikro-orm/core';
import { type SearchAttributePair, TypedSearchAttributes } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { decodeScheduleSpec } from '@temporalio/client/lib/schedule-helpers';
import { forEachLimited } from '../concurrency';
import { Task } from '../db/entities';
import type { Orm } from '../db/orm';
import type { Logger } from '../logger';
import { SCHEDULE_ID_PREFIX, scheduleIdForTask, type TaskMemo } from './contracts';
import { TASK_ID_KEY, TASK_NAME_KEY } from './execution-metadata';
import {
  desiredSchedule,
  fingerprintInNote,
  noteText,
  type SchedulableTask,
  type ScheduleGateway,
  type ScheduleSettings,
  specDrift,
  specKey,
} from './schedules';

export interface ReconcileSummary {
  tasks: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  /**
   * Already equal, but the note lacked the current fingerprint (a schedule from an older version,
   * or one paused after a failure): only the note was rewritten.
   */
  fingerprinted: number;
  /** Schedules without a task row but younger than the grace period: left for a later pass. */
  youngOrphans: number;
  failed: number;
  /** Schedules read one by one (DescribeSchedule); the rest were judged from the list. */
  described: number;
  durationMs: number;
  /** Of durationMs, the time spent listing Temporal's schedules (its visibility store). */
  listMs: number;
  failures: { scheduleId: string; error: string }[];
}

const BATCH = 500;

/** What reconciliation keeps of a listed schedule: enough to judge it unchanged, not its spec. */
export interface ListedSchedule {
  /** specKey of its spec; undefined when the list did not carry one. */
  specKey?: string;
  paused: boolean;
  /** The fingerprint at the end of its note. */
  fingerprint?: string;
  workflowType?: string;
}

/** A task as read in the first pass: what its schedule should be, in the list's terms. */
interface Judged {
  id: string;
  fingerprint: string;
  specKey: string;
  paused: boolean;
  workflowType: string;
}

const TASK_FIELDS = [
  'id',
  'name',
  'schedule',
  'timezone',
  'maxRetry',
  'status',
  'startAt',
  'endAt',
  'maxRuns',
  'runsLeft',
] as const;

/**
 * Makes Temporal match the database (SPEC §6): every task gets a schedule equal to the one its
 * row describes (spec, time zone, paused state, argument, policies, and the search attributes,
 * summary and details of its runs: SPEC §15); `task-*` schedules with no
 * task are deleted. One bad row or schedule is reported and skipped, never stops the rest.
 *
 * The list of schedules carries each one's spec, paused state, workflow type and note, and the
 * note ends with the fingerprint of the configuration it was written with. A schedule whose
 * listed fingerprint, paused state, workflow type and spec all match its row is unchanged without
 * being described; any other is described and compared field by field (and repaired, or given the
 * fingerprint it lacks). `deep` describes every schedule: it also catches edits the list cannot
 * show, such as a changed argument under an untouched note.
 *
 * Listing Temporal's schedules is most of a pass (its visibility store answers a page at a time),
 * so the rows are read and judged while it runs: each task is kept as a few short strings, each
 * listed schedule too, and only the rows that need a repair are read again.
 */
export async function reconcileSchedules(deps: {
  orm: Orm;
  client: Client;
  schedules: ScheduleGateway;
  settings: ScheduleSettings;
  logger: Logger;
  concurrency?: number;
  /** Describe every schedule instead of trusting the list's fingerprints. */
  deep?: boolean;
  /** Stops between schedules (shutdown); the summary covers what was done. */
  signal?: AbortSignal;
  /** An orphan younger than this is left alone (default ORPHAN_GRACE_MS). */
  orphanGraceMs?: number;
  /** Schedules per page of Temporal's list (1,000, the most it gives). */
  listPageSize?: number;
}): Promise<ReconcileSummary> {
  const { orm, client, schedules, settings, logger } = deps;
  const concurrency = deps.concurrency ?? 16;
  const started = Date.now();
  const summary: ReconcileSummary = {
    tasks: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    fingerprinted: 0,
    youngOrphans: 0,
    failed: 0,
    described: 0,
    durationMs: 0,
    listMs: 0,
    failures: [],
  };
  const fail = (scheduleId: string, error: unknown) => {
    summary.failed += 1;
    const message = error instanceof Error ? error.message : String(error);
    if (summary.failures.length < 100) summary.failures.push({ scheduleId, error: message });
    // `err` goes through the logger's error serializer (which masks tokens): an Error, never a string.
    const err = error instanceof Error ? error : new Error(message);
    logger.warn({ scheduleId, err }, 'reconcile: could not repair schedule');
  };
  const stopped = () => deps.signal?.aborted ?? false;

  // 1. Every task schedule Temporal knows, and at the same time every task, in id order, a batch
  //    at a time. The visibility list can lag a fresh create or update slightly: step 2 treats
  //    "already exists" as existing, and a stale summary's fingerprint or state does not match,
  //    so that schedule is described.
  const existing = new Map<string, ListedSchedule>();
  const listing = listTaskSchedules(client, existing, deps.listPageSize).then(() => {
    summary.listMs = Date.now() - started;
  });
  const judged: Judged[] = [];
  const taskIds = new Set<string>();
  const em = orm.em.fork();
  const reading = (async () => {
    let after: string | undefined;
    while (!stopped()) {
      const batch: SchedulableTask[] = await em.find(Task, after ? { id: { $gt: after } } : {}, {
        orderBy: { id: 'asc' },
        limit: BATCH,
        fields: [...TASK_FIELDS],
      });
      em.clear();
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!.id;
      for (const [i, task] of batch.entries()) {
        // A turn of the event loop every 100 rows (about 10 ms of work): a pass at start-up runs
        // beside serving, and with ROLE=all beside deliveries.
        if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
        summary.tasks += 1;
        taskIds.add(task.id);
        try {
          judged.push(judge(task, settings));
        } catch (error) {
          fail(scheduleIdForTask(task.id), error);
        }
      }
    }
  })();
  const [listed, read] = await Promise.allSettled([listing, reading]);
  if (listed.status === 'rejected') throw listed.reason;
  if (read.status === 'rejected') throw read.reason;

  // 2. Unchanged from the list alone; the rest read again and repaired a batch at a time.
  const toRepair: string[] = [];
  for (const task of judged) {
    const found = existing.get(scheduleIdForTask(task.id));
    if (!deps.deep && found && listedDrift(found, task).length === 0) summary.unchanged += 1;
    else toRepair.push(task.id);
  }
  judged.length = 0;
  for (let i = 0; i < toRepair.length && !stopped(); i += BATCH) {
    const ids = toRepair.slice(i, i + BATCH);
    const batch: SchedulableTask[] = await em.find(
      Task,
      { id: { $in: ids } },
      { orderBy: { id: 'asc' }, fields: [...TASK_FIELDS] },
    );
    em.clear();
    await forEachLimited(
      batch,
      concurrency,
      async (task) => {
        const scheduleId = scheduleIdForTask(task.id);
        let desired: ScheduleOptions;
        let fingerprint: string;
        try {
          ({ options: desired, fingerprint } = desiredSchedule(task, settings));
        } catch (error) {
          return fail(scheduleId, error);
        }
        try {
          if (!existing.has(scheduleId)) {
            try {
              await schedules.create(task);
              summary.created += 1;
              return;
            } catch (error) {
              if (!(error instanceof ScheduleAlreadyRunning)) throw error;
            }
          }
          let description: ScheduleDescription;
          try {
            summary.described += 1;
            description = await schedules.describe(task.id);
          } catch (error) {
            if (!(error instanceof ScheduleNotFoundError)) throw error;
            await schedules.create(task);
            summary.created += 1;
            return;
          }
          const drift = scheduleDrift(description, desired);
          if (drift.length === 0) {
            if (fingerprintInNote(description.state.note) === fingerprint) {
              summary.unchanged += 1;
              return;
            }
            // Equal, but the list cannot tell yet: add the fingerprint so that the next pass can.
            await schedules.update(task, { keepNote: noteText(description.state.note) });
            summary.fingerprinted += 1;
            return;
          }
          await schedules.update(task);
          summary.updated += 1;
          logger.info({ scheduleId, drift }, 'reconcile: schedule repaired');
        } catch (error) {
          fail(scheduleId, error);
        }
      },
      stopped,
    );
  }

  // 3. Orphans: task schedules whose task is gone.
  // Skipped when stopped early: a task not yet read would look like an orphan.
  const candidates = stopped()
    ? []
    : [...existing.keys()].filter((id) => !taskIds.has(id.slice(SCHEDULE_ID_PREFIX.length)));
  // A task created while this pass ran has its schedule a moment before its row commits, so it
  // can look like an orphan: read the rows again now, and leave young schedules alone.
  const rowsNow = await existingTaskIds(
    em,
    candidates.map((id) => id.slice(SCHEDULE_ID_PREFIX.length)),
  );
  const orphans = candidates.filter((id) => !rowsNow.has(id.slice(SCHEDULE_ID_PREFIX.length)));
  const graceMs = deps.orphanGraceMs ?? ORPHAN_GRACE_MS;
  await forEachLimited(
    orphans,
    deps.concurrency ?? 16,
    async (scheduleId) => {
      try {
        const handle = client.schedule.getHandle(scheduleId);
        const { info } = await handle.describe();
        if (Date.now() - info.createdAt.getTime() < graceMs) {
          summary.youngOrphans += 1;
          logger.info(
            { scheduleId },
            'reconcile: schedule without a task is too young to delete; next pass',
          );
          return;
        }
        await handle.delete();
        summary.deleted += 1;
      } catch (error) {
        if (error instanceof ScheduleNotFoundError) return;
        fail(scheduleId, error);
      }
    },
    stopped,
  );

  summary.durationMs = Date.now() - started;
  return summary;
}

/**
 * How old a schedule without a task row must be before reconcile deletes it. Far longer than a
 * create's window between the schedule call and the row's commit (bounded by the 5 s deadline).
 */
export const ORPHAN_GRACE_MS = 10 * 60_000;

async function existingTaskIds(em: EntityManager, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await em
    .getConnection()
    .execute<{ id: string }[]>('select id from tasks where id in (?)', [ids]);
  return new Set(rows.map((row: { id: string }) => row.id));
}

/** The aspects in which a schedule differs from the one its task describes; empty when equal. */
export function scheduleDrift(actual: ScheduleDescription, desired: ScheduleOptions): string[] {
  const drift = specDrift(actual.spec, desired.spec);
  const bounds = (spec: { startAt?: Date; endAt?: Date }) =>
    `${spec.startAt?.getTime() ?? ''}/${spec.endAt?.getTime() ?? ''}`;
  if (bounds(actual.spec) !== bounds(desired.spec)) drift.push('bounds');
  if (actual.state.paused !== (desired.state?.paused ?? false)) drift.push('paused');
  // maxRuns: Temporal may be one run ahead of the row's count (a run it just started counts
  // itself down), never behind it, which would lose runs.
  const remaining = actual.state.remainingActions;
  const wanted = desired.state?.remainingActions;
  if ((remaining === undefined) !== (wanted === undefined)) drift.push('maxRuns');
  else if (remaining !== undefined && wanted !== undefined && remaining < wanted)
    drift.push('maxRuns');
  const action = actual.action as Partial<ScheduleDescription['action']>;
  if (JSON.stringify(action.args ?? []) !== JSON.stringify(desired.action.args ?? []))
    drift.push('argument');
  if (action.workflowType !== desired.action.workflowType) drift.push('workflow');
  if (action.taskQueue !== desired.action.taskQueue) drift.push('taskQueue');
  // SPEC §15: the runs' search attributes, summary and details; a rename shows in all three.
  const actualAttributes = typedAttributes(action.typedSearchAttributes);
  const desiredAttributes = typedAttributes(desired.action.typedSearchAttributes);
  const memo = action.memo as Partial<TaskMemo> | undefined;
  if (
    actualAttributes.get(TASK_NAME_KEY) !== desiredAttributes.get(TASK_NAME_KEY) ||
    memo?.taskName !== (desired.action.memo as Partial<TaskMemo> | undefined)?.taskName
  ) {
    drift.push('name');
  }
  if (actualAttributes.get(TASK_ID_KEY) !== desiredAttributes.get(TASK_ID_KEY))
    drift.push('searchAttributes');
  if (
    (action.staticSummary ?? '') !== (desired.action.staticSummary ?? '') ||
    (action.staticDetails ?? '') !== (desired.action.staticDetails ?? '')
  ) {
    drift.push('summary');
  }
  const policies = actual.policies;
  if (
    policies.overlap !== desired.policies?.overlap ||
    policies.pauseOnFailure !== desired.policies?.pauseOnFailure ||
    msToNumber(policies.catchupWindow) !== msToNumber(desired.policies?.catchupWindow ?? 0)
  ) {
    drift.push('policies');
  }
  return drift;
}

function typedAttributes(
  attributes: SearchAttributePair[] | TypedSearchAttributes | undefined,
): TypedSearchAttributes {
  return Array.isArray(attributes) || !attributes
    ? new TypedSearchAttributes(attributes ?? [])
    : attributes;
}

/**
 * Every `task-*` schedule in Temporal's list, as reconciliation keeps it. Pages of 1,000 from the
 * service itself rather than through `client.schedule.list()`: the next page is asked for while
 * this one is read (the server's work and ours overlap), and only the spec, paused state, note and
 * workflow type are decoded, not each entry's memo, search attributes and recent actions.
 */
export async function listTaskSchedules(
  client: Client,
  into: Map<string, ListedSchedule>,
  pageSize = 1000,
): Promise<void> {
  const page = (nextPageToken?: Uint8Array) => {
    const response = client.workflowService.listSchedules({
      namespace: client.options.namespace,
      maximumPageSize: pageSize,
      nextPageToken,
    });
    response.catch(() => undefined); // awaited below; not unhandled if this pass stops first
    return response;
  };
  let next = page();
  for (;;) {
    const response = await next;
    const token = response.nextPageToken;
    const more = token !== null && token !== undefined && token.length > 0;
    if (more) next = page(token);
    for (const raw of response.schedules ?? []) {
      if (!raw.scheduleId?.startsWith(SCHEDULE_ID_PREFIX)) continue;
      into.set(raw.scheduleId, {
        specKey: raw.info?.spec ? specKey(decodeScheduleSpec(raw.info.spec)) : undefined,
        paused: raw.info?.paused === true,
        fingerprint: fingerprintInNote(raw.info?.notes ?? undefined),
        workflowType: raw.info?.workflowType?.name ?? undefined,
      });
    }
    if (!more) return;
  }
}

/** A task's desired schedule in the terms of a listed one. */
function judge(task: SchedulableTask, settings: ScheduleSettings): Judged {
  const { options, fingerprint } = desiredSchedule(task, settings);
  const { workflowType } = options.action;
  return {
    id: task.id,
    fingerprint,
    specKey: specKey(options.spec),
    paused: options.state?.paused ?? false,
    workflowType: typeof workflowType === 'string' ? workflowType : workflowType.name,
  };
}

/**
 * The aspects in which a listed schedule may differ from the desired one ('fingerprint' when its
 * note's does not match, which covers what the list does not show); empty when it is unchanged.
 */
export function listedDrift(
  listed: ListedSchedule,
  desired: Pick<Judged, 'fingerprint' | 'specKey' | 'paused' | 'workflowType'>,
): string[] {
  const drift: string[] = [];
  if (listed.specKey !== desired.specKey) drift.push('spec');
  if (listed.fingerprint !== desired.fingerprint) drift.push('fingerprint');
  if (listed.paused !== desired.paused) drift.push('paused');
  if (listed.workflowType !== desired.workflowType) drift.push('workflow');
  return drift;
}
