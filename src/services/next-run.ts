import type { TaskStatus } from '../db/entities';
import type { Logger } from '../logger';
import { toScheduleSpec } from '../schedule/cron';
import { compileFireTimes, type FireTimeCalculator } from '../schedule/next-fire';

/** What a task's next run depends on. */
export interface NextRunTask {
  id: string;
  schedule: string;
  timezone: string;
  status: TaskStatus;
  /** Bounds (SPEC §14): a Date from an entity, ISO text from a row, or null. */
  startAt?: Date | string | null;
  endAt?: Date | string | null;
  /** Scheduled runs left of maxRuns; 0 means none ahead, null no limit. */
  runsLeft?: number | null;
}

const iso = (value: Date | string | null | undefined): string =>
  value === null || value === undefined
    ? ''
    : typeof value === 'string'
      ? value
      : value.toISOString();

interface Entry {
  /** null: the stored schedule cannot be compiled (it was valid when saved; see nextRunAt). */
  calculator: FireTimeCalculator | null;
  /** The first fire time after `from`: still the first one for any time before it. */
  from: number;
  next: Date | null;
}

/**
 * `nextRunAt` of SPEC §5: the next time Temporal fires a task's schedule, computed locally by
 * src/schedule/next-fire.ts (proven equal to the server's own answers by
 * test/integration/next-fire.test.ts), so no request waits on a describe. Null when the task is
 * not ACTIVE, since its schedule is paused exactly then (SPEC §6).
 *
 * Tasks share schedules (every task on `0 9 * * *` in UTC is one entry), and a next fire time
 * stays the answer until it passes, so a page of tasks costs a map lookup per task; parsing
 * and time-zone arithmetic happen once per schedule and fire time.
 */
export function createNextRuns(deps: { logger: Logger; maxEntries?: number }) {
  const maxEntries = deps.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();

  function entryFor(task: NextRunTask): Entry {
    const startAt = iso(task.startAt);
    const endAt = iso(task.endAt);
    const key = `${task.timezone}\n${task.schedule}\n${startAt}\n${endAt}`;
    let entry = entries.get(key);
    if (!entry) {
      let calculator: FireTimeCalculator | null = null;
      try {
        calculator = compileFireTimes(
          toScheduleSpec(task.schedule, task.timezone, {
            startAt: startAt ? new Date(startAt) : null,
            endAt: endAt ? new Date(endAt) : null,
          }),
        );
      } catch (error) {
        // Logged once per schedule while it stays in the map, not on every read of the task.
        deps.logger.warn(
          { err: error, taskId: task.id },
          'the stored schedule cannot be compiled; nextRunAt is null',
        );
      }
      if (entries.size >= maxEntries) entries.clear();
      entry = { calculator, from: Infinity, next: null }; // nothing computed yet
      entries.set(key, entry);
    }
    return entry;
  }

  return {
    /**
     * The next fire time after `now`, or null (not ACTIVE, never fires again, maxRuns used up,
     * or uncompilable).
     */
    nextRunAt(task: NextRunTask, now: Date = new Date()): Date | null {
      if (task.status !== 'ACTIVE') return null;
      return nextFireAt(task, now);
    },

    nextFireAt,
  };

  /** The next time the task's schedule would fire after `now`, whatever its status. */
  function nextFireAt(task: NextRunTask, now: Date = new Date()): Date | null {
    if (task.runsLeft === 0) return null;
    const entry = entryFor(task);
    if (!entry.calculator) return null;
    const at = now.getTime();
    const stillNext = at >= entry.from && (entry.next === null || at < entry.next.getTime());
    if (!stillNext) {
      try {
        entry.next = entry.calculator.next(now);
      } catch (error) {
        deps.logger.warn({ err: error, taskId: task.id }, 'could not compute nextRunAt');
        return null;
      }
      entry.from = at;
    }
    return entry.next;
  }
}

export type NextRuns = ReturnType<typeof createNextRuns>;
