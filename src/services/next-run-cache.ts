import { ScheduleNotFoundError } from '@temporalio/client';
import type { Logger } from '../logger';
import type { ScheduleGateway } from '../temporal/schedules';

/**
 * `nextRunAt` as Temporal reports it (the schedule's next action time), cached per task until
 * that time passes or the task is written, so that listing tasks does not describe every
 * schedule on every request. A schedule Temporal cannot describe right now gives null.
 */
export function createNextRunCache(deps: { schedules: ScheduleGateway; logger: Logger; maxEntries?: number }) {
  const maxEntries = deps.maxEntries ?? 50_000;
  const cache = new Map<string, { next: Date | null; validUntil: number }>();

  return {
    async get(taskId: string): Promise<Date | null> {
      const now = Date.now();
      const hit = cache.get(taskId);
      if (hit && hit.validUntil > now) return hit.next;
      let next: Date | null;
      try {
        const description = await deps.schedules.describe(taskId);
        next = description.info.nextActionTimes[0] ?? null;
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) {
          deps.logger.warn({ err: error, taskId }, 'could not read the next run time from Temporal');
        }
        return null;
      }
      if (cache.size >= maxEntries) cache.clear();
      // Valid until the run happens (then the next one is due), and re-read at least each minute.
      const validUntil = Math.min(next ? next.getTime() : Infinity, now + 60_000);
      cache.set(taskId, { next, validUntil });
      return next;
    },
    forget(taskId: string): void {
      cache.delete(taskId);
    },
  };
}

export type NextRunCache = ReturnType<typeof createNextRunCache>;
