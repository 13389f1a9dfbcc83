import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { initOrm, prepareDatabase } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { createStatsService } from '../../src/services/stats.service';
import { createTestApp, TEST_API_KEY, testEnv, type TestApp } from '../helpers/app';

type TaskStatus = 'ACTIVE' | 'INACTIVE' | 'FAILED';
type LogStatus = 'SUCCESS' | 'FAILED' | 'RETRYING';

const HOUR = 3_600_000;

/**
 * The counters span every row, and other test files write tasks and logs into the shared test
 * database (in parallel Jest workers, too), so this file gets a migrated database of its own on
 * the same PostgreSQL server and asserts exact numbers. Tasks are inserted with SQL: creating
 * them through the API would leave Temporal schedules whose tasks the shared database does not
 * know, and the reconciliation tests would see them as orphans.
 */
describe('dashboard stats on a database of its own', () => {
  const database = `dashboard_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  let t: TestApp;

  beforeAll(async () => {
    const url = new URL(testEnv().databaseUrl);
    url.pathname = `/${database}`;
    await prepareDatabase(url.toString(), createLogger({ level: 'silent' }));
    t = await createTestApp({ orm: await initOrm({ databaseUrl: url.toString(), poolMax: 4 }) });
  });
  afterAll(async () => {
    await t.close();
    const admin = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 1 });
    try {
      await admin.em.getConnection().execute(`drop database if exists "${database}" with (force)`);
    } finally {
      await admin.close();
    }
  });
  beforeEach(async () => {
    await sql('truncate tasks, task_logs');
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const sql = (query: string, params: unknown[] = []) =>
    t.orm.em.getConnection().execute(query, params);

  async function insertTask(status: TaskStatus): Promise<string> {
    const id = randomUUID();
    await sql(
      `insert into tasks (id, name, schedule, webhook_url, payload, status, created_at, updated_at)
       values (?, ?, '0 0 1 1 *', 'https://discord.com/api/webhooks/1/t', '{"content":"x"}', ?, now(), now())`,
      [id, `stats ${status}`, status],
    );
    return id;
  }

  async function insertLogs(taskId: string, status: LogStatus, executionTime: Date, count = 1) {
    for (let i = 0; i < count; i++) {
      await sql(
        `insert into task_logs (id, task_id, execution_time, status, retry_count, attempt, workflow_id, run_id, created_at)
         values (?, ?, ?, ?, 0, 1, ?, 'run', now())`,
        [randomUUID(), taskId, executionTime, status, `task-${taskId}-${randomUUID()}`],
      );
    }
  }

  const getStats = async () => {
    const res = await request(t.app).get('/api/dashboard/stats').set('X-API-Key', TEST_API_KEY);
    expect(res.status).toBe(200);
    return res.body as {
      tasks: Record<string, number>;
      executions: Record<string, number> & { last24h: Record<string, number> };
    };
  };

  it('when there are no tasks and no logs, then every counter is 0 and successRate is 0', async () => {
    expect(await getStats()).toEqual({
      tasks: { total: 0, active: 0, inactive: 0, failed: 0 },
      executions: {
        total: 0,
        success: 0,
        failed: 0,
        retrying: 0,
        successRate: 0,
        last24h: { success: 0, failed: 0, retrying: 0 },
      },
    });
  });

  it('when tasks and logs of every kind exist, then the counters match, last24h leaves older logs out, and successRate is success / (success + failed)', async () => {
    const active = [
      await insertTask('ACTIVE'),
      await insertTask('ACTIVE'),
      await insertTask('ACTIVE'),
    ];
    await insertTask('INACTIVE');
    await insertTask('INACTIVE');
    const failedTask = await insertTask('FAILED');
    const recent = new Date(Date.now() - HOUR);
    const older = new Date(Date.now() - 30 * HOUR);
    await insertLogs(active[0]!, 'SUCCESS', recent, 2);
    await insertLogs(active[1]!, 'RETRYING', recent, 1);
    await insertLogs(failedTask, 'FAILED', recent, 1);
    await insertLogs(active[2]!, 'SUCCESS', older, 3);
    await insertLogs(failedTask, 'FAILED', older, 1);
    await insertLogs(failedTask, 'RETRYING', older, 2);

    const stats = await getStats();
    expect(stats).toEqual({
      tasks: { total: 6, active: 3, inactive: 2, failed: 1 },
      executions: {
        total: 10,
        success: 5,
        failed: 2,
        retrying: 3,
        successRate: expect.any(Number),
        last24h: { success: 2, failed: 1, retrying: 1 },
      },
    });
    // RETRYING attempts are not finished deliveries: 5 / (5 + 2), not 5 / 10.
    expect(stats.executions.successRate).toBeCloseTo(5 / 7, 10);
  });

  it.each([
    ['only RETRYING attempts exist', 0, { RETRYING: 4 }],
    ['every finished delivery succeeded', 1, { SUCCESS: 3, RETRYING: 2 }],
    ['every finished delivery failed', 0, { FAILED: 2 }],
    ['one in four finished deliveries succeeded', 0.25, { SUCCESS: 1, FAILED: 3 }],
  ])('when %s, then successRate is %p', async (_case, rate, counts) => {
    const task = await insertTask('ACTIVE');
    for (const [status, count] of Object.entries(counts)) {
      await insertLogs(task, status as LogStatus, new Date(), count);
    }
    expect((await getStats()).executions.successRate).toBe(rate);
  });

  it('when a log is exactly 24 hours old, then last24h still counts it; a millisecond older, it does not', async () => {
    const now = new Date('2031-03-01T12:00:00.000Z');
    const stats = createStatsService({ orm: t.orm, now: () => now });
    const task = await insertTask('ACTIVE');
    await insertLogs(task, 'SUCCESS', new Date(now.getTime() - 24 * HOUR));
    await insertLogs(task, 'FAILED', new Date(now.getTime() - 24 * HOUR - 1));
    await insertLogs(task, 'RETRYING', new Date(now.getTime() - 1));

    const result = await stats.get();
    expect(result.executions.last24h).toEqual({ success: 1, failed: 0, retrying: 1 });
    expect(result.executions).toMatchObject({ total: 3, success: 1, failed: 1, retrying: 1 });
  });

  it('when the stats are computed, then it takes two SQL queries however many rows there are', async () => {
    const task = await insertTask('ACTIVE');
    await insertLogs(task, 'SUCCESS', new Date(), 5);
    const execute = jest.spyOn(t.orm.em.getConnection(), 'execute');
    await getStats();
    expect(execute).toHaveBeenCalledTimes(2);
  });

  it('when an unknown query parameter is sent, then 400 naming it', async () => {
    const res = await request(t.app)
      .get('/api/dashboard/stats?since=1d')
      .set('X-API-Key', TEST_API_KEY);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'query.since' })]);
  });

  it('when the API key is missing, then 401', async () => {
    expect((await request(t.app).get('/api/dashboard/stats')).status).toBe(401);
  });
});
