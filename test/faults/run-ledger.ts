import type { RecordedRequest } from '../helpers/mock-discord';

/**
 * What a fault test counts for one `@every` task: the runs that fell due, the deliveries the mock
 * Discord received (each names its run: the payload renders {{execution.scheduledTime}}), and the
 * rows the product logged; and whether the missed-run policy of SPEC §6 held around an outage.
 */
export interface TaskLedger {
  taskId: string;
  /** Runs due from the first one to the cut-off. */
  due: number;
  /** Requests the mock received for runs due up to the cut-off. */
  delivered: number;
  /** Delivered more than once (same scheduled time). */
  duplicates: number;
  /** SUCCESS rows for runs due up to the cut-off. */
  logged: number;
  /** Due from the last delivery before the outage until deliveries resumed: the missed runs. */
  missed: number;
  /** Of the missed runs, how many were delivered (the policy: exactly one, the latest). */
  missedDelivered: number;
  /** Whether the one missed run delivered is the latest of them. */
  latestMissedDelivered: boolean;
  /** Due before the outage or after delivery resumed, and never delivered (the policy: none). */
  lostOutsideOutage: number;
}

export function ledgerFor(options: {
  taskId: string;
  periodMs: number;
  /** The first run that fell due after the task was created. */
  firstDueMs: number;
  /** Runs due after this are not counted (their delivery may still be on its way). */
  cutOffMs: number;
  outageStartMs: number;
  /** When the product could work again (the dependency was back). */
  recoveredMs: number;
  requests: RecordedRequest[];
  /** Scheduled times (ms) of the task's SUCCESS rows. */
  successRows: number[];
}): TaskLedger {
  const { periodMs, firstDueMs, cutOffMs, outageStartMs, recoveredMs } = options;
  const dueTimes: number[] = [];
  for (let t = firstDueMs; t <= cutOffMs; t += periodMs) dueTimes.push(t);

  const deliveries = options.requests.map((request) => ({
    scheduled: scheduledTimeOf(request),
    receivedAt: request.receivedAt.getTime(),
  }));
  const counted = deliveries.filter((d) => d.scheduled >= firstDueMs && d.scheduled <= cutOffMs);
  const delivered = new Set(counted.map((d) => d.scheduled));

  const beforeOutage = deliveries
    .filter((d) => d.receivedAt < outageStartMs)
    .map((d) => d.scheduled);
  const lastBefore = beforeOutage.length > 0 ? Math.max(...beforeOutage) : firstDueMs - periodMs;
  const afterRecovery = deliveries
    .filter((d) => d.receivedAt >= recoveredMs)
    .map((d) => d.receivedAt);
  const resumedMs = afterRecovery.length > 0 ? Math.min(...afterRecovery) : cutOffMs;

  const missedTimes = dueTimes.filter((t) => t > lastBefore && t <= resumedMs);
  const missedDelivered = missedTimes.filter((t) => delivered.has(t));
  const outside = dueTimes.filter((t) => t <= lastBefore || t > resumedMs);

  return {
    taskId: options.taskId,
    due: dueTimes.length,
    delivered: counted.length,
    duplicates: counted.length - delivered.size,
    logged: options.successRows.filter((t) => t >= firstDueMs && t <= cutOffMs).length,
    missed: missedTimes.length,
    missedDelivered: missedDelivered.length,
    latestMissedDelivered:
      missedDelivered.length === 1 && missedDelivered[0] === Math.max(...missedTimes),
    lostOutsideOutage: outside.filter((t) => !delivered.has(t)).length,
  };
}

/** The run a delivery was for: the payload is `run {{execution.scheduledTime}}`. */
export function scheduledTimeOf(request: RecordedRequest): number {
  const content = (request.body as { content?: string } | null)?.content ?? '';
  const match = /run (\S+)/.exec(content);
  if (!match) throw new Error(`a delivery without its run's time: ${content}`);
  return Date.parse(match[1] as string);
}

/** Sums of the per-task figures, for the printed summary. */
export function totals(ledgers: TaskLedger[]) {
  const sum = (key: keyof TaskLedger) => ledgers.reduce((n, l) => n + Number(l[key]), 0);
  return {
    tasks: ledgers.length,
    due: sum('due'),
    delivered: sum('delivered'),
    logged: sum('logged'),
    duplicates: sum('duplicates'),
    missed: sum('missed'),
    missedDelivered: sum('missedDelivered'),
    lostOutsideOutage: sum('lostOutsideOutage'),
  };
}

/**
 * SPEC §6's missed-run policy, per task: no run delivered twice, one row per delivery, of the runs
 * missed during the outage exactly one (the latest) delivered, and none lost outside it.
 */
export function expectMissedRunPolicy(ledgers: TaskLedger[]): void {
  for (const ledger of ledgers) {
    expect({
      taskId: ledger.taskId,
      duplicates: ledger.duplicates,
      loggedEqualsDelivered: ledger.logged === ledger.delivered,
      missedDelivered: ledger.missedDelivered,
      latestMissedDelivered: ledger.latestMissedDelivered,
      lostOutsideOutage: ledger.lostOutsideOutage,
    }).toEqual({
      taskId: ledger.taskId,
      duplicates: 0,
      loggedEqualsDelivered: true,
      missedDelivered: 1,
      latestMissedDelivered: true,
      lostOutsideOutage: 0,
    });
  }
}
