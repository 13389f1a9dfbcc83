import { oneOffInstant } from '../../../src/schedule/at';
import type { Task } from '../api/client';
import { zonedTime } from '../ui/format';

/**
 * Why a task has no run ahead (SPEC §14), in words, from the fields it shows: the reasons the
 * server completes a task for, in the order it checks them.
 */
export function whyNoRunAhead(task: Task, now = Date.now()): string {
  if (task.maxRuns !== null && task.runsLeft === 0) {
    return task.maxRuns === 1
      ? 'its one scheduled run was made (max runs 1)'
      : `all ${task.maxRuns} of its scheduled runs were made (max runs ${task.maxRuns})`;
  }
  const oneOff = oneOffInstant(task.schedule, task.timezone);
  if (oneOff && oneOff.getTime() <= now) {
    return `its one run, ${zonedTime(oneOff.toISOString(), task.timezone)}, has passed`;
  }
  if (task.endAt) {
    const end = zonedTime(task.endAt, task.timezone);
    return Date.parse(task.endAt) <= now
      ? `its end, ${end}, has passed`
      : `no run of its schedule is left before its end, ${end}`;
  }
  return 'its schedule has no run ahead';
}

/** "2 of 5 runs left", for a task with maxRuns. */
export function runsLeftText(task: Task): string {
  const max = task.maxRuns ?? 0;
  return `${task.runsLeft ?? max} of ${max} run${max === 1 ? '' : 's'} left`;
}
