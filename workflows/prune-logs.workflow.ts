import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PruneLogsInput, PruneLogsResult } from '../src/temporal/retention';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Pause between batches. A batch of 5,000 takes about 15 ms of PostgreSQL; pausing about as long
 * again leaves the database to deliveries half the time. Without it, 100 deliveries during the
 * prune of a million rows were 1.52x slower at the median (bench/scale.ts, 2 cores); the prune
 * itself stays far under a minute.
 */
const PAUSE_BETWEEN_BATCHES_MS = 20;

// Heartbeats after every batch (a second or less each): a worker that dies mid-prune is noticed
// within a minute and another one continues from the last heartbeat.
const { pruneLogs: deleteOldLogs } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '10s', maximumInterval: '5m', maximumAttempts: 10 },
});

/**
 * Started daily by the `system-prune-logs` schedule: deletes the execution logs older than the
 * retention, in batches. The cut-off is fixed here, from the workflow's clock, so retries of the
 * activity delete against the same instant. retentionDays 0 keeps every log.
 */
export async function pruneLogs(input: PruneLogsInput): Promise<PruneLogsResult> {
  if (input.retentionDays === 0) {
    log.info('LOG_RETENTION_DAYS is 0: every log is kept');
    return { deleted: 0, batches: 0, durationMs: 0, before: null };
  }
  const before = new Date(Date.now() - input.retentionDays * DAY_MS).toISOString();
  return deleteOldLogs({ before, batchSize: input.batchSize, pauseMs: PAUSE_BETWEEN_BATCHES_MS });
}
