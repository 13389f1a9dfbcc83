import type { Orm } from '../db/orm';

export interface DashboardStats {
  tasks: { total: number; active: number; inactive: number; failed: number };
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

const DAY_MS = 24 * 60 * 60 * 1000;

const TASK_COUNTS = `
  select count(*) as total,
         count(*) filter (where status = 'ACTIVE') as active,
         count(*) filter (where status = 'INACTIVE') as inactive,
         count(*) filter (where status = 'FAILED') as failed
  from tasks`;

const EXECUTION_COUNTS = `
  select count(*) as total,
         count(*) filter (where status = 'SUCCESS') as success,
         count(*) filter (where status = 'FAILED') as failed,
         count(*) filter (where status = 'RETRYING') as retrying,
         count(*) filter (where status = 'SUCCESS' and execution_time >= ?) as success_24h,
         count(*) filter (where status = 'FAILED' and execution_time >= ?) as failed_24h,
         count(*) filter (where status = 'RETRYING' and execution_time >= ?) as retrying_24h
  from task_logs`;

/** PostgreSQL's count() is a bigint, which the driver returns as a string. */
type CountRow = Record<string, string | number | null | undefined>;

/** Dashboard counters: two aggregate queries (tasks, logs), run side by side. */
export function createStatsService(deps: { orm: Orm; now?: () => Date }) {
  const { orm } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    async get(): Promise<DashboardStats> {
      const connection = orm.em.getConnection();
      const since = new Date(now().getTime() - DAY_MS);
      const [taskRows, logRows] = await Promise.all([
        connection.execute<CountRow[]>(TASK_COUNTS),
        connection.execute<CountRow[]>(EXECUTION_COUNTS, [since, since, since]),
      ]);
      const tasks = counter(taskRows[0]);
      const logs = counter(logRows[0]);
      const success = logs('success');
      const failed = logs('failed');
      return {
        tasks: {
          total: tasks('total'),
          active: tasks('active'),
          inactive: tasks('inactive'),
          failed: tasks('failed'),
        },
        executions: {
          total: logs('total'),
          success,
          failed,
          retrying: logs('retrying'),
          successRate: success + failed === 0 ? 0 : success / (success + failed),
          last24h: {
            success: logs('success_24h'),
            failed: logs('failed_24h'),
            retrying: logs('retrying_24h'),
          },
        },
      };
    },
  };
}

export type StatsService = ReturnType<typeof createStatsService>;

function counter(row: CountRow | undefined): (column: string) => number {
  return (column) => Number(row?.[column] ?? 0);
}
