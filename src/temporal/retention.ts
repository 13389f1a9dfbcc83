import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleOptions,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import type { Logger } from '../logger';

/**
 * The log retention's Temporal side (SPEC §12): one schedule of the system's own, whatever the
 * number of replicas, starts the pruneLogs workflow daily. Reconciliation manages only `task-*`
 * schedules, so it never sees this one as an orphan.
 */
export const PRUNE_LOGS_SCHEDULE_ID = 'system-prune-logs';

/** Workflow type of the daily prune (the workflow function's name). */
export const PRUNE_LOGS_WORKFLOW = 'pruneLogs';

/** When the prune runs: daily at 03:17 UTC, off the hour when schedules crowd. */
export const PRUNE_LOGS_AT = { hour: 3, minute: 17 } as const;

export interface PruneLogsInput {
  /** Logs whose execution time is older than this many days go; 0 keeps every log. */
  retentionDays: number;
  /** Rows per DELETE: one short transaction each, so no lock is held for long. */
  batchSize: number;
}

export interface PruneLogsActivityInput {
  /** ISO 8601: logs that started before this instant go. Fixed by the workflow, so a retry of the activity deletes against the same cut-off. */
  before: string;
  batchSize: number;
  /** Pause between batches, ms (default 0): leaves the database to deliveries in between. */
  pauseMs?: number;
}

export interface PruneLogsResult {
  deleted: number;
  batches: number;
  durationMs: number;
  /** The cut-off used, ISO 8601; null when the retention keeps everything. */
  before: string | null;
}

/** The schedule the configuration describes. */
export function pruneLogsSchedule(settings: {
  taskQueue: string;
  retentionDays: number;
  batchSize: number;
}): ScheduleOptions {
  const input: PruneLogsInput = {
    retentionDays: settings.retentionDays,
    batchSize: settings.batchSize,
  };
  return {
    scheduleId: PRUNE_LOGS_SCHEDULE_ID,
    spec: { calendars: [{ ...PRUNE_LOGS_AT }], timezone: 'UTC' },
    action: {
      type: 'startWorkflow',
      workflowType: PRUNE_LOGS_WORKFLOW,
      workflowId: PRUNE_LOGS_SCHEDULE_ID,
      taskQueue: settings.taskQueue,
      args: [input],
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      // A run missed while the system was down is worth running when it is back, within the day.
      catchupWindow: '1h',
      pauseOnFailure: false,
    },
    state: {
      note:
        settings.retentionDays === 0
          ? 'log prune: LOG_RETENTION_DAYS=0 keeps every log (the run deletes nothing)'
          : `log prune: deletes logs older than ${settings.retentionDays} days (LOG_RETENTION_DAYS)`,
    },
  };
}

/**
 * Creates the prune schedule, or brings an existing one to the configuration (every process that
 * starts the API calls this; two at once both succeed, and one schedule exists). The last process
 * to start decides the retention when replicas disagree.
 */
export async function ensurePruneLogsSchedule(deps: {
  client: Client;
  taskQueue: string;
  retentionDays: number;
  batchSize: number;
  logger: Logger;
  /** Gives up (the calls fail) when aborted: a shutdown does not wait on a Temporal that is down. */
  signal?: AbortSignal;
}): Promise<'created' | 'updated'> {
  const signal = deps.signal ?? new AbortController().signal;
  const outcome = await deps.client.connection.withAbortSignal(signal, () => upsert(deps));
  deps.logger.info(
    { scheduleId: PRUNE_LOGS_SCHEDULE_ID, retentionDays: deps.retentionDays, outcome },
    'log prune schedule ready',
  );
  return outcome;
}

async function upsert(deps: {
  client: Client;
  taskQueue: string;
  retentionDays: number;
  batchSize: number;
}): Promise<'created' | 'updated'> {
  const options = pruneLogsSchedule(deps);
  let outcome: 'created' | 'updated';
  try {
    await deps.client.schedule.create(options);
    outcome = 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    const { spec, action, policies, state } = options;
    await deps.client.schedule.getHandle(PRUNE_LOGS_SCHEDULE_ID).update((previous) => ({
      spec,
      action,
      policies,
      // An operator's pause (Temporal Web UI) outlives restarts.
      state: { note: state?.note, paused: previous.state.paused },
    }));
    outcome = 'updated';
  }
  return outcome;
}
