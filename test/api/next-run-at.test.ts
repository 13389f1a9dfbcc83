import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import request from 'supertest';
import type { Circuit } from '../../src/circuit';
import { initOrm, type Orm } from '../../src/db/orm';
import { nextFireTimes } from '../../src/schedule/next-fire';
import { createTaskService, type CreateTaskInput } from '../../src/services/task.service';
import type { ScheduleGateway } from '../../src/temporal/schedules';
import { createTestApp, TEST_API_KEY, testEnv, testSecrets, type TestApp } from '../helpers/app';

/**
 * SPEC §5: `nextRunAt` is the next time Temporal fires the task's schedule, null when the task is
 * not ACTIVE, computed locally so that no request waits on a describe. Temporal is the oracle
 * here: the API's answer must equal the real schedule's `describe().info.nextActionTimes[0]`.
 * The test describes; the API must not.
 */

const webhookUrl = () =>
  `https://discord.com/api/webhooks/${Date.now()}${Math.floor(Math.random() * 1000)}/tok-${randomUUID()}`;

const newTask = (overrides: Partial<CreateTaskInput> = {}): CreateTaskInput => ({
  name: `next-run-at ${randomUUID().slice(0, 8)}`,
  schedule: '*/5 * * * *',
  webhookUrl: webhookUrl(),
  payload: { content: 'hello' },
  ...overrides,
});

/**
 * Every schedule here fires on second 0 or 30 of a minute. Temporal lists the times after the
 * moment the schedule was written and the API after the moment it answers, a few milliseconds
 * apart; starting at least 2 s away from those marks keeps a fire time from falling in between.
 */
async function awayFromFireMarks(): Promise<void> {
  const intoHalfMinute = Date.now() % 30_000;
  if (intoHalfMinute > 28_000) await sleep(30_000 - intoHalfMinute + 500);
}

const CASES = [
  { schedule: '*/5 * * * *', timezone: 'UTC' },
  { schedule: '30 2 * * *', timezone: 'America/New_York' },
  { schedule: '@every 90s', timezone: 'UTC' },
  { schedule: '0 9 1,15 * MON', timezone: 'Europe/Berlin' },
  { schedule: '0 0 29 2 *', timezone: 'Australia/Lord_Howe' },
];

