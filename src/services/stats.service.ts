import { createCoalescer } from '../concurrency';
import type { Orm } from '../db/orm';
import { createQueryRows, isoTimestamp } from '../db/sql';

export interface DashboardStats {
  tasks: { total: number; active: number; inactive: number; failed: number; completed: number };
  executions: {
    total: number;
    success: number;
    failed: number;
    retrying: number;
    /** success / (success + failed): RETRYING attempts have a successor; 0 when none finished. */
    successRate: number;
    last24h: { success: number; failed: number; retrying: number };
  };
}

/** Attempts that started in one UTC hour, by outcome. */
export interface HourlyAttempts {
  /** ISO 8601 start of the UTC hour. */
  hour: string;
  success: number;
  failed: number;
  retrying: number;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** The most hours GET /api/dashboard/timeseries returns (a week). */
export const MAX_TIMESERIES_HOURS = 168;

const TASK_COUNTS = `
  select count(*) as total,
         count(*) filter (where status = 'ACTIVE') as active,
         count(*) filter (where status = 'INACTIVE') as inactive,
         count(*) filter (where status = 'FAILED') as failed,
         count(*) filter (where status = 'COMPLETED') as completed
  from tasks`;

const byStatus = (column: string, where = '') => `
         coalesce(sum(${column}) filter (where status = 'SUCCESS' ${where}), 0) as success,
         coalesce(sum(${column}) filter (where status = 'FAILED' ${where}), 0) as failed,
         coalesce(sum(${column}) filter (where status = 'RETRYING' ${where}), 0) as retrying`;

/**
 * Every count from the counters the task_logs triggers keep (migrations/Migration20261201171627):
 * all-time totals, and the last 24 hours as the whole hours after the window's start plus the
 * partial first hour counted from the logs themselves, so the window stays exact to the
 * millisecond while reading at most one hour of rows. Each source is a handful of rows whatever
 * the size of task_logs.
 */
const EXECUTION_COUNTS = `
  select ${byStatus('attempts')},
         (select row_to_json(h) from (select ${byStatus('attempts')}
            from log_counts_hourly where hour >= ?) h) as whole_hours,
         (select row_to_json(p) from (select ${partialHour('SUCCESS')} as success,
            ${partialHour('FAILED')} as failed, ${partialHour('RETRYING')} as retrying) p) as first_hour
  from log_counts_total`;

/** One status's logs in [?, ?): an index-only range of the (status, execution_time …) index. */
function partialHour(status: string): string {
  return `(select count(*) from task_logs
            where status = '${status}' and execution_time >= ? and execution_time < ?)`;
}

/** The hours' counters, summed over shards, then every hour of the range, zeros included. */
const TIMESERIES = `
  select ${isoTimestamp('h.hour')} as hour,
         coalesce(c.success, 0) as success, coalesce(c.failed, 0) as failed,
         coalesce(c.retrying, 0) as retrying
  from generate_series(?::timestamptz, ?::timestamptz, interval '1 hour') as h(hour)
  left join (select hour, ${byStatus('attempts')}
             from log_counts_hourly where hour >= ? and hour <= ? group by hour) c
    on c.hour = h.hour
  order by h.hour`;

/** PostgreSQL's count() and sum() are bigint/numeric, which the driver returns as strings. */
type CountRow = Record<string, unknown>;

/** Dashboard counters: the tasks table and the attempt counters, never a scan of the logs. */
export function createStatsService(deps: { orm: Orm; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  // Named prepared statements: each query text is planned once per connection, not per request.
  const rowsOf = createQueryRows(deps.orm);
  // Dashboards poll these global figures, many at once: concurrent calls share one read per round
  // (read-your-writes kept; see createCoalescer): 32 at once cost two rounds of queries, not 32.
  const sharedStats = createCoalescer<DashboardStats>();
  const sharedHours = createCoalescer<HourlyAttempts[]>();

  return {
    get(): Promise<DashboardStats> {
      return sharedStats('stats', readStats);
    },

    /**
     * Attempts per UTC hour for the last `hours` hours, oldest first, the current hour last, hours
     * without attempts as zeros.
     */
    async timeseries(hours: number): Promise<HourlyAttempts[]> {
      if (!Number.isInteger(hours) || hours < 1 || hours > MAX_TIMESERIES_HOURS) {
        throw new RangeError(`hours must be an integer from 1 to ${MAX_TIMESERIES_HOURS}`);
      }
      return sharedHours(String(hours), () => readTimeseries(hours));
    },
  };

  async function readStats(): Promise<DashboardStats> {
    const since = new Date(now().getTime() - DAY_MS);
    const firstWholeHour = new Date(startOfHour(since).getTime() + HOUR_MS);
    const [taskRows, logRows] = await Promise.all([
      rowsOf<CountRow>(TASK_COUNTS),
      rowsOf<CountRow>(EXECUTION_COUNTS, [
        firstWholeHour,
        ...[since, firstWholeHour, since, firstWholeHour, since, firstWholeHour],
      ]),
    ]);
    const tasks = counter(taskRows[0]);
    const logs = counter(logRows[0]);
    const wholeHours = counter(logRows[0]?.whole_hours as CountRow | undefined);
    const firstHour = counter(logRows[0]?.first_hour as CountRow | undefined);
    const last24h = (status: string) => wholeHours(status) + firstHour(status);
    const success = logs('success');
    const failed = logs('failed');
    const retrying = logs('retrying');
    return {
      tasks: {
        total: tasks('total'),
        active: tasks('active'),
        inactive: tasks('inactive'),
        failed: tasks('failed'),
        completed: tasks('completed'),
      },
      executions: {
        total: success + failed + retrying,
        success,
        failed,
        retrying,
        successRate: success + failed === 0 ? 0 : success / (success + failed),
        last24h: {
          success: last24h('success'),
          failed: last24h('failed'),
          retrying: last24h('retrying'),
        },
      },
    };
  }

  async function readTimeseries(hours: number): Promise<HourlyAttempts[]> {
    const last = startOfHour(now());
    const first = new Date(last.getTime() - (hours - 1) * HOUR_MS);
    const rows = await rowsOf<CountRow>(TIMESERIES, [first, last, first, last]);
    return rows.map((row) => {
      const count = counter(row);
      return {
        hour: String(row.hour),
        success: count('success'),
        failed: count('failed'),
        retrying: count('retrying'),
      };
    });
  }
}

export type StatsService = ReturnType<typeof createStatsService>;

function startOfHour(date: Date): Date {
  return new Date(Math.floor(date.getTime() / HOUR_MS) * HOUR_MS);
}

function counter(row: CountRow | undefined): (column: string) => number {
  return (column) => Number(row?.[column] ?? 0);
}
