import { NotFoundError, ValidationError } from '../errors';
import type { ExecutionStatus } from '../db/entities';
import type { Orm } from '../db/orm';
import { createPageTotals, createQueryRows, whereAll } from '../db/sql';

export { EXACT_TOTAL_LIMIT } from '../db/sql';
import { type LogResource, type LogRow, logColumns, toLogResource } from './log.mapper';
import type { Page } from './task.service';

export interface LogQuery {
  page: number;
  limit: number;
  /** From `meta.nextCursor`: the page starts after this row (and `page` is not used). */
  cursor?: LogCursor;
  status?: ExecutionStatus;
  /** Inclusive lower bound on the execution time. */
  from?: Date;
  /** Inclusive upper bound on the execution time (the contract says "at or before"). */
  to?: Date;
}

export interface LogPage extends Page<LogResource> {
  meta: Page<LogResource>['meta'] & {
    /** true when `total` (and so `totalPages`) is an estimate: more than EXACT_TOTAL_LIMIT rows match. */
    totalIsEstimate: boolean;
    /** The cursor of the next page, or null when this page holds the last matching row. */
    nextCursor: string | null;
  };
}

/** A position in the newest-first order: the last row of a page. */
export interface LogCursor {
  /** execution_time as ISO 8601 UTC with microseconds, PostgreSQL's own precision. */
  time: string;
  attempt: number;
  id: string;
}

/**
 * Newest first. Served by the (…, execution_time desc, attempt desc, id desc) indexes, overall,
 * per task and per status; attempt and id only break ties, so that pages neither repeat nor skip
 * rows with equal times, and a cursor is one index range scan however deep it points.
 */
const NEWEST_FIRST = 'l.execution_time desc, l.attempt desc, l.id desc';

/** A timestamptz as text that converts back to the same value: microseconds, UTC. */
const exactTime = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const CURSOR_TEXT =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})Z_(\d{1,10})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function encodeLogCursor(cursor: LogCursor): string {
  return Buffer.from(`${cursor.time}_${cursor.attempt}_${cursor.id}`).toString('base64url');
}

/** The cursor a client sent; a ValidationError naming `query.cursor` when it is not one of ours. */
export function decodeLogCursor(text: string): LogCursor {
  const invalid = () =>
    new ValidationError('The request is invalid; see errors.', [
      { path: 'query.cursor', message: 'must be a meta.nextCursor value from an earlier page' },
    ]);
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) throw invalid();
  const decoded = Buffer.from(text, 'base64url').toString('latin1');
  const match = CURSOR_TEXT.exec(decoded);
  if (!match) throw invalid();
  const [, seconds, fraction, attempt, id] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  // A calendar time that exists (JavaScript would roll 02-30 over; PostgreSQL would refuse it)
  // in years 1-9999, and an attempt that fits PostgreSQL's int.
  const date = new Date(`${seconds}Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 19) !== seconds) throw invalid();
  if (seconds.startsWith('0000') || Number(attempt) > 2_147_483_647) throw invalid();
  return { time: `${seconds}.${fraction}Z`, attempt: Number(attempt), id };
}

/** Execution logs, read side: a page is one query, the logs joined to their task's name. */
export function createLogService(deps: { orm: Orm }) {
  const rowsOf = createQueryRows(deps.orm);
  const totals = createPageTotals('task_logs', 'l');

  async function findPage(query: LogQuery & { taskId?: string }): Promise<LogPage> {
    const filter = whereAll([
      query.taskId !== undefined && { sql: 'l.task_id = ?', params: [query.taskId] },
      query.status !== undefined && { sql: 'l.status = ?', params: [query.status] },
      query.from !== undefined && { sql: 'l.execution_time >= ?', params: [query.from] },
      query.to !== undefined && { sql: 'l.execution_time <= ?', params: [query.to] },
    ]);
    const after = query.cursor && {
      sql: `(l.execution_time, l.attempt, l.id) < (?::timestamptz, ?::int, ?::uuid)`,
      params: [query.cursor.time, query.cursor.attempt, query.cursor.id],
    };
    const pageFilter = whereAll([
      filter.sql !== '' && { sql: filter.sql.slice('where '.length), params: filter.params },
      after,
    ]);
    const offset = query.cursor ? 0 : (query.page - 1) * query.limit;
    const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
    if (!whole(query.page - 1) || !whole(query.limit - 1) || !whole(offset)) {
      throw new RangeError(`page ${query.page} of ${query.limit} rows is not a page to read`);
    }
    const total = totals.plan(filter);
    // One row more than the page: whether it exists decides nextCursor.
    const rows = await rowsOf<
      LogRow & { task_name: string | null; cursor_time: string; total: string | null }
    >(
      `select ${logColumns('l')}, t.name as task_name, ${exactTime('l.execution_time')} as cursor_time,
         (${total.sql}) as total
       from task_logs l left join tasks t on t.id = l.task_id
       ${pageFilter.sql}
       order by ${NEWEST_FIRST} limit ? offset ?`,
      [...total.params, ...pageFilter.params, query.limit + 1, offset],
    );
    const { total: totalRows, estimated } = await totals.settle(rowsOf, total, rows[0]?.total);
    const more = rows.length > query.limit;
    const data = rows.slice(0, query.limit);
    const last = data[data.length - 1];
    return {
      data: data.map((row) => toLogResource(row, row.task_name)),
      meta: {
        page: query.page,
        limit: query.limit,
        total: totalRows,
        totalPages: Math.ceil(totalRows / query.limit),
        totalIsEstimate: estimated,
        nextCursor:
          more && last
            ? encodeLogCursor({
                time: last.cursor_time,
                attempt: last.attempt,
                id: last.id,
              })
            : null,
      },
    };
  }

  return {
    /** A task's logs; 404 when the task does not exist. */
    async listForTask(taskId: string, query: LogQuery): Promise<LogPage> {
      const page = await findPage({ ...query, taskId });
      // A matching log proves the task exists (foreign key); only an empty result needs a look.
      if (page.meta.total === 0) {
        const found = await rowsOf<unknown>('select 1 from tasks where id = ?', [taskId]);
        if (found.length === 0) throw new NotFoundError(`Task ${taskId} does not exist.`);
      }
      return page;
    },

    /** All logs, optionally of one task (an unknown task id gives an empty page). */
    async list(query: LogQuery & { taskId?: string }): Promise<LogPage> {
      return findPage(query);
    },
  };
}

export type LogService = ReturnType<typeof createLogService>;