describe('nextRunAt through the API on real PostgreSQL and Temporal', () => {
  let t: TestApp;
  /** Every DescribeSchedule the process sends; the API's requests must add none. */
  let describes: jest.SpyInstance;

  beforeAll(async () => {
    t = await createTestApp({
      env: { ...process.env, WEBHOOK_ALLOWED_ORIGINS: 'https://discord.com', LOG_LEVEL: 'silent' },
    });
    describes = jest.spyOn(t.temporal.client.workflowService, 'describeSchedule');
  });
  afterAll(async () => {
    describes.mockRestore();
    await t.close();
  });

  const api = {
    post: (path: string, body?: object) =>
      request(t.app).post(path).set('X-API-Key', TEST_API_KEY).send(body),
    patch: (path: string, body: object) =>
      request(t.app).patch(path).set('X-API-Key', TEST_API_KEY).send(body),
    get: (path: string) => request(t.app).get(path).set('X-API-Key', TEST_API_KEY),
  };

  /** What Temporal itself says the schedule fires next (asked after the API's calls are checked). */
  async function temporalNext(taskId: string): Promise<string | null> {
    const { info } = await t.temporal.client.schedule.getHandle(`task-${taskId}`).describe();
    return info.nextActionTimes[0]?.toISOString() ?? null;
  }

  it.each(CASES)(
    'when a task on $schedule in $timezone is created, read, listed and toggled, then nextRunAt is what Temporal fires next, and null while off',
    async ({ schedule, timezone }) => {
      await awayFromFireMarks();
      describes.mockClear();

      const created = await api.post('/api/tasks', newTask({ schedule, timezone }));
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const read = await api.get(`/api/tasks/${id}`);
      const listed = await api.get(`/api/tasks?search=${encodeURIComponent(created.body.name)}`);
      const off = await api.post(`/api/tasks/${id}/toggle`);
      const offRead = await api.get(`/api/tasks/${id}`);
      const on = await api.post(`/api/tasks/${id}/toggle`);
      expect(describes).not.toHaveBeenCalled();

      const next = await temporalNext(id);
      expect(next).not.toBeNull();
      expect({
        created: created.body.nextRunAt,
        read: read.body.nextRunAt,
        listed: listed.body.data.map((task: { nextRunAt: string | null }) => task.nextRunAt),
        off: [off.body.status, off.body.nextRunAt],
        offRead: offRead.body.nextRunAt,
        on: [on.body.status, on.body.nextRunAt],
      }).toEqual({
        created: next,
        read: next,
        listed: [next],
        off: ['INACTIVE', null],
        offRead: null,
        on: ['ACTIVE', next],
      });
    },
  );

  it('when a task is created INACTIVE, then nextRunAt is null, and once toggled on it is what Temporal fires next', async () => {
    await awayFromFireMarks();
    describes.mockClear();
    const created = await api.post('/api/tasks', newTask({ status: 'INACTIVE' }));
    expect(created.status).toBe(201);
    expect(created.body.nextRunAt).toBeNull();
    const on = await api.post(`/api/tasks/${created.body.id}/toggle`);
    expect(describes).not.toHaveBeenCalled();
    expect(on.body.nextRunAt).toBe(await temporalNext(created.body.id));
  });

  it("when a task's schedule and zone are patched, then nextRunAt is the new schedule's next fire time in Temporal", async () => {
    const created = await api.post('/api/tasks', newTask());
    expect(created.status).toBe(201);
    await awayFromFireMarks();
    describes.mockClear();
    const patched = await api.patch(`/api/tasks/${created.body.id}`, {
      schedule: '30 2 * * *',
      timezone: 'America/New_York',
    });
    expect(patched.status).toBe(200);
    expect(describes).not.toHaveBeenCalled();
    expect(patched.body.nextRunAt).not.toBe(created.body.nextRunAt);
    expect(patched.body.nextRunAt).toBe(await temporalNext(created.body.id));
  });

  it('when a FAILED task is read, then nextRunAt is null (its schedule is paused)', async () => {
    const created = await api.post('/api/tasks', newTask());
    await t.orm.em
      .getConnection()
      .execute(`update tasks set status = 'FAILED' where id = ?`, [created.body.id]);
    const read = await api.get(`/api/tasks/${created.body.id}`);
    expect(read.body).toMatchObject({ status: 'FAILED', nextRunAt: null });
  });

  it('when a stored schedule can no longer be compiled, then the task reads with nextRunAt null, not a 500', async () => {
    const created = await api.post('/api/tasks', newTask());
    expect(created.status).toBe(201);
    // Not something the API accepts; a row written by hand or by an older version.
    await t.orm.em
      .getConnection()
      .execute(`update tasks set schedule = '@reboot' where id = ?`, [created.body.id]);
    try {
      const read = await api.get(`/api/tasks/${created.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ schedule: '@reboot', status: 'ACTIVE', nextRunAt: null });
      const listed = await api.get(`/api/tasks?search=${encodeURIComponent(created.body.name)}`);
      expect(listed.status).toBe(200);
      expect(listed.body.data).toMatchObject([{ id: created.body.id, nextRunAt: null }]);
    } finally {
      // Left in the shared database, the row would be a second bad row for reconcile.test.ts,
      // which counts exactly one (it failed that way when this file happened to run first).
      const deleted = await request(t.app)
        .delete(`/api/tasks/${created.body.id}`)
        .set('X-API-Key', TEST_API_KEY);
      expect(deleted.status).toBe(204);
    }
  });
});

describe('the task service never describes a schedule', () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 2 });
  });
  afterAll(async () => {
    await orm.close();
  });

  it('when tasks are created, read, listed, patched and toggled through a gateway whose describe throws, then all succeed with the calculated nextRunAt', async () => {
    const describe = jest.fn(async () => {
      throw new Error('describe must not be called');
    });
    const schedules: ScheduleGateway = {
      create: jest.fn(async () => undefined),
      update: jest.fn(async () => undefined),
      delete: jest.fn(async () => undefined),
      describe,
      manualRunMetadata: jest.fn(() => {
        throw new Error('no trigger here');
      }),
    };
    // Any use of the Temporal client (the only other way to a describe) throws too.
    const client = new Proxy({} as Client, {
      get: (_target, property) => {
        throw new Error(`the Temporal client was used (${String(property)})`);
      },
    });
    const passThrough: Circuit = {
      isOpen: () => false,
      run: (work) => work(new AbortController().signal),
    };
    const service = createTaskService({
      orm,
      schedules,
      client,
      circuits: { database: passThrough, temporal: passThrough },
      logger: pino({ level: 'silent' }),
      settings: { taskQueue: 'unused', allowedOrigins: ['https://discord.com'] },
      secrets: testSecrets(),
    });
    const expected = (schedule: string, timezone: string) => {
      const before = Date.now();
      return (answer: string | null) => {
        // The next fire time as of some moment during the call.
        const [earliest] = nextFireTimes(schedule, timezone, new Date(before - 1), 1);
        const [latest] = nextFireTimes(schedule, timezone, new Date(), 1);
        expect([earliest!.toISOString(), latest!.toISOString()]).toContain(answer);
      };
    };

    let check = expected('0 9 1,15 * MON', 'Europe/Berlin');
    const created = await service.create(
      newTask({ schedule: '0 9 1,15 * MON', timezone: 'Europe/Berlin' }),
    );
    check(created.nextRunAt);
    check = expected('0 9 1,15 * MON', 'Europe/Berlin');
    check((await service.get(created.id)).nextRunAt);
    const page = await service.list({ page: 1, limit: 5, search: created.name });
    expect(page.data.map((task) => task.id)).toEqual([created.id]);
    check(page.data[0]!.nextRunAt);

    check = expected('@every 90s', 'UTC');
    check(
      (await service.update(created.id, { schedule: '@every 90s', timezone: 'UTC' })).nextRunAt,
    );
    expect(await service.toggle(created.id)).toMatchObject({ status: 'INACTIVE', nextRunAt: null });
    check = expected('@every 90s', 'UTC');
    check((await service.toggle(created.id)).nextRunAt);
    expect(
      await service.create(newTask({ status: 'INACTIVE', schedule: '@hourly' })),
    ).toMatchObject({ status: 'INACTIVE', nextRunAt: null });

    expect(describe).not.toHaveBeenCalled();
    expect(schedules.create).toHaveBeenCalledTimes(2);
    expect(schedules.update).toHaveBeenCalledTimes(3);
    await service.remove(created.id);
  });
});
