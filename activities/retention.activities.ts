import { Context, log } from '@temporalio/activity';
import { IDEMPOTENCY_WINDOW_HOURS } from '../src/services/idempotency.service';
import type { Orm } from '../src/db/orm';
import type { LogPruneMetrics } from '../src/metrics';
import type { PruneLogsActivityInput, PruneLogsResult } from '../src/temporal/retention';

export interface RetentionActivityDeps {
  orm: Orm;
  metrics?: LogPruneMetrics;
}

/** What a prune has done so far; heartbeated, so that a retried activity goes on from there. */
interface Progress {
  deleted: number;
  batches: number;
  /**
   * The execution time of the newest row deleted so far (ISO, microseconds): every older row is
   * gone, so the next batch starts its index range here instead of stepping over the index
   * entries of the rows already deleted (which stay until vacuum), a cost that would grow with
   * every batch.
   */
  after?: string;
}

/**
 * The log retention (SPEC §12): deletes the logs that started before a cut-off, oldest first,
 * `batchSize` rows per statement. Each batch is its own short transaction: it picks its rows by
 * ctid along the execution_time index (a range that begins where the previous batch ended) and
 * deletes them by TID, so no lock is held across batches and new rows (which deliveries write, at
 * the other end of the index) are never touched. A heartbeat after each batch carries the
 * progress; a retry continues from it.
 */
export function createRetentionActivities(deps: RetentionActivityDeps) {
  const { orm, metrics } = deps;

  async function deleteBatch(
    before: Date,
    after: string | undefined,
    batchSize: number,
  ): Promise<{ picked: number; deleted: number; last: string | null }> {
    const [row] = await orm.em
      .fork()
      .getConnection()
      .execute<{ picked: number; deleted: number; last: string | null }[]>(
        `with doomed as materialized (
         select ctid, execution_time from task_logs
         where execution_time < ? ${after ? 'and execution_time >= ?::timestamptz' : ''}
         order by execution_time limit ?),
       gone as (
         delete from task_logs where ctid = any(array(select ctid from doomed)) returning 1)
       select (select count(*) from doomed)::int as picked,
              (select count(*) from gone)::int as deleted,
              (select to_char(max(execution_time) at time zone 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') from doomed) as last`,
        after ? [before, after, batchSize] : [before, batchSize],
      );
    return { picked: row?.picked ?? 0, deleted: row?.deleted ?? 0, last: row?.last ?? null };
  }

  return {
    async pruneLogs(input: PruneLogsActivityInput): Promise<PruneLogsResult> {
      const context = Context.current();
      const before = new Date(input.before);
      const started = Date.now();
      const progress: Progress = {
        deleted: 0,
        batches: 0,
        ...(context.info.heartbeatDetails as Progress | undefined),
      };
      try {
        for (;;) {
          const { picked, deleted, last } = await deleteBatch(
            before,
            progress.after,
            input.batchSize,
          );
          if (last) progress.after = last;
          progress.deleted += deleted;
          progress.batches += 1;
          metrics?.deletedRows.inc(deleted);
          metrics?.batches.inc();
          context.heartbeat({ ...progress });
          // Fewer rows than a batch were left (rows a task's deletion took meanwhile do not count).
          if (picked < input.batchSize) break;
          if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
          if (input.pauseMs) await context.sleep(input.pauseMs);
        }
      } catch (error) {
        metrics?.duration.observe({ outcome: 'failed' }, (Date.now() - started) / 1000);
        log.warn('log prune interrupted; a retry continues it', {
          ...progress,
          before: input.before,
          error: error instanceof Error ? error.message : String(error),
        });
        throw error;
      }
      // Idempotency keys are kept 24 hours (SPEC §14); pruned here, with the logs.
      await orm.em
        .fork()
        .getConnection()
        .execute(
          `delete from idempotency_keys where created_at < now() - interval '${IDEMPOTENCY_WINDOW_HOURS} hours'`,
        );
      // The hours wholly before the cut-off hold no rows any more: their counters (zeros, spread
      // over shards) go too, so the counter table stays as small as the retention.
      await orm.em
        .fork()
        .getConnection()
        .execute(
          `delete from log_counts_hourly where hour < date_trunc('hour', ?::timestamptz, 'UTC')`,
          [before],
        );
      const durationMs = Date.now() - started;
      metrics?.duration.observe({ outcome: 'completed' }, durationMs / 1000);
      metrics?.lastCompleted.set(Date.now() / 1000);
      const { deleted, batches } = progress;
      log.info('logs pruned', { deleted, batches, durationMs, before: input.before });
      return { deleted, batches, durationMs, before: input.before };
    },
  };
}
