import { NotFoundError } from '../errors';
import type { ExecutionStatus } from '../db/entities';
import type { Orm } from '../db/orm';
import { createQueryRows, readPage, whereAll } from '../db/sql';
import { type LogResource, type LogRow, logColumns, toLogResource } from './log.mapper';
import { type Page, pageMeta } from './task.service';

export interface LogQuery {
  page: number;
  limit: number;
  status?: ExecutionStatus;
  /** Inclusive lower bound on the execution time. */
  from?: Date;
  /** Inclusive upper bound on the execution time (the contract says "at or before"). */
  to?: Date;
}

/**
 * Newest first. `execution_time desc` is served by the (…, execution_time desc) indexes; attempt
 * and id only break ties, so that pages neither repeat nor skip rows with equal times.
 */
const NEWEST_FIRST = 'l.execution_time desc, l.attempt desc, l.id desc';

/** Execution logs, read side: a page is one query, the logs joined to their task's name. */
export function createLogService(deps: { orm: Orm }) {
  const rowsOf = createQueryRows(deps.orm);

  async function findPage(query: LogQuery & { taskId?: string }): Promise<Page<LogResource>> {
    const filter = whereAll([
      query.taskId !== undefined && { sql: 'l.task_id = ?', params: [query.taskId] },
      query.status !== undefined && { sql: 'l.status = ?', params: [query.status] },
      query.from !== undefined && { sql: 'l.execution_time >= ?', params: [query.from] },
      query.to !== undefined && { sql: 'l.execution_time <= ?', params: [query.to] },
    ]);
    const { rows, total } = await readPage<LogRow & { task_name: string | null }>(rowsOf, {
      columns: `${logColumns('l')}, t.name as task_name`,
      from: 'task_logs l left join tasks t on t.id = l.task_id',
      // The total needs no join: every log has its task (foreign key).
      countFrom: 'task_logs l',
      filter,
      orderBy: NEWEST_FIRST,
      page: query.page,
      limit: query.limit,
    });
    return {
      data: rows.map((row) => toLogResource(row, row.task_name)),
      meta: pageMeta(query, total),
    };
  }

  return {
    /** A task's logs; 404 when the task does not exist. */
    async listForTask(taskId: string, query: LogQuery): Promise<Page<LogResource>> {
      const page = await findPage({ ...query, taskId });
      // A matching log proves the task exists (foreign key); only an empty result needs a look.
      if (page.meta.total === 0) {
        const found = await rowsOf<unknown>('select 1 from tasks where id = ?', [taskId]);
        if (found.length === 0) throw new NotFoundError(`Task ${taskId} does not exist.`);
      }
      return page;
    },

    /** All logs, optionally of one task (an unknown task id gives an empty page). */
    async list(query: LogQuery & { taskId?: string }): Promise<Page<LogResource>> {
      return findPage(query);
    },
  };
}

export type LogService = ReturnType<typeof createLogService>;
