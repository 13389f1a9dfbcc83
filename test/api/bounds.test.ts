import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { TEST_API_KEY, createTestApp, type TestApp } from '../helpers/app';

/**
 * SPEC §14 through the API: one-off `@at` tasks, startAt/endAt/maxRuns with runsLeft, the status
 * COMPLETED (409 on toggle until a PATCH gives a run ahead), its count and filter, and what the
 * Temporal Schedule is given for them. Deliveries are the e2e suite's (test/e2e/bounds.test.ts).
 */
describe('one-off and bounded tasks (SPEC §14)', () => {
  let t: TestApp;
  const created: string[] = [];
  const token = 'Zk3xQ9vLr-2mPq8sTuVwXyZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ01x9Zq';
  const api = () => ({
    post: (path: string, body?: object) =>
      request(t.app).post(path).set('X-API-Key', TEST_API_KEY).send(body),
    patch: (path: string, body: object) =>
      request(t.app).patch(path).set('X-API-Key', TEST_API_KEY).send(body),
    get: (path: string) => request(t.app).get(path).set('X-API-Key', TEST_API_KEY),
  });
  const schedule = (taskId: string) => t.temporal.client.schedule.getHandle(`task-${taskId}`);

  async function create(fields: Record<string, unknown>) {
    const res = await api().post('/api/tasks', {
      name: `bounds ${randomUUID().slice(0, 8)}`,
      schedule: '@daily',
      webhookUrl: `https://discord.com/api/webhooks/${Date.now()}/${token}`,
      payload: { content: 'hello' },
      ...fields,
    });
    if (res.status === 201) created.push(res.body.id);
    return res;
  }

  /** A local date-time `days` from now, as an `@at` takes it (no offset). */
  function localIn(days: number, hour = '18:00'): string {
    const day = new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
    return `${day}T${hour}`;
  }

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    for (const id of created) {
      await request(t.app).delete(`/api/tasks/${id}`).set('X-API-Key', TEST_API_KEY);
    }
    await t.close();
  });

  it('when an @at task is created in a time zone, then nextRunAt is that local time and Temporal lists exactly that one action', async () => {
    const at = localIn(30);
    const res = await create({ schedule: `@at ${at}`, timezone: 'America/New_York' });
    expect(res.status).toBe(201);
    const expected = new Date(`${at}:00-05:00`); // 30 days from December: still standard time
    const summer = new Date(`${at}:00-04:00`);
    const wanted = [expected.toISOString(), summer.toISOString()];
    expect(wanted).toContain(res.body.nextRunAt);
    const description = await schedule(res.body.id).describe();
    expect(description.info.nextActionTimes.map((d) => d.toISOString())).toEqual([
      res.body.nextRunAt,
    ]);
    expect(description.spec.timezone).toBe('UTC');
    expect(res.body).toMatchObject({ startAt: null, endAt: null, maxRuns: null, runsLeft: null });
  });

  it('when an @at is in the past, malformed, or a day that does not exist, then it is a 400 naming body.schedule', async () => {
    for (const [schedule, reason] of [
      ['@at 2020-01-01T00:00', 'is in the past'],
      [`@at ${new Date(Date.now() - 60_000).toISOString()}`, 'is in the past'],
      ['@at next friday', 'expected a date and time'],
      ['@at 2030-02-30T10:00', 'has no day 30'],
    ] as const) {
      const res = await create({ schedule });
      expect([schedule, res.status]).toEqual([schedule, 400]);
      expect(res.body.errors).toEqual([
        { path: 'body.schedule', message: expect.stringContaining(reason) },
      ]);
    }
  });

  it('when startAt, endAt and maxRuns are given, then the task shows them with runsLeft, and the schedule has the bounds and limited actions', async () => {
    const startAt = new Date(Date.now() + 2 * 86_400_000);
    startAt.setUTCHours(0, 0, 0, 0);
    const endAt = new Date(startAt.getTime() + 10 * 86_400_000);
    const res = await create({
      schedule: '0 9 * * *',
      startAt: startAt.toISOString().replace('.000Z', '+00:00'),
      endAt: endAt.toISOString(),
      maxRuns: 3,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      startAt: startAt.toISOString(),
      endAt: endAt.toISOString(),
      maxRuns: 3,
      runsLeft: 3,
      nextRunAt: new Date(startAt.getTime() + 9 * 3_600_000).toISOString(),
    });
    const description = await schedule(res.body.id).describe();
    expect(description.spec.startAt?.toISOString()).toBe(startAt.toISOString());
    expect(description.spec.endAt?.toISOString()).toBe(endAt.toISOString());
    expect(description.state.remainingActions).toBe(3);
    expect(description.info.nextActionTimes[0]?.toISOString()).toBe(res.body.nextRunAt);

    // PATCH keeps the runs made: none yet, so a new limit is all left; null removes it.
    const raised = await api().patch(`/api/tasks/${res.body.id}`, { maxRuns: 5 });
    expect(raised.body).toMatchObject({ maxRuns: 5, runsLeft: 5 });
    expect((await schedule(res.body.id).describe()).state.remainingActions).toBe(5);
    const unlimited = await api().patch(`/api/tasks/${res.body.id}`, {
      maxRuns: null,
      endAt: null,
    });
    expect(unlimited.body).toMatchObject({ maxRuns: null, runsLeft: null, endAt: null });
    const after = await schedule(res.body.id).describe();
    expect(after.state.remainingActions).toBeUndefined();
    expect(after.spec.endAt).toBeUndefined();
  });

  it('when the bounds leave no run, then the field that leaves none is named in a 400', async () => {
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ endAt: new Date(Date.now() - 1000).toISOString() }, 'body.endAt', 'is in the past'],
      [{ startAt: later, endAt: soon }, 'body.endAt', 'endAt must be after startAt'],
      // @daily fires at midnight UTC: an hour's window before then has none (unless it spans it).
      [
        { schedule: '0 0 1 1 *', startAt: soon, endAt: later },
        'body.endAt',
        'no run of this schedule falls between startAt and endAt',
      ],
      [
        { schedule: `@at ${localIn(5)}`, endAt: new Date(Date.now() + 86_400_000).toISOString() },
        'body.endAt',
        'no run of this schedule falls between startAt and endAt',
      ],
    ];
    for (const [fields, path, message] of cases) {
      const res = await create(fields);
      expect([fields, res.status]).toEqual([fields, 400]);
      expect(res.body.errors).toEqual([{ path, message: expect.stringContaining(message) }]);
    }
    const zero = await create({ maxRuns: 0 });
    expect(zero.status).toBe(400);
    expect(zero.body.errors[0].path).toBe('body.maxRuns');
    const naive = await create({ startAt: '2030-01-01T00:00:00' });
    expect(naive.status).toBe(400);
    expect(naive.body.errors[0].path).toBe('body.startAt');
  });

  it('when a task is COMPLETED, then toggle is a 409 until a PATCH gives it a run ahead, then it becomes ACTIVE; it is counted and filtered as completed', async () => {
    const res = await create({ schedule: '@hourly', maxRuns: 2 });
    const id = res.body.id as string;
    // As the last run leaves it: runs used up, COMPLETED, schedule paused.
    await t.orm.em
      .fork()
      .getConnection()
      .execute(`update tasks set status = 'COMPLETED', runs_left = 0 where id = ?`, [id]);
    const before = (await api().get('/api/dashboard/stats')).body.tasks;

    const refused = await api().post(`/api/tasks/${id}/toggle`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('maxRuns 2 is used up');
    const read = await api().get(`/api/tasks/${id}`);
    expect(read.body).toMatchObject({ status: 'COMPLETED', nextRunAt: null, runsLeft: 0 });
    const listed = await api().get(`/api/tasks?status=COMPLETED&limit=100`);
    expect(listed.body.data.map((task: { id: string }) => task.id)).toContain(id);
    expect(before.completed).toBeGreaterThanOrEqual(1);
    expect(before.total).toBe(before.active + before.inactive + before.failed + before.completed);

    // A PATCH that raises maxRuns: still COMPLETED (and paused) until toggled.
    const patched = await api().patch(`/api/tasks/${id}`, { maxRuns: 4 });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: 'COMPLETED', runsLeft: 2, nextRunAt: null });
    expect((await schedule(id).describe()).state).toMatchObject({
      paused: true,
      remainingActions: 2,
    });
    const toggled = await api().post(`/api/tasks/${id}/toggle`);
    expect(toggled.status).toBe(200);
    expect(toggled.body.status).toBe('ACTIVE');
    expect(toggled.body.nextRunAt).not.toBeNull();
    expect((await schedule(id).describe()).state.paused).toBe(false);
    const after = (await api().get('/api/dashboard/stats')).body.tasks;
    expect(after.completed).toBe(before.completed - 1);
  });

  it('when a PATCH lowers maxRuns below the runs made, then it is a 400 naming body.maxRuns', async () => {
    const res = await create({ schedule: '@hourly', maxRuns: 5 });
    await t.orm.em
      .fork()
      .getConnection()
      .execute(`update tasks set runs_left = 2 where id = ?`, [res.body.id]);
    const lowered = await api().patch(`/api/tasks/${res.body.id}`, { maxRuns: 3 });
    expect(lowered.status).toBe(400);
    expect(lowered.body.errors).toEqual([
      { path: 'body.maxRuns', message: expect.stringContaining('maxRuns 3 is used up') },
    ]);
    const kept = await api().patch(`/api/tasks/${res.body.id}`, { maxRuns: 4 });
    expect(kept.body).toMatchObject({ maxRuns: 4, runsLeft: 1 });
  });

  it('when a past @at task only gets a new name, then the PATCH is taken (its time is not re-checked)', async () => {
    const res = await create({ schedule: `@at ${localIn(1)}` });
    await t.orm.em
      .fork()
      .getConnection()
      .execute(
        `update tasks set schedule = '@at 2026-01-01T00:00', status = 'COMPLETED' where id = ?`,
        [res.body.id],
      );
    const renamed = await api().patch(`/api/tasks/${res.body.id}`, {
      name: 'renamed one-off',
      schedule: '@at 2026-01-01T00:00',
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'renamed one-off', status: 'COMPLETED' });
    const moved = await api().patch(`/api/tasks/${res.body.id}`, {
      schedule: '@at 2026-01-02T00:00',
    });
    expect(moved.status).toBe(400);
  });

  it('when the preview is given bounds, then it lists the runs Temporal would fire: none before startAt, none after endAt, at most maxRuns', async () => {
    const res = await api().post('/api/schedules/preview', {
      schedule: '0 9 * * *',
      timezone: 'UTC',
      startAt: '2030-01-10T00:00:00Z',
      endAt: '2030-01-12T23:00:00Z',
      count: 10,
    });
    expect(res.status).toBe(200);
    expect(res.body.nextRuns).toEqual([
      '2030-01-10T09:00:00.000Z',
      '2030-01-11T09:00:00.000Z',
      '2030-01-12T09:00:00.000Z',
    ]);
    const limited = await api().post('/api/schedules/preview', {
      schedule: '@every 4s',
      maxRuns: 3,
      count: 10,
    });
    expect(limited.body.nextRuns).toHaveLength(3);
    const once = await api().post('/api/schedules/preview', {
      schedule: '@at 2030-06-01T12:00',
      timezone: 'Europe/Paris',
    });
    expect(once.body).toMatchObject({
      description: 'Once, on 2030-06-01 at 12:00',
      nextRuns: ['2030-06-01T10:00:00.000Z'],
    });
  });
});
