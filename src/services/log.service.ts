import { NotFoundError } from '../api/errors';
import type { ExecutionStatus } from '../db/entities';
import type { Orm } from '../db/orm';
import { createQueryRows, type SqlFilter, whereAll } from '../db/sql';
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

/**
 * Execution logs, read side. A page is one query: the logs joined to their task's name, with the
 * filter's total as an uncorrelated subquery (PostgreSQL computes it once). Only a page past the
 * end, which has no row to carry the total, costs a second query.
 */
export function createLogService(deps: { orm: Orm }) {
  const rowsOf = createQueryRows(deps.orm);

  async function findPage(query: LogQuery & { taskId?: string }): Promise<Page<LogResource>> {
    const filter = whereAll([
      query.taskId !== undefined && { sql: 'l.task_id = ?', params: [query.taskId] },
      query.status !== undefined && { sql: 'l.status = ?', params: [query.status] },
      query.from !== undefined && { sql: 'l.execution_time >= ?', params: [query.from] },
      query.to !== undefined && { sql: 'l.execution_time <= ?', params: [query.to] },
    ]);
    const rows = await rowsOf<LogRow & { task_name: string | null; total: number }>(
      `select ${logColumns('l')}, t.name as task_name, (${countSql(filter)}) as total
       from task_logs l left join tasks t on t.id = l.task_id
       ${filter.sql}
       order by ${NEWEST_FIRST}
       limit ? offset ?`,
      [...filter.params, ...filter.params, query.limit, (query.page - 1) * query.limit],
    );
    const total = rows[0]?.total ?? (await count(filter));
    return {
      data: rows.map((row) => toLogResource(row, row.task_name)),
      meta: pageMeta(query, total),
    };
  }

  async function count(filter: SqlFilter): Promise<number> {
    const [row] = await rowsOf<{ total: number }>(countSql(filter), filter.params);
    return row?.total ?? 0;
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

function countSql(filter: SqlFilter): string {
  return `select count(*)::int as total from task_logs l ${filter.sql}`;
}

export type LogService = ReturnType<typeof createLogService>;
