import {
  ActivityFailure,
  ApplicationFailure,
  log,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import {
  DeliveryWaitType,
  type InfrastructureFailureDetails,
  OutageErrorType,
  type PendingAttemptRow,
} from '../src/temporal/contracts';

/** How long a run waits out an outage (ours or Discord's) before it gives up. */
export const OUTAGE_GIVE_UP_MS = 24 * 60 * 60 * 1000;

/** 1 s, 2 s, 4 s, 8 s, then every 10 s for about 5 minutes, then every minute. */
export function outageBackoffMs(interruptions: number): number {
  if (interruptions > 33) return 60_000;
  return Math.min(10_000, 1_000 * 2 ** interruptions);
}

/** Discord's limits and outages, and ours: waited out, never a failure of the call. */
const WAITS: string[] = [...Object.values(DeliveryWaitType), OutageErrorType.INFRASTRUCTURE];

/**
 * Calls an activity until it answers, waiting out on durable timers what is not its failure:
 * Discord's waits (the wait it names), our outages and attempts lost to a crash (the outage
 * backoff). A row an outage kept from the database is handed to `record` first. After a day of
 * waiting, 'GAVE_UP'. Any other failure is thrown to the caller.
 */
export async function untilAnswered<T>(
  call: () => Promise<T>,
  what: { taskId: string; doing: string; record?: (row: PendingAttemptRow) => Promise<boolean> },
): Promise<T | 'GAVE_UP'> {
  const startedAt = Date.now();
  for (let interruptions = 0; ; interruptions += 1) {
    let waitMs: number;
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      const cause = error.cause;
      const waits =
        cause instanceof ApplicationFailure && !!cause.type && WAITS.includes(cause.type);
      if (!waits && !(cause instanceof TimeoutFailure)) throw error;
      const details = (
        waits ? ((cause as ApplicationFailure).details?.[0] ?? {}) : {}
      ) as Partial<InfrastructureFailureDetails>;
      // `record` answers true when the row ends the call (the caller then throws or returns).
      if (details.pendingRow && what.record && (await what.record(details.pendingRow))) throw error;
      waitMs = details.retryDelayMs ?? outageBackoffMs(interruptions);
    }
    if (Date.now() - startedAt > OUTAGE_GIVE_UP_MS) {
      log.warn(`gave up ${what.doing} after a day of outages`, { taskId: what.taskId });
      return 'GAVE_UP';
    }
    await sleep(waitMs);
  }
}
