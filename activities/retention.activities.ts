import { Context, log } from '@temporalio/activity';
import type { Orm } from '../src/db/orm';
import type { LogPruneMetrics } from '../src/metrics';
import type { PruneLogsActivityInput, PruneLogsResult } from '../src/temporal/retention';

export interface RetentionActivityDeps {
  orm: Orm;
  metrics?: LogPruneMetrics;
}

/** What a prune has done so far; heartbeated, so that a retried activity reports the whole run. */
interface Progress {
  deleted: number;
  batches: number;
}

/**
 * The log retention (SPEC §12): deletes the logs that started before a cut-off, `batchSize` rows
 * per statement. Each batch is its own short transaction picking rows by ctid along the
 * execution_time index, so no lock is held across batches and new rows (which deliveries write,
 * at the other end of the index) are never touched. A heartbeat after each batch carries the
 * progress; a retry continues from it.
 */
export function createRetentionActivities(deps: RetentionActivityDeps) {
  const { orm, metrics } = deps;

  async function deleteBatch(before: Date, batchSize: number): Promise<number> {
    const result = await orm.em
      .fork()
      .getConnection()
      .execute<{ affectedRows: number }>(
        `delete from task_logs where ctid = any(array(
         select ctid from task_logs where execution_time < ? limit ?))`,
        [before, batchSize],
        'run',
      );
    return result.affectedRows;
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
          const deleted = await deleteBatch(before, input.batchSize);
          progress.deleted += deleted;
          progress.batches += 1;
          metrics?.deletedRows.inc(deleted);
          metrics?.batches.inc();
          context.heartbeat({ ...progress });
          if (deleted < input.batchSize) break;
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
      const durationMs = Date.now() - started;
      metrics?.duration.observe({ outcome: 'completed' }, durationMs / 1000);
      metrics?.lastCompleted.set(Date.now() / 1000);
      log.info('logs pruned', { ...progress, durationMs, before: input.before });
      return { ...progress, durationMs, before: input.before };
    },
  };
}
