import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError, type ScheduleSummary } from '@temporalio/client';
import pino from 'pino';
import type { Services } from '../../src/services';
import { reconcileSchedules } from '../../src/temporal/reconcile';
import { loadConfig } from '../../src/config';
import {
  fingerprintInNote,
  scheduleFingerprint,
  scheduleSettings,
} from '../../src/temporal/schedules';
import { createTestApp, type TestApp } from '../helpers/app';

describe('reconcileSchedules', () => {
  let t: TestApp;
  let services: Services;
  // The test app's own (the console link of PUBLIC_URL is part of each schedule since SPEC §15).
  const settings = scheduleSettings(loadConfig(process.env));
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    t = await createTestApp();
    services = t.services;
  });
  afterAll(() => t.close());

  /** A `task-*` schedule with no row behind it (an orphan, or a create whose row is not committed). */
  const createBareSchedule = (taskId: string) =>
    t.temporal.client.schedule.create({
      scheduleId: `task-${taskId}`,
      spec: { intervals: [{ every: '1h' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'sendWebhook',
        taskQueue: 'discord-webhooks',
        args: [],
      },
      state: { paused: true },
    });
  const handle = (taskId: string) => t.temporal.client.schedule.getHandle(`task-${taskId}`);
  const createTask = (name: string, schedule = '*/10 * * * *') =>
    services.tasks.create({
      name,
      schedule,
      webhookUrl: `https://discord.com/api/webhooks/42/${'t'.repeat(40)}`,
      payload: { content: 'hi' },
      maxRetry: 2,
    });
  const reconcile = (
    opts: { deep?: boolean; orphanGraceMs?: number; listPageSize?: number } = {},
  ) =>
    reconcileSchedules({
      orm: t.orm,
      client: t.temporal.client,
      schedules: services.schedules,
      settings,
      logger,
      ...opts,
    });

  /**
   * Waits until Temporal's schedule list (a visibility store, behind the schedules by a moment)
   * shows what a test wrote; `shows` gets the listed schedule, undefined when it is not listed.
   */
  const waitForListing = async (
    scheduleId: string,
    shows: (listed?: ScheduleSummary) => boolean,
  ) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      let found: ScheduleSummary | undefined;
      for await (const listed of t.temporal.client.schedule.list({ pageSize: 1000 })) {
        if (listed.scheduleId === scheduleId) found = listed;
      }
      if (shows(found)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the schedule list did not show the expected ${scheduleId} in time`);
  };
  const listedNote = (taskId: string, expected: (note: string) => boolean) =>
    waitForListing(
      `task-${taskId}`,
      (listed) => listed !== undefined && expected(listed.state.note ?? ''),
    );
  const listedWithFingerprint = (taskId: string) =>
    listedNote(taskId, (note) => fingerprintInNote(note) !== undefined);
  /** Runs reconcile with describe() watched; returns the summary and the task ids it described. */
  const reconcileCountingDescribes = async (
    opts: { deep?: boolean; listPageSize?: number } = {},
  ) => {
    const describe = jest.spyOn(services.schedules, 'describe');
    try {
      const summary = await reconcile(opts);
      return { summary, described: describe.mock.calls.map(([taskId]) => taskId) };
    } finally {
      describe.mockRestore();
    }
  };
  const rowOf = async (taskId: string) =>
    (
      await t.orm.em
        .fork()
        .getConnection()
        .execute(
          'select id, name, schedule, timezone, max_retry as "maxRetry", status from tasks where id = ?',
          [taskId],
        )
    )[0] as {
      id: string;
      name: string;
      schedule: string;
      timezone: string;
      maxRetry: number;
      status: 'ACTIVE';
    };

  it('when a schedule is missing, drifted or orphaned, and one row is bad, then each is repaired and the bad row is reported', async () => {
    const missing = await createTask('missing');
    const drifted = await createTask('drifted');
    const pausedDrift = await createTask('paused drift');
    const healthy = await createTask('healthy');
    await handle(missing.id).delete();
    await handle(drifted.id).update((previous) => ({
      ...previous,
      spec: { intervals: [{ every: '1h' }] },
      action: {
        ...(previous.action as object),
        args: [{ taskId: drifted.id, maxRetry: 9 }],
      } as never,
    }));
    await handle(pausedDrift.id).pause('paused by hand');
    const orphanId = randomUUID();
    await createBareSchedule(orphanId);
    // Reconcile judges from the schedule list first, which shows changes a moment late.
    await waitForListing(`task-${missing.id}`, (listed) => listed === undefined);
    await waitForListing(
      `task-${drifted.id}`,
      (listed) => (listed?.spec?.intervals ?? []).length > 0,
    );
    await listedNote(pausedDrift.id, (note) => note === 'paused by hand');
    const badId = randomUUID();
    await t.orm.em.getConnection().execute(
      `insert into tasks (id, name, schedule, webhook_url, payload, created_at, updated_at)
       values (?, 'bad row', '@reboot', 'https://discord.com/api/webhooks/1/t', '{"content":"x"}', now(), now())`,
      [badId],
    );

    try {
      const summary = await reconcile({ orphanGraceMs: 0 });
      expect(summary.created).toBeGreaterThanOrEqual(1);
      expect(summary.updated).toBeGreaterThanOrEqual(2);
      expect(summary.deleted).toBeGreaterThanOrEqual(1);
      // The list first: when another row fails too, the failure says which.
      expect(summary.failures).toEqual([
        { scheduleId: `task-${badId}`, error: expect.stringMatching(/@reboot/) },
      ]);
      expect(summary.failed).toBe(1);

      expect((await handle(missing.id).describe()).action).toMatchObject({
        args: [{ taskId: missing.id, maxRetry: 2 }],
      });
      const repaired = await handle(drifted.id).describe();
      expect(repaired.spec.intervals ?? []).toEqual([]);
      expect(repaired.spec.calendars?.[0]?.comment).toBe('*/10 * * * *');
      expect((repaired.action as { args: unknown[] }).args).toEqual([
        { taskId: drifted.id, maxRetry: 2 },
      ]);
      expect((await handle(pausedDrift.id).describe()).state.paused).toBe(false);
      expect((await handle(healthy.id).describe()).state.paused).toBe(false);
      await expect(handle(orphanId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);

      // A second pass finds nothing left to do (but the bad row).
      const again = await reconcile();
      expect(again).toMatchObject({ created: 0, updated: 0, deleted: 0, failed: 1 });
    } finally {
      await t.orm.em.getConnection().execute('delete from tasks where id = ?', [badId]);
    }
  });

  it('when a schedule without a task row is younger than the grace period, then it is kept for a later pass', async () => {
    // What a create in flight looks like: its schedule exists, its row is not committed yet.
    const inFlightId = randomUUID();
    await createBareSchedule(inFlightId);
    await waitForListing(`task-${inFlightId}`, (listed) => listed !== undefined);
    try {
      const summary = await reconcile();
      expect(summary.youngOrphans).toBeGreaterThanOrEqual(1);
      await expect(handle(inFlightId).describe()).resolves.toBeTruthy();

      // Its row commits after reconcile read the tasks but before the orphan step: the schedule is
      // kept even with no grace period, because the rows are read again before deleting.
      const connection = t.orm.em.getConnection();
      const execute = connection.execute.bind(connection);
      const spy = jest.spyOn(connection, 'execute').mockImplementation((async (
        sql: unknown,
        ...rest: unknown[]
      ) => {
        if (typeof sql === 'string' && sql.startsWith('select id from tasks where id in')) {
          await execute(
            `insert into tasks (id, name, schedule, webhook_url, payload, created_at, updated_at)
             values (?, 'late row', '0 0 1 1 *', 'https://discord.com/api/webhooks/1/t', '{"content":"x"}', now(), now())`,
            [inFlightId],
          );
        }
        return (execute as (...args: unknown[]) => Promise<unknown>)(sql, ...rest);
      }) as never);
      try {
        await reconcile({ orphanGraceMs: 0 });
        expect(spy).toHaveBeenCalled();
      } finally {
        spy.mockRestore();
      }
      await expect(handle(inFlightId).describe()).resolves.toBeTruthy();
    } finally {
      await t.orm.em.getConnection().execute('delete from tasks where id = ?', [inFlightId]);
      await handle(inFlightId)
        .delete()
        .catch(() => undefined);
    }
  });

  it('when stopped by its signal, then it stops early and deletes nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const summary = await reconcileSchedules({
      orm: t.orm,
      client: t.temporal.client,
      schedules: services.schedules,
      settings,
      logger,
      signal: controller.signal,
    });
    expect(summary).toMatchObject({ tasks: 0, deleted: 0 });
  });

  it('when a schedule lost its bounds and limited actions behind our back, then deep reconcile gives back endAt, startAt and the runs left', async () => {
    const startAt = new Date(Date.now() + 86_400_000);
    const endAt = new Date(Date.now() + 30 * 86_400_000);
    const task = await services.tasks.create({
      name: 'bounded, edited by hand',
      schedule: '0 9 * * *',
      webhookUrl: `https://discord.com/api/webhooks/42/${'t'.repeat(40)}`,
      payload: { content: 'hi' },
      startAt: startAt.toISOString(),
      endAt: endAt.toISOString(),
      maxRuns: 4,
    });
    await t.orm.em
      .fork()
      .getConnection()
      .execute('update tasks set runs_left = 2 where id = ?', [task.id]);
    await handle(task.id).update((previous) => ({
      ...previous,
      spec: { ...previous.spec, startAt: undefined, endAt: undefined },
      state: { ...previous.state, remainingActions: 0 },
    }));
    const edited = await handle(task.id).describe();
    expect([edited.spec.endAt, edited.state.remainingActions]).toEqual([undefined, 0]);

    await reconcile({ deep: true });

    const repaired = await handle(task.id).describe();
    expect(repaired.spec.startAt?.toISOString()).toBe(startAt.toISOString());
    expect(repaired.spec.endAt?.toISOString()).toBe(endAt.toISOString());
    expect(repaired.state.remainingActions).toBe(2);
  });

  describe('fast path', () => {
    it('when nothing drifted, then every schedule is judged unchanged from the list without a describe', async () => {
      const tasks = [await createTask('fast a'), await createTask('fast b', '@every 90s')];
      await services.tasks.toggle(tasks[1]!.id);
      for (const task of tasks) await listedWithFingerprint(task.id);
      await listedNote(tasks[1]!.id, (note) => note.startsWith('paused: task toggled off'));

      const { summary, described } = await reconcileCountingDescribes();

      for (const task of tasks) expect(described).not.toContain(task.id);
      expect(summary.unchanged).toBeGreaterThanOrEqual(2);
      expect((await handle(tasks[1]!.id).describe()).state.paused).toBe(true);
    });

    it('when the list comes a few schedules per page, then every page is read and each schedule judged from it', async () => {
      const tasks: { id: string }[] = [];
      for (const name of ['paged a', 'paged b', 'paged c', 'paged d', 'paged e'])
        tasks.push(await createTask(name));
      for (const task of tasks) await listedWithFingerprint(task.id);

      // A schedule on a page not read would look missing: created, found to exist, described.
      const { summary, described } = await reconcileCountingDescribes({ listPageSize: 2 });

      for (const task of tasks) expect(described).not.toContain(task.id);
      expect(summary.created).toBe(0);
      expect(summary.unchanged).toBeGreaterThanOrEqual(tasks.length);
    });

    it("when a task's maxRetry was changed in the database behind Temporal's back, then its schedule is repaired", async () => {
      const task = await createTask('retry changed');
      await listedWithFingerprint(task.id);
      await t.orm.em
        .getConnection()
        .execute('update tasks set max_retry = 7 where id = ?', [task.id]);

      const { summary, described } = await reconcileCountingDescribes();

      expect(described).toContain(task.id);
      expect(summary.updated).toBeGreaterThanOrEqual(1);
      const repaired = await handle(task.id).describe();
      expect((repaired.action as { args: unknown[] }).args).toEqual([
        { taskId: task.id, maxRetry: 7 },
      ]);
      expect(fingerprintInNote(repaired.state.note)).toBe(
        scheduleFingerprint(await rowOf(task.id), settings),
      );
    });

    it('when an operator changed the spec and left the note alone, then the list shows it and the schedule is repaired', async () => {
      const task = await createTask('spec edited by hand');
      await listedWithFingerprint(task.id);
      await handle(task.id).update((previous) => ({
        ...previous,
        spec: { intervals: [{ every: '1h' }] },
      }));
      const edited = await handle(task.id).describe();
      expect(fingerprintInNote(edited.state.note)).toBe(
        scheduleFingerprint(await rowOf(task.id), settings),
      );
      await waitForListing(
        `task-${task.id}`,
        (listed) => (listed?.spec?.intervals ?? []).length > 0,
      );

      const { described } = await reconcileCountingDescribes();

      expect(described).toContain(task.id);
      const repaired = await handle(task.id).describe();
      expect(repaired.spec.intervals ?? []).toEqual([]);
      expect(repaired.spec.calendars?.[0]?.comment).toBe('*/10 * * * *');
    });

    it('when a schedule has a note without fingerprint (an older version), then it is described once and gets one', async () => {
      const active = await createTask('old version');
      const failed = await createTask('old version, paused after a failure');
      await services.tasks.toggle(failed.id);
      await t.orm.em
        .getConnection()
        .execute(`update tasks set status = 'FAILED' where id = ?`, [failed.id]);
      const failureNote = 'paused due to workflow failure: task-x-2026: HTTP 404';
      await handle(active.id).update((previous) => ({
        ...previous,
        state: { ...previous.state, note: 'active' },
      }));
      await handle(failed.id).update((previous) => ({
        ...previous,
        state: { ...previous.state, note: failureNote },
      }));
      await listedNote(active.id, (note) => note === 'active');
      await listedNote(failed.id, (note) => note === failureNote);

      const { summary, described } = await reconcileCountingDescribes();

      expect(described).toEqual(expect.arrayContaining([active.id, failed.id]));
      expect(summary.fingerprinted).toBeGreaterThanOrEqual(2);
      const activeFingerprint = scheduleFingerprint(await rowOf(active.id), settings);
      expect((await handle(active.id).describe()).state.note).toBe(
        `active · config ${activeFingerprint}`,
      );
      // A paused schedule keeps the reason it was paused with.
      const failedFingerprint = scheduleFingerprint(await rowOf(failed.id), settings);
      expect((await handle(failed.id).describe()).state).toEqual({
        paused: true,
        note: `${failureNote} · config ${failedFingerprint}`,
      });

      await listedWithFingerprint(active.id);
      await listedWithFingerprint(failed.id);
      const again = await reconcileCountingDescribes();
      expect(again.described).not.toContain(active.id);
      expect(again.described).not.toContain(failed.id);
    });

    it('when deep, then every schedule is described, including ones whose list entry matches', async () => {
      const task = await createTask('deep');
      await listedWithFingerprint(task.id);
      // An edit the list cannot show: the argument, under an untouched note.
      await handle(task.id).update((previous) => ({
        ...previous,
        action: {
          ...(previous.action as object),
          args: [{ taskId: task.id, maxRetry: 9 }],
        } as never,
      }));

      const fast = await reconcileCountingDescribes();
      expect(fast.described).not.toContain(task.id);

      const deep = await reconcileCountingDescribes({ deep: true });
      expect(deep.described).toContain(task.id);
      const { described, unchanged, updated, fingerprinted } = deep.summary;
      expect(described).toBeGreaterThanOrEqual(unchanged + updated + fingerprinted);
      expect(deep.summary.updated).toBeGreaterThanOrEqual(1);
      expect((await handle(task.id).describe()).action).toMatchObject({
        args: [{ taskId: task.id, maxRetry: 2 }],
      });
    });
  });
});
