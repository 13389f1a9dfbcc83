import {
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
} from '@temporalio/client';
import { msToNumber } from '@temporalio/common/lib/time';
import { Task } from '../db/entities';
import type { Orm } from '../db/orm';
import type { Logger } from '../logger';
import { SCHEDULE_ID_PREFIX, scheduleIdForTask } from './contracts';
import {
  buildScheduleOptions,
  type SchedulableTask,
  type ScheduleGateway,
  type ScheduleSettings,
  specDrift,
} from './schedules';

export interface ReconcileSummary {
  tasks: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: number;
  durationMs: number;
  failures: { scheduleId: string; error: string }[];
}

const BATCH = 500;

/**
 * Makes Temporal match the database (SPEC §6): every task gets a schedule equal to the one its
 * row describes (spec, time zone, paused state, argument, policies); `task-*` schedules with no
 * task are deleted. One bad row or schedule is reported and skipped, never stops the rest.
 */
export async function reconcileSchedules(deps: {
  orm: Orm;
  client: Client;
  schedules: ScheduleGateway;
  settings: ScheduleSettings;
  logger: Logger;
  concurrency?: number;
  /** Stops between schedules (shutdown); the summary covers what was done. */
  signal?: AbortSignal;
}): Promise<ReconcileSummary> {
  const { orm, client, schedules, settings, logger } = deps;
  const started = Date.now();
  const summary: ReconcileSummary = {
    tasks: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    failed: 0,
    durationMs: 0,
    failures: [],
  };
  const fail = (scheduleId: string, error: unknown) => {
    summary.failed += 1;
    const message = error instanceof Error ? error.message : String(error);
    if (summary.failures.length < 100) summary.failures.push({ scheduleId, error: message });
    logger.warn({ scheduleId, err: message }, 'reconcile: could not repair schedule');
  };

  // 1. Every task schedule Temporal knows (the visibility list can lag a fresh create slightly;
  //    step 2 treats "already exists" as existing).
  const existing = new Set<string>();
  const stopped = () => deps.signal?.aborted ?? false;
  for await (const summaryItem of client.schedule.list({ pageSize: 1000 })) {
    if (summaryItem.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) existing.add(summaryItem.scheduleId);
  }

  // 2. Every task, in id order, a batch at a time.
  const taskIds = new Set<string>();
  const em = orm.em.fork();
  let after: string | undefined;
  while (!stopped()) {
    const batch: SchedulableTask[] = await em.find(Task, after ? { id: { $gt: after } } : {}, {
      orderBy: { id: 'asc' },
      limit: BATCH,
      fields: ['id', 'name', 'schedule', 'timezone', 'maxRetry', 'status'],
    });
    em.clear();
    if (batch.length === 0) break;
    after = batch[batch.length - 1]!.id;
    await forEachLimited(batch, deps.concurrency ?? 16, stopped, async (task) => {
      summary.tasks += 1;
      taskIds.add(task.id);
      const scheduleId = scheduleIdForTask(task.id);
      let desired: ScheduleOptions;
      try {
        desired = buildScheduleOptions(task, settings);
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
          description = await schedules.describe(task.id);
        } catch (error) {
          if (!(error instanceof ScheduleNotFoundError)) throw error;
          await schedules.create(task);
          summary.created += 1;
          return;
        }
        const drift = scheduleDrift(description, desired);
        if (drift.length === 0) {
          summary.unchanged += 1;
          return;
        }
        await schedules.update(task);
        summary.updated += 1;
        logger.info({ scheduleId, drift }, 'reconcile: schedule repaired');
      } catch (error) {
        fail(scheduleId, error);
      }
    });
  }

  // 3. Orphans: task schedules whose task is gone.
  // Skipped when stopped early: a task not yet read would look like an orphan.
  const orphans = stopped()
    ? []
    : [...existing].filter((id) => !taskIds.has(id.slice(SCHEDULE_ID_PREFIX.length)));
  await forEachLimited(orphans, deps.concurrency ?? 16, stopped, async (scheduleId) => {
    try {
      await client.schedule.getHandle(scheduleId).delete();
      summary.deleted += 1;
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return;
      fail(scheduleId, error);
    }
  });

  summary.durationMs = Date.now() - started;
  return summary;
}

/** The aspects in which a schedule differs from the one its task describes; empty when equal. */
export function scheduleDrift(actual: ScheduleDescription, desired: ScheduleOptions): string[] {
  const drift = specDrift(actual.spec, desired.spec);
  if (actual.state.paused !== (desired.state?.paused ?? false)) drift.push('paused');
  const action = actual.action as { workflowType?: string; taskQueue?: string; args?: unknown[] };
  if (JSON.stringify(action.args ?? []) !== JSON.stringify(desired.action.args ?? [])) drift.push('argument');
  if (action.workflowType !== desired.action.workflowType) drift.push('workflow');
  if (action.taskQueue !== desired.action.taskQueue) drift.push('taskQueue');
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

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  stopped: () => boolean,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !stopped()) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
