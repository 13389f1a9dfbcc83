import { ScheduleNotFoundError } from '@temporalio/client';
import type { Logger } from '../logger';
import type { ScheduleGateway } from '../temporal/schedules';

/**
 * `nextRunAt` as Temporal reports it (the schedule's next action time), cached per task until
 * that time passes or the task is written, so that listing tasks does not describe every
 * schedule on every request. Concurrent requests for a task that is not cached share one
 * describe (a page listed by many clients at once must not send Temporal one describe per
 * client). A schedule Temporal cannot describe right now gives null, and is asked again next time.
 */
export function createNextRunCache(deps: {
  schedules: Pick<ScheduleGateway, 'describe'>;
  logger: Logger;
  maxEntries?: number;
  now?: () => number;
}) {
  const maxEntries = deps.maxEntries ?? 50_000;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { next: Date | null; validUntil: number }>();
  const inFlight = new Map<string, Promise<Date | null>>();
  /** Bumped by forget(): a describe that started before a write must not cache its answer. */
  const generation = new Map<string, number>();

  async function read(taskId: string): Promise<Date | null> {
    const startedAt = generation.get(taskId) ?? 0;
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
    if ((generation.get(taskId) ?? 0) === startedAt) {
      if (cache.size >= maxEntries) cache.clear();
      // Valid until the run happens (then the next one is due), and re-read at least each minute.
      const at = now();
      cache.set(taskId, {
        next,
        validUntil: Math.min(next ? next.getTime() : Infinity, at + 60_000),
      });
    }
    return next;
  }

  return {
    async get(taskId: string): Promise<Date | null> {
      const hit = cache.get(taskId);
      if (hit && hit.validUntil > now()) return hit.next;
      const shared = inFlight.get(taskId);
      if (shared) return shared;
      const pending: Promise<Date | null> = read(taskId).finally(() => {
        if (inFlight.get(taskId) === pending) inFlight.delete(taskId);
      });
      inFlight.set(taskId, pending);
      return pending;
    },
    forget(taskId: string): void {
      cache.delete(taskId);
      inFlight.delete(taskId);
      if (generation.size >= maxEntries) generation.clear();
      generation.set(taskId, (generation.get(taskId) ?? 0) + 1);
    },
  };
}

export type NextRunCache = ReturnType<typeof createNextRunCache>;
