/**
 * Whether a task has a run ahead (SPEC §14), for the delivery activity that decides whether a
 * run is its task's last and for the completion that follows it. Pure: the time is given.
 */
import { atOf } from './at';
import { toScheduleSpec } from './cron';
import { compileFireTimes } from './next-fire';

/** What decides a task's scheduled runs. */
export interface BoundedSchedule {
  schedule: string;
  timezone: string;
  startAt?: Date | null;
  endAt?: Date | null;
  /** Scheduled runs left of maxRuns; null or absent without it. */
  runsLeft?: number | null;
}

/**
 * The task's next scheduled run after `after`, or null when there is none: maxRuns used up, its
 * `@at` passed, or no fire time left before endAt. Throws ScheduleError for a schedule that
 * cannot be compiled.
 */
export function nextScheduledRun(task: BoundedSchedule, after: Date): Date | null {
  if (task.runsLeft === 0) return null;
  return compileFireTimes(
    toScheduleSpec(task.schedule, task.timezone, {
      startAt: task.startAt ?? null,
      endAt: task.endAt ?? null,
    }),
  ).next(after);
}

/**
 * Whether the scheduled run at `scheduledTime` is the task's last: it used up maxRuns, it is a
 * one-off, or no later fire time falls before endAt. Without those, a schedule runs on, and this
 * costs no compile.
 */
export function isLastRun(task: BoundedSchedule, scheduledTime: Date): boolean {
  if (task.runsLeft === 0) return true;
  if (atOf(task.schedule)?.ok) return true;
  if (!task.endAt) return false;
  return nextScheduledRun(task, scheduledTime) === null;
}
