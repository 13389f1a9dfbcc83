import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { initOrm, prepareDatabase } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRetentionActivities } from '../../activities/retention.activities';
import { createStatsService } from '../../src/services/stats.service';
import { createTestApp, TEST_API_KEY, testEnv, type TestApp } from '../helpers/app';

type TaskStatus = 'ACTIVE' | 'INACTIVE' | 'FAILED' | 'COMPLETED';
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
    // The counters are kept by triggers on insert; truncate fires none, so they go too.
    await sql('truncate tasks, task_logs, log_counts_hourly, log_counts_total');
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
      tasks: { total: 0, active: 0, inactive: 0, failed: 0, completed: 0 },
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
    await insertTask('COMPLETED');
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
      tasks: { total: 7, active: 3, inactive: 2, failed: 1, completed: 1 },
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

  it('when many dashboards read at once, then their reads are shared and each still sees every write made before it asked', async () => {
    const service = createStatsService({ orm: t.orm });
    // Readers that never stop while the test writes: their rounds are in flight at every write.
    let reading = true;
    let background = 0;
    const readers = Array.from({ length: 8 }, async () => {
      while (reading) {
        await service.get();
        background += 1;
      }
    });
    const reads: Promise<unknown>[] = [];
    for (let written = 1; written <= 15; written++) {
      const taskId = await insertTask('ACTIVE');
      await insertLogs(taskId, 'SUCCESS', new Date());
      // Asked after the write committed: a read that started before it would miss it.
      const concurrent = Array.from({ length: 4 }, () => service.get());
      for (const stats of await Promise.all(concurrent)) {
        expect(stats.tasks.total).toBe(written);
        expect(stats.executions.last24h.success).toBe(written);
      }
      reads.push(...concurrent);
    }
    reading = false;
    await Promise.all(readers);
    expect(background).toBeGreaterThan(0);
    expect(reads).toHaveLength(60);
  });

  it('when 32 reads come together, then PostgreSQL answers at most two rounds of queries', async () => {
    const service = createStatsService({ orm: t.orm });
    const pg = (t.orm.em.getConnection() as unknown as { getKnex(): { client: object } }).getKnex()
      .client as { acquireConnection(): Promise<unknown> };
    const acquire = jest.spyOn(pg, 'acquireConnection');
    const answers = await Promise.all(Array.from({ length: 32 }, () => service.get()));
    // One round for the first call, one for the 31 that came while it ran; two queries each.
    expect(acquire.mock.calls.length).toBeLessThanOrEqual(4);
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);

    acquire.mockClear();
    const series = await Promise.all(
      Array.from({ length: 32 }, (_, i) => service.timeseries(i % 2 ? 24 : 168)),
    );
    // Per number of hours: at most two rounds of one query.
    expect(acquire.mock.calls.length).toBeLessThanOrEqual(4);
    expect(series.map((hours) => hours.length)).toEqual(
      Array.from({ length: 32 }, (_, i) => (i % 2 ? 24 : 168)),
    );
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
    // Every read query takes one connection from the pool.
    const acquire = jest.spyOn(t.orm.em.getConnection().getKnex().client, 'acquireConnection');
    await getStats();
    expect(acquire).toHaveBeenCalledTimes(2);
  });

  it('when logs are pruned and a task is deleted, then the stats equal what the log lists count, in total, by status and over 24 h', async () => {
    const [kept, gone] = [await insertTask('ACTIVE'), await insertTask('ACTIVE')];
    await insertLogs(kept, 'SUCCESS', new Date(Date.now() - 100 * 24 * HOUR), 3);
    await insertLogs(kept, 'SUCCESS', new Date(Date.now() - 2 * HOUR), 2);
    await insertLogs(kept, 'FAILED', new Date(Date.now() - HOUR), 1);
    await insertLogs(gone, 'RETRYING', new Date(Date.now() - HOUR), 2);
    await insertLogs(gone, 'FAILED', new Date(Date.now() - 30 * HOUR), 1);
    expect((await getStats()).executions).toMatchObject({
      total: 9,
      success: 5,
      failed: 2,
      retrying: 2,
    });

    // What the daily prune runs, and a task's deletion (its logs go by the cascade).
    const prune = createRetentionActivities({ orm: t.orm });
    const env = new MockActivityEnvironment();
    await env.run(prune.pruneLogs, {
      before: new Date(Date.now() - 90 * 24 * HOUR).toISOString(),
      batchSize: 2,
    });
    const taskDeleted = await request(t.app)
      .delete(`/api/tasks/${gone}`)
      .set('X-API-Key', TEST_API_KEY);
    expect(taskDeleted.status).toBe(204);

    const listed = async (query: string) => {
      const res = await request(t.app).get(`/api/logs?${query}`).set('X-API-Key', TEST_API_KEY);
      expect(res.status).toBe(200);
      return res.body.meta.total as number;
    };
    const since = new Date(Date.now() - 24 * HOUR).toISOString();
    const stats = await getStats();
    expect(stats.executions).toEqual({
      total: await listed(''),
      success: await listed('status=SUCCESS'),
      failed: await listed('status=FAILED'),
      retrying: await listed('status=RETRYING'),
      successRate: 2 / 3,
      last24h: {
        success: await listed(`status=SUCCESS&from=${since}`),
        failed: await listed(`status=FAILED&from=${since}`),
        retrying: await listed(`status=RETRYING&from=${since}`),
      },
    });
    // The exact figures the lists gave: the kept task's two recent successes and its failure.
    expect(stats.executions).toMatchObject({
      total: 3,
      success: 2,
      failed: 1,
      retrying: 0,
      last24h: { success: 2, failed: 1, retrying: 0 },
    });
    expect(stats.tasks.total).toBe(1);
    // The pruned hours' counters went with their rows.
    const [old] = await sql(
      `select count(*)::int as n from log_counts_hourly where hour < now() - interval '90 days'`,
    );
    expect(old).toEqual({ n: 0 });
  });

  it('when logs are written in one statement or row by row, then the counters agree with a count of the rows', async () => {
    const task = await insertTask('ACTIVE');
    await sql(
      `insert into task_logs (id, task_id, execution_time, status, attempt, workflow_id, run_id, created_at)
       select gen_random_uuid(), ?, now() - (i || ' minutes')::interval,
              (array['SUCCESS','FAILED','RETRYING'])[1 + i % 3], 1, 'bulk-' || i, 'run', now()
       from generate_series(1, 3000) as i`,
      [task],
    );
    await insertLogs(task, 'FAILED', new Date(), 2);
    // Writes that insert nothing (a re-run attempt) count nothing.
    await sql(
      `insert into task_logs (id, task_id, execution_time, status, attempt, workflow_id, run_id, created_at)
       values (gen_random_uuid(), ?, now(), 'SUCCESS', 1, 'bulk-1', 'run', now())
       on conflict (workflow_id, attempt) do nothing`,
      [task],
    );
    // A manual correction of a status moves its count.
    await sql(`update task_logs set status = 'SUCCESS' where workflow_id = 'bulk-2'`);
    const [exact] = (await sql(
      `select count(*) filter (where status = 'SUCCESS')::int as success,
              count(*) filter (where status = 'FAILED')::int as failed,
              count(*) filter (where status = 'RETRYING')::int as retrying,
              count(*) filter (where status = 'SUCCESS' and execution_time >= now() - interval '24 hours')::int as success_24h,
              count(*) filter (where status = 'FAILED' and execution_time >= now() - interval '24 hours')::int as failed_24h
       from task_logs`,
    )) as Record<string, number>[];
    const stats = await getStats();
    expect(stats.executions).toMatchObject({
      total: 3002,
      success: exact!.success,
      failed: exact!.failed,
      retrying: exact!.retrying,
    });
    expect(stats.executions.last24h.success).toBe(exact!.success_24h);
    expect(stats.executions.last24h.failed).toBe(exact!.failed_24h);
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
    expect((await request(t.app).get('/api/dashboard/timeseries')).status).toBe(401);
  });

  describe('GET /api/dashboard/timeseries', () => {
    const getSeries = async (query = '') => {
      const res = await request(t.app)
        .get(`/api/dashboard/timeseries${query}`)
        .set('X-API-Key', TEST_API_KEY);
      expect(res.status).toBe(200);
      return (
        res.body as {
          data: { hour: string; success: number; failed: number; retrying: number }[];
        }
      ).data;
    };
    const hourOf = (ms: number) => new Date(Math.floor(ms / HOUR) * HOUR).toISOString();

    it('when no hours are asked for, then 24 entries of zeros, oldest first, the current hour last', async () => {
      const before = Date.now();
      const data = await getSeries();
      expect(data).toHaveLength(24);
      // The request may straddle an hour boundary; the last entry is the hour it was served in.
      expect([hourOf(before), hourOf(Date.now())]).toContain(data[23]!.hour);
      for (const [i, entry] of data.entries()) {
        expect(entry).toEqual({ hour: expect.any(String), success: 0, failed: 0, retrying: 0 });
        if (i > 0) expect(Date.parse(entry.hour) - Date.parse(data[i - 1]!.hour)).toBe(HOUR);
      }
    });

    it('when attempts exist in some hours, then each hour holds its own counts and the others are zeros', async () => {
      const now = new Date('2031-03-01T12:34:56.789Z');
      const stats = createStatsService({ orm: t.orm, now: () => now });
      const task = await insertTask('ACTIVE');
      await insertLogs(task, 'SUCCESS', new Date('2031-03-01T12:00:00.000Z'), 2);
      await insertLogs(task, 'RETRYING', new Date('2031-03-01T12:30:00.000Z'), 1);
      await insertLogs(task, 'FAILED', new Date('2031-03-01T10:59:59.999Z'), 3);
      await insertLogs(task, 'SUCCESS', new Date('2031-03-01T09:59:59.999Z'), 4); // before the window

      expect(await stats.timeseries(3)).toEqual([
        { hour: '2031-03-01T10:00:00.000Z', success: 0, failed: 3, retrying: 0 },
        { hour: '2031-03-01T11:00:00.000Z', success: 0, failed: 0, retrying: 0 },
        { hour: '2031-03-01T12:00:00.000Z', success: 2, failed: 0, retrying: 1 },
      ]);
    });

    it('when hours=1 or hours=168, then that many entries; the API serves them the same', async () => {
      const task = await insertTask('ACTIVE');
      await insertLogs(task, 'SUCCESS', new Date(), 2);
      const one = await getSeries('?hours=1');
      expect(one).toEqual([{ hour: expect.any(String), success: 2, failed: 0, retrying: 0 }]);
      const week = await getSeries('?hours=168');
      expect(week).toHaveLength(168);
      expect(week[167]!.success).toBe(2);
    });

    it.each([['0'], ['169'], ['1.5'], ['abc'], ['-1'], ['99999999999999999999']])(
      'when hours=%s, then 400 naming query.hours',
      async (hours) => {
        const res = await request(t.app)
          .get(`/api/dashboard/timeseries?hours=${hours}`)
          .set('X-API-Key', TEST_API_KEY);
        expect(res.status).toBe(400);
        expect(res.body.errors).toEqual([expect.objectContaining({ path: 'query.hours' })]);
      },
    );
  });
});
