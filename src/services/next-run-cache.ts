import { ScheduleNotFoundError } from '@temporalio/client';
import { within } from '../circuit';
import type { Logger } from '../logger';
import type { ScheduleGateway } from '../temporal/schedules';

export interface NextRunLookup {
  /**
   * Wait at most this long for Temporal (reads: SPEC §5 "reads never wait on Temporal"); then
   * answer what is known, and let the describe fill the cache for the next caller. Without it
   * the caller waits for the describe (a write, which has just talked to Temporal anyway).
   */
  waitMs?: number;
}

/**
 * `nextRunAt` as Temporal reports it (the schedule's next action time), cached per task until
 * that time passes or the task is written, so that listing tasks does not describe every
 * schedule on every request. Concurrent requests for a task that is not cached share one
 * describe (a page listed by many clients at once must not send Temporal one describe per
 * client). While Temporal is known down nothing is asked; a schedule Temporal cannot describe in
 * time gives what is known: the last answer if that run is still ahead, else null.
 */
export function createNextRunCache(deps: {
  schedules: Pick<ScheduleGateway, 'describe'>;
  logger: Logger;
  /** False while Temporal is known down (the circuit is open): then no describe is sent. */
  temporalAvailable?: () => boolean;
  maxEntries?: number;
  now?: () => number;
}) {
  const maxEntries = deps.maxEntries ?? 50_000;
  const now = deps.now ?? Date.now;
  const temporalAvailable = deps.temporalAvailable ?? (() => true);
  const cache = new Map<string, { next: Date | null; validUntil: number }>();
  const inFlight = new Map<string, Promise<Date | null>>();
  /** Bumped by forget(): a describe that started before a write must not cache its answer. */
  const generation = new Map<string, number>();

  /** The last answer while its run is still ahead (a stale entry stays right until then). */
  function known(taskId: string): Date | null {
    const next = cache.get(taskId)?.next ?? null;
    return next && next.getTime() > now() ? next : null;
  }

  async function read(taskId: string): Promise<Date | null> {
    const startedAt = generation.get(taskId) ?? 0;
    let next: Date | null;
    try {
      const description = await deps.schedules.describe(taskId);
      next = description.info.nextActionTimes[0] ?? null;
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return null;
      // While Temporal is down its circuit has said so once; one warning per task would flood.
      if (temporalAvailable()) {
        deps.logger.warn({ err: error, taskId }, 'could not read the next run time from Temporal');
      }
      return known(taskId);
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
    async get(taskId: string, lookup: NextRunLookup = {}): Promise<Date | null> {
      const hit = cache.get(taskId);
      if (hit && hit.validUntil > now()) return hit.next;
      if (!temporalAvailable()) return known(taskId);
      let pending = inFlight.get(taskId);
      if (!pending) {
        const started: Promise<Date | null> = read(taskId).finally(() => {
          if (inFlight.get(taskId) === started) inFlight.delete(taskId);
        });
        inFlight.set(taskId, started);
        pending = started;
      }
      if (lookup.waitMs === undefined) return pending;
      // `pending` never rejects (read() answers null or what is known), so it is safe to leave.
      const answer = await within<Date | null | typeof LATE>(pending, lookup.waitMs, LATE);
      return answer === LATE ? known(taskId) : answer;
    },
    forget(taskId: string): void {
      cache.delete(taskId);
      inFlight.delete(taskId);
      if (generation.size >= maxEntries) generation.clear();
      generation.set(taskId, (generation.get(taskId) ?? 0) + 1);
    },
  };
}

const LATE = Symbol('late');

export type NextRunCache = ReturnType<typeof createNextRunCache>;
