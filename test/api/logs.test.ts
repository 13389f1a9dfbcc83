import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { routeMatcherCompilations } from '../../src/api/openapi-route-matchers';
import { EXACT_TOTAL_LIMIT } from '../../src/services/log.service';
import { createTestApp, TEST_API_KEY, type TestApp } from '../helpers/app';

type LogStatus = 'SUCCESS' | 'FAILED' | 'RETRYING';

interface LogBody {
  id: string;
  taskId: string;
  taskName: string | null;
  executionTime: string;
  status: LogStatus;
  attempt: number;
}

interface PageBody {
  data: LogBody[];
  meta: {
    page: number;
    limit: number;
    total: number;
    totalPages: number;
    totalIsEstimate: boolean;
    nextCursor: string | null;
  };
}

/** The meta of a page whose total is an exact count. */
const exact = (meta: Omit<PageBody['meta'], 'totalIsEstimate' | 'nextCursor'>) => ({
  ...meta,
  totalIsEstimate: false,
  nextCursor: meta.page < meta.totalPages ? expect.any(String) : null,
});

const HOUR = 3_600_000;

describe('logs API on real PostgreSQL', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const get = (path: string) => request(t.app).get(path).set('X-API-Key', TEST_API_KEY);

  async function getPage(path: string): Promise<PageBody> {
    const res = await get(path);
    expect(res.status).toBe(200);
    return res.body as PageBody;
  }

  /** A fresh task through the API; INACTIVE, so that its schedule never writes logs of its own. */
  async function createTask(): Promise<{ id: string; name: string }> {
    const res = await request(t.app)
      .post('/api/tasks')
      .set('X-API-Key', TEST_API_KEY)
      .send({
        name: `logs ${randomUUID().slice(0, 8)}`,
        schedule: '0 0 1 1 *',
        status: 'INACTIVE',
        webhookUrl: `https://discord.com/api/webhooks/${Date.now()}/${'t'.repeat(60)}`,
        payload: { content: 'hello' },
      });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, name: res.body.name as string };
  }

  async function insertLog(
    taskId: string,
    executionTime: Date,
    status: LogStatus = 'SUCCESS',
    extra: { attempt?: number; httpStatus?: number | null; durationMs?: number | null } = {},
  ): Promise<string> {
    const id = randomUUID();
    const attempt = extra.attempt ?? 1;
    await t.orm.em.getConnection().execute(
      `insert into task_logs (id, task_id, execution_time, status, retry_count, attempt, http_status,
         duration_ms, scheduled_time, workflow_id, run_id, message, created_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'run-1', ?, now())`,
      [
        id,
        taskId,
        executionTime,
        status,
        attempt - 1,
        attempt,
        extra.httpStatus ?? null,
        extra.durationMs ?? null,
        new Date(executionTime.getTime() - 1000),
        `task-${taskId}-${randomUUID()}`,
        `${status.toLowerCase()} at attempt ${attempt}`,
      ],
    );
    return id;
  }

  /** A one-day window in the far future that no other test writes into. */
  function freshWindow(): Date {
    const day = Math.floor(Math.random() * 300_000);
    return new Date(Date.UTC(2500, 0, 1) + day * 24 * HOUR);
  }

  const ids = (page: PageBody) => page.data.map((log) => log.id);
  const iso = (date: Date) => date.toISOString();

  describe('order and shape', () => {
    it('when a task has logs, then its page lists them newest first (ties by attempt) with every field and the task name', async () => {
      const task = await createTask();
      const base = new Date(Date.now() - 10 * HOUR);
      const oldest = await insertLog(task.id, base, 'SUCCESS', { httpStatus: 204, durationMs: 12 });
      const newest = await insertLog(task.id, new Date(base.getTime() + 3 * HOUR), 'FAILED', {
        attempt: 3,
        httpStatus: 404,
      });
      const firstTry = await insertLog(task.id, new Date(base.getTime() + HOUR), 'RETRYING', {
        attempt: 1,
        httpStatus: 503,
      });
      const secondTry = await insertLog(task.id, new Date(base.getTime() + HOUR), 'RETRYING', {
        attempt: 2,
      });

      const page = await getPage(`/api/tasks/${task.id}/logs`);
      expect(ids(page)).toEqual([newest, secondTry, firstTry, oldest]);
      expect(page.meta).toEqual(exact({ page: 1, limit: 20, total: 4, totalPages: 1 }));
      expect(page.data[3]).toEqual({
        id: oldest,
        taskId: task.id,
        taskName: task.name,
        executionTime: iso(base),
        status: 'SUCCESS',
        retryCount: 0,
        attempt: 1,
        httpStatus: 204,
        durationMs: 12,
        scheduledTime: iso(new Date(base.getTime() - 1000)),
        workflowId: expect.stringMatching(new RegExp(`^task-${task.id}`)),
        runId: 'run-1',
        message: 'success at attempt 1',
        createdAt: expect.any(String),
      });
      expect(page.data[0]).toMatchObject({
        status: 'FAILED',
        retryCount: 2,
        httpStatus: 404,
        durationMs: null,
      });
      for (const log of page.data) expect(log.taskName).toBe(task.name);

      const all = await getPage(`/api/logs?taskId=${task.id}`);
      expect(all).toEqual(page);
    });

    it('when all logs are listed, then they come newest first across tasks, each with its own task name', async () => {
      const [a, b] = [await createTask(), await createTask()];
      const day = freshWindow();
      const at = (hours: number) => new Date(day.getTime() + hours * HOUR);
      const expected = [
        await insertLog(b.id, at(5)),
        await insertLog(a.id, at(4)),
        await insertLog(b.id, at(3)),
        await insertLog(a.id, at(2)),
      ];

      const page = await getPage(`/api/logs?from=${iso(at(0))}&to=${iso(at(24))}`);
      expect(ids(page)).toEqual(expected);
      expect(page.data.map((log) => log.taskName)).toEqual([b.name, a.name, b.name, a.name]);

      // Without any filter the newest rows of the whole table come first.
      const unfiltered = await getPage('/api/logs?limit=20');
      expect(unfiltered.meta.limit).toBe(20);
      expect(unfiltered.data.length).toBeGreaterThanOrEqual(4);
      const times = unfiltered.data.map((log) => Date.parse(log.executionTime));
      expect(times).toEqual([...times].sort((x, y) => y - x));
    });

    it('when a page holds logs of several tasks, then it is read with one query (page, names and total), not one per row', async () => {
      const tasks = [await createTask(), await createTask(), await createTask()];
      const day = freshWindow();
      for (const [i, task] of tasks.entries()) {
        await insertLog(task.id, new Date(day.getTime() + i * HOUR));
        await insertLog(task.id, new Date(day.getTime() + (i + 3) * HOUR));
      }
      // Every read query takes one connection from the pool.
      const execute = jest.spyOn(t.orm.em.getConnection().getKnex().client, 'acquireConnection');
      try {
        const page = await getPage(
          `/api/logs?from=${iso(day)}&to=${iso(new Date(day.getTime() + 24 * HOUR))}`,
        );
        expect(page.data).toHaveLength(6);
        expect(new Set(page.data.map((log) => log.taskName))).toEqual(
          new Set(tasks.map((task) => task.name)),
        );
        expect(page.meta.total).toBe(6);
        expect(execute).toHaveBeenCalledTimes(1);
      } finally {
        execute.mockRestore();
      }
    });
  });

  describe('pagination', () => {
    it('when paging through a task, then each page holds the next rows and meta counts all of them', async () => {
      const task = await createTask();
      const base = Date.now() - 100 * HOUR;
      const newestFirst: string[] = [];
      for (let i = 0; i < 5; i++)
        newestFirst.unshift(await insertLog(task.id, new Date(base + i * HOUR)));

      const pages = [1, 2, 3].map((n) => getPage(`/api/tasks/${task.id}/logs?limit=2&page=${n}`));
      const [p1, p2, p3] = await Promise.all(pages);
      expect(p1!.meta).toEqual(exact({ page: 1, limit: 2, total: 5, totalPages: 3 }));
      expect(p2!.meta).toEqual(exact({ page: 2, limit: 2, total: 5, totalPages: 3 }));
      expect(p3!.meta).toEqual(exact({ page: 3, limit: 2, total: 5, totalPages: 3 }));
      expect([...ids(p1!), ...ids(p2!), ...ids(p3!)]).toEqual(newestFirst);

      const beyond = await getPage(`/api/tasks/${task.id}/logs?limit=2&page=4`);
      expect(beyond).toEqual({
        data: [],
        meta: exact({ page: 4, limit: 2, total: 5, totalPages: 3 }),
      });
    });

    it('when many logs share one execution time and attempt, then pages neither repeat nor skip any', async () => {
      const task = await createTask();
      const when = new Date(Date.now() - 50 * HOUR);
      const inserted: string[] = [];
      for (let i = 0; i < 7; i++) inserted.push(await insertLog(task.id, when));

      const seen: string[] = [];
      for (let page = 1; page <= 4; page++) {
        seen.push(...ids(await getPage(`/api/logs?taskId=${task.id}&limit=2&page=${page}`)));
      }
      expect(seen).toHaveLength(7);
      expect(new Set(seen)).toEqual(new Set(inserted));
    });
  });

  describe('cursor paging', () => {
    /** Every page of `path` by cursor, until nextCursor is null. */
    async function walkByCursor(path: string): Promise<string[]> {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let n = 0; n < 100; n++) {
        const sep = path.includes('?') ? '&' : '?';
        const page = await getPage(cursor ? `${path}${sep}cursor=${cursor}` : path);
        seen.push(...ids(page));
        cursor = page.meta.nextCursor;
        if (!cursor) return seen;
      }
      throw new Error('the cursor never reached the end');
    }

    it("when a task's logs are walked by cursor, then the rows are those of the numbered pages, in order, none twice, none missed, equal times included", async () => {
      const task = await createTask();
      const day = freshWindow();
      for (let i = 0; i < 8; i++) await insertLog(task.id, day); // one time, one attempt
      for (let i = 0; i < 4; i++) await insertLog(task.id, day, 'RETRYING', { attempt: 2 });
      for (let i = 1; i <= 9; i++) await insertLog(task.id, new Date(day.getTime() + i * HOUR));

      const byPage: string[] = [];
      for (let n = 1; n <= 7; n++)
        byPage.push(...ids(await getPage(`/api/tasks/${task.id}/logs?limit=3&page=${n}`)));
      const byCursor = await walkByCursor(`/api/tasks/${task.id}/logs?limit=3`);
      expect(byPage).toHaveLength(21);
      expect(new Set(byCursor).size).toBe(21);
      expect(byCursor).toEqual(byPage);
      // The same walk over all logs of the task, with the filters of /api/logs.
      expect(await walkByCursor(`/api/logs?taskId=${task.id}&limit=4`)).toEqual(byPage);
    });

    it("when rows differ by microseconds only, then the cursor tells them apart (it keeps PostgreSQL's precision)", async () => {
      const task = await createTask();
      const day = freshWindow();
      await t.orm.em.getConnection().execute(
        `insert into task_logs (id, task_id, execution_time, status, attempt, workflow_id, run_id, created_at)
         select gen_random_uuid(), ?, ?::timestamptz + i * interval '1 microsecond', 'SUCCESS', 1,
                'micro-' || gen_random_uuid(), 'run', now()
         from generate_series(1, 5) as i`,
        [task.id, day],
      );
      const walked = await walkByCursor(`/api/tasks/${task.id}/logs?limit=1`);
      expect(walked).toHaveLength(5);
      expect(new Set(walked).size).toBe(5);
    });

    it('when a cursor is combined with a filter, then the page holds the matching rows after it', async () => {
      const task = await createTask();
      const day = freshWindow();
      const at = (hours: number) => new Date(day.getTime() + hours * HOUR);
      const s5 = await insertLog(task.id, at(5), 'SUCCESS');
      await insertLog(task.id, at(4), 'FAILED');
      const s3 = await insertLog(task.id, at(3), 'SUCCESS');
      const s1 = await insertLog(task.id, at(1), 'SUCCESS');

      const first = await getPage(`/api/tasks/${task.id}/logs?status=SUCCESS&limit=1`);
      expect(ids(first)).toEqual([s5]);
      expect(first.meta).toMatchObject({ total: 3, totalIsEstimate: false });
      const next = await getPage(
        `/api/tasks/${task.id}/logs?status=SUCCESS&limit=5&cursor=${first.meta.nextCursor}`,
      );
      expect(ids(next)).toEqual([s3, s1]);
      expect(next.meta.nextCursor).toBeNull();
    });

    it('when the last page is exactly full, then its nextCursor is null (no empty page to fetch)', async () => {
      const task = await createTask();
      for (let i = 0; i < 4; i++) await insertLog(task.id, new Date(Date.now() - (i + 1) * HOUR));
      const first = await getPage(`/api/tasks/${task.id}/logs?limit=2`);
      expect(first.meta.nextCursor).toEqual(expect.any(String));
      const last = await getPage(
        `/api/tasks/${task.id}/logs?limit=2&cursor=${first.meta.nextCursor}`,
      );
      expect(last.data).toHaveLength(2);
      expect(last.meta.nextCursor).toBeNull();
    });

    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const UUID0 = '00000000-0000-4000-8000-000000000000';
    it.each([
      ['not base64url', 'not%20a%20cursor!'],
      ['empty', ''],
      ['base64url of nonsense', b64('hello world')],
      ['a time that is not a time', b64(`abc_1_${UUID0}`)],
      ['a day that does not exist', b64(`2025-02-30T00:00:00.000000Z_1_${UUID0}`)],
      ['an hour that does not exist', b64(`2025-01-01T24:00:00.000000Z_1_${UUID0}`)],
      ['year 0', b64(`0000-01-01T00:00:00.000000Z_1_${UUID0}`)],
      ['an id that is not a uuid', b64('2025-01-01T00:00:00.000000Z_1_not-a-uuid')],
      ['an attempt beyond an int', b64(`2025-01-01T00:00:00.000000Z_99999999999_${UUID0}`)],
      ['NUL characters', b64(`2025-01-01T00:00:00.000000Z\u0000_1_${UUID0}`)],
      ['too long', 'A'.repeat(201)],
    ])('when the cursor is %s, then 400 naming query.cursor', async (_name, cursor) => {
      for (const path of ['/api/logs', `/api/tasks/${randomUUID()}/logs`]) {
        const res = await get(`${path}?cursor=${cursor}`);
        expect(res.status).toBe(400);
        expect(res.headers['content-type']).toMatch(/problem\+json/);
        expect((res.body.errors as { path: string }[]).map((e) => e.path)).toContain(
          'query.cursor',
        );
      }
    });
    it('when a well-formed cursor points between rows, then the page starts at the next older row', async () => {
      const task = await createTask();
      const day = freshWindow();
      const older = await insertLog(task.id, day);
      await insertLog(task.id, new Date(day.getTime() + HOUR));
      const between = new Date(day.getTime() + HOUR / 2).toISOString().replace('Z', '000Z');
      const page = await getPage(
        `/api/tasks/${task.id}/logs?cursor=${b64(`${between}_1_${UUID0}`)}`,
      );
      expect(ids(page)).toEqual([older]);
    });
  });

  describe('totals at scale', () => {
    const sql = (query: string, params: unknown[] = []) =>
      t.orm.em.getConnection().execute(query, params);

    async function bulkLogs(taskId: string, count: number, status: LogStatus = 'SUCCESS') {
      await sql(
        `insert into task_logs (id, task_id, execution_time, status, attempt, workflow_id, run_id, created_at)
         select gen_random_uuid(), ?, now() - i * interval '1 second', ?, 1, 'bulk-' || gen_random_uuid(), 'run', now()
         from generate_series(1, ?) as i`,
        [taskId, status, count],
      );
    }

    it('when more than 1,000 logs match, then total is an estimate flagged totalIsEstimate; at 1,000 or fewer it is an exact count', async () => {
      const task = await createTask();
      try {
        await bulkLogs(task.id, EXACT_TOTAL_LIMIT);
        const atLimit = await getPage(`/api/tasks/${task.id}/logs?limit=100`);
        expect(atLimit.meta).toEqual(
          exact({ page: 1, limit: 100, total: EXACT_TOTAL_LIMIT, totalPages: 10 }),
        );

        await insertLog(task.id, new Date(Date.now() - 100 * HOUR), 'FAILED');
        await sql('analyze task_logs');
        const over = await getPage(`/api/tasks/${task.id}/logs?limit=100`);
        expect(over.meta.totalIsEstimate).toBe(true);
        expect(over.meta.total).toBeGreaterThan(EXACT_TOTAL_LIMIT);
        expect(over.meta.totalPages).toBe(Math.ceil(over.meta.total / 100));
        expect(over.data).toHaveLength(100);
        expect(await getPage(`/api/logs?taskId=${task.id}&limit=100`)).toEqual(over);

        // A filter that matches few of them is counted exactly.
        const failed = await getPage(`/api/tasks/${task.id}/logs?status=FAILED`);
        expect(failed.meta).toEqual(exact({ page: 1, limit: 20, total: 1, totalPages: 1 }));

        // Unfiltered, the table's size comes from its statistics, flagged as an estimate.
        const all = await getPage('/api/logs?limit=1');
        expect(all.meta.totalIsEstimate).toBe(true);
        expect(all.meta.total).toBeGreaterThan(EXACT_TOTAL_LIMIT);
      } finally {
        await sql('delete from tasks where id = ?', [task.id]);
        await sql('analyze task_logs');
      }
    });
  });

  describe('filters', () => {
    let task: { id: string; name: string };
    let day: Date;
    const at = (hours: number) => new Date(day.getTime() + hours * HOUR);
    const rows: Record<string, string> = {};

    beforeAll(async () => {
      task = await createTask();
      day = freshWindow();
      rows.s1 = await insertLog(task.id, at(1), 'SUCCESS');
      rows.r2 = await insertLog(task.id, at(2), 'RETRYING');
      rows.f3 = await insertLog(task.id, at(3), 'FAILED');
      rows.s4 = await insertLog(task.id, at(4), 'SUCCESS');
      rows.s5 = await insertLog(task.id, at(5), 'SUCCESS');
      // Another task's log in the same window: filtering by task must leave it out.
      rows.other = await insertLog((await createTask()).id, at(3), 'SUCCESS');
    });

    it.each([
      ['status=SUCCESS', () => `status=SUCCESS`, ['s5', 's4', 's1']],
      ['status=FAILED', () => `status=FAILED`, ['f3']],
      ['from (inclusive)', () => `from=${iso(at(4))}`, ['s5', 's4']],
      ['to (inclusive, "at or before")', () => `to=${iso(at(2))}`, ['r2', 's1']],
      ['from and to', () => `from=${iso(at(2))}&to=${iso(at(4))}`, ['s4', 'f3', 'r2']],
      [
        'status, from and to',
        () => `status=SUCCESS&from=${iso(at(2))}&to=${iso(at(5))}`,
        ['s5', 's4'],
      ],
      ['a window with nothing in it', () => `from=${iso(at(6))}&to=${iso(at(7))}`, []],
      ['from after to', () => `from=${iso(at(5))}&to=${iso(at(1))}`, []],
    ])(
      'when a task is filtered by %s, then only the matching logs come back',
      async (_name, query, expected) => {
        const byTask = await getPage(`/api/tasks/${task.id}/logs?${query()}`);
        expect(ids(byTask)).toEqual(expected.map((key) => rows[key]));
        expect(byTask.meta.total).toBe(expected.length);
        expect(byTask.meta.totalPages).toBe(expected.length === 0 ? 0 : 1);

        const all = await getPage(`/api/logs?taskId=${task.id}&${query()}`);
        expect(all).toEqual(byTask);
      },
    );

    it('when all logs are filtered by time window only, then every task in it is included', async () => {
      const page = await getPage(`/api/logs?from=${iso(at(3))}&to=${iso(at(3))}`);
      expect(new Set(ids(page))).toEqual(new Set([rows.f3, rows.other]));
    });

    it('when all logs are filtered by taskId only, then only that task comes back', async () => {
      const page = await getPage(`/api/logs?taskId=${task.id}`);
      expect(ids(page)).toEqual([rows.s5, rows.s4, rows.f3, rows.r2, rows.s1]);
      expect(page.meta.total).toBe(5);
    });

    it('when all logs are filtered by status only, then every row has that status', async () => {
      const page = await getPage('/api/logs?status=RETRYING&limit=100');
      expect(page.meta.total).toBeGreaterThanOrEqual(1);
      expect(page.data.every((log) => log.status === 'RETRYING')).toBe(true);
      expect(ids(page)).toContain(rows.r2);
    });

    it('when from carries an offset, then it is the same instant as in UTC', async () => {
      const plusTwo = new Date(at(4).getTime() + 2 * HOUR)
        .toISOString()
        .replace('Z', '')
        .slice(0, 19);
      const page = await getPage(`/api/tasks/${task.id}/logs?from=${plusTwo}%2B02:00`);
      expect(ids(page)).toEqual([rows.s5, rows.s4]);
    });
  });

  describe('unknown and invalid input', () => {
    it('when the task does not exist, then its logs are a 404 problem', async () => {
      const res = await get(`/api/tasks/${randomUUID()}/logs`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body.detail).toMatch(/does not exist/);
    });

    it('when the task exists but has no (matching) logs, then an empty page, not a 404', async () => {
      const task = await createTask();
      expect(await getPage(`/api/tasks/${task.id}/logs`)).toEqual({
        data: [],
        meta: exact({ page: 1, limit: 20, total: 0, totalPages: 0 }),
      });
      await insertLog(task.id, new Date(), 'SUCCESS');
      expect((await getPage(`/api/tasks/${task.id}/logs?status=FAILED`)).meta.total).toBe(0);
    });

    it('when all logs are filtered by an unknown task id, then an empty page', async () => {
      expect(await getPage(`/api/logs?taskId=${randomUUID()}`)).toEqual({
        data: [],
        meta: exact({ page: 1, limit: 20, total: 0, totalPages: 0 }),
      });
    });

    it.each([
      ['/api/logs?from=yesterday', 'query.from'],
      ['/api/logs?to=2025-05-30', 'query.to'],
      ['/api/logs?from=2025-02-30T00:00:00Z', 'query.from'],
      ['/api/logs?to=2025-06-30T23:59:60Z', 'query.to'],
      ['/api/logs?taskId=not-a-uuid', 'query.taskId'],
      ['/api/logs?status=DONE', 'query.status'],
      ['/api/logs?status=success', 'query.status'],
      ['/api/logs?limit=101', 'query.limit'],
      ['/api/logs?page=0', 'query.page'],
      ['/api/logs?owner=me', 'query.owner'],
      ['/api/tasks/not-a-uuid/logs', 'params.id'],
      ['/api/tasks/00000000-0000-4000-8000-000000000000/logs?from=soon', 'query.from'],
    ])('when %s is requested, then 400 naming %s', async (path, field) => {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect((res.body.errors as { path: string }[]).map((e) => e.path)).toContain(field);
    });

    it('when the API key is missing, then 401', async () => {
      expect((await request(t.app).get('/api/logs')).status).toBe(401);
    });
  });

  it('when logs are read again, then the validator compiles no route matcher for them', async () => {
    await getPage('/api/logs?limit=5');
    await get('/api/dashboard/stats').expect(200);
    const compiled = routeMatcherCompilations();
    expect(compiled).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await getPage('/api/logs?limit=5');
    await get('/api/dashboard/stats').expect(200);
    expect(routeMatcherCompilations()).toBe(compiled);
  });
});
