import { randomUUID } from 'node:crypto';
import type { ScheduleDescription, ScheduleOptions } from '@temporalio/client';
import type { TypedSearchAttributes } from '@temporalio/common';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import type { TaskResource } from '../../src/services/task.service';
import { TASK_ID_KEY, TASK_NAME_KEY } from '../../src/temporal/execution-metadata';
import { reconcileSchedules, scheduleDrift } from '../../src/temporal/reconcile';
import {
  buildScheduleOptions,
  fingerprintInNote,
  type SchedulableTask,
  scheduleFingerprint,
  scheduleSettings,
} from '../../src/temporal/schedules';
import { ensureTaskSearchAttributes } from '../../src/temporal/search-attributes';
import { createTestApp, type TestApp } from '../helpers/app';

/**
 * SPEC §15 on the suite's Temporal dev server: schedules carry TaskId, TaskName, a summary and
 * details for the runs they start; those written before (without them) get them from
 * reconciliation, and a rename reaches them through PATCH or, behind the API's back, through
 * reconciliation.
 */
describe('task search attributes on schedules', () => {
  let t: TestApp;
  const settings = scheduleSettings(loadConfig(process.env));
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const handle = (taskId: string) => t.temporal.client.schedule.getHandle(`task-${taskId}`);
  const createTask = (name: string) =>
    t.services.tasks.create({
      name,
      schedule: '0 9 * * 1-5',
      timezone: 'Europe/Paris',
      webhookUrl: `https://discord.com/api/webhooks/42/${'t'.repeat(40)}`,
      payload: { content: 'hi' },
      maxRetry: 1,
    });
  const reconcile = () =>
    reconcileSchedules({
      orm: t.orm,
      client: t.temporal.client,
      schedules: t.services.schedules,
      settings,
      logger,
    });
  /** The schedule's action, its search attributes as the client decodes them (typed). */
  const actionOf = (description: ScheduleDescription) =>
    description.action as Omit<ScheduleDescription['action'], 'typedSearchAttributes'> & {
      typedSearchAttributes?: TypedSearchAttributes;
    };
  /** The scheduling fields of a task resource, as reconciliation reads them from its row. */
  const rowOf = (task: TaskResource): SchedulableTask => ({
    id: task.id,
    name: task.name,
    schedule: task.schedule,
    timezone: task.timezone,
    maxRetry: task.maxRetry,
    status: task.status,
  });
  /** Waits until the schedule list (a visibility store, a moment behind) shows the note. */
  const listedWithNote = async (taskId: string, note: string) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      for await (const listed of t.temporal.client.schedule.list({ pageSize: 1000 })) {
        if (listed.scheduleId === `task-${taskId}` && listed.state.note === note) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the schedule list did not show task-${taskId} with its note in time`);
  };

  it('when a task is created, then its schedule starts runs with TaskId, TaskName, a summary naming it and details linking the console', async () => {
    const name = `Stand-up ${randomUUID().slice(0, 8)}`;
    const task = await createTask(name);
    const action = actionOf(await handle(task.id).describe());
    expect(action.typedSearchAttributes?.get(TASK_ID_KEY)).toBe(task.id);
    expect(action.typedSearchAttributes?.get(TASK_NAME_KEY)).toBe(name);
    expect(action.staticSummary).toBe(`${name} · At 09:00, Monday through Friday (Europe/Paris)`);
    expect(action.staticDetails).toContain(`${settings.publicUrl}/tasks/${task.id}`);
    // The argument stays ids and numbers: no webhook URL, no payload.
    expect(action.args).toEqual([{ taskId: task.id, maxRetry: 1 }]);
  });

  it('when a schedule was written before SPEC §15 (no attributes, no summary, the old fingerprint), then reconcileSchedules gives it them, and the runs it starts carry them', async () => {
    const name = `Before ${randomUUID().slice(0, 8)}`;
    const task = await createTask(name);
    // The schedule as the previous version wrote it: the same, without the §15 fields, and its
    // note ending with the fingerprint of then.
    await handle(task.id).delete();
    const current = buildScheduleOptions(rowOf(task), settings);
    const { typedSearchAttributes, staticSummary, staticDetails, ...oldAction } =
      current.action as ScheduleOptions['action'];
    expect([typedSearchAttributes, staticSummary, staticDetails].every(Boolean)).toBe(true);
    const oldNote = 'active · config 40ed4713787c';
    await t.temporal.client.schedule.create({
      ...current,
      action: oldAction,
      state: { ...current.state, note: oldNote },
    });
    const before = await handle(task.id).describe();
    expect(actionOf(before).typedSearchAttributes?.get(TASK_ID_KEY)).toBeUndefined();
    expect(actionOf(before).staticSummary).toBeUndefined();
    expect(scheduleDrift(before, current).sort()).toEqual(['name', 'searchAttributes', 'summary']);
    await listedWithNote(task.id, oldNote);

    const summary = await reconcile();
    expect(summary.failures).toEqual([]);
    expect(summary.updated).toBeGreaterThanOrEqual(1);

    const after = await handle(task.id).describe();
    expect(actionOf(after).typedSearchAttributes?.get(TASK_ID_KEY)).toBe(task.id);
    expect(actionOf(after).typedSearchAttributes?.get(TASK_NAME_KEY)).toBe(name);
    expect(actionOf(after).staticSummary).toContain(name);
    expect(fingerprintInNote(after.state.note)).toBe(scheduleFingerprint(rowOf(task), settings));
    expect(scheduleDrift(after, current)).toEqual([]);

    // A run it starts now (no worker polls this queue: the start alone is the proof).
    await handle(task.id).trigger();
    const deadline = Date.now() + 15_000;
    let runId: string | undefined;
    while (!runId && Date.now() < deadline) {
      runId = (await handle(task.id).describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!runId) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(runId).toBeDefined();
    const run = t.temporal.client.workflow.getHandle(runId!);
    try {
      const description = await run.describe();
      expect(description.typedSearchAttributes.get(TASK_ID_KEY)).toBe(task.id);
      expect(description.typedSearchAttributes.get(TASK_NAME_KEY)).toBe(name);
      expect(await description.staticSummary()).toContain(name);
    } finally {
      await run.terminate('test over').catch(() => undefined);
    }
  });

  it('when a task is renamed through PATCH, then its schedule says the new name at once', async () => {
    const task = await createTask(`Old ${randomUUID().slice(0, 8)}`);
    const renamed = `New ${randomUUID().slice(0, 8)}`;
    await t.services.tasks.update(task.id, { name: renamed });
    const action = actionOf(await handle(task.id).describe());
    expect(action.typedSearchAttributes?.get(TASK_NAME_KEY)).toBe(renamed);
    expect(action.memo).toEqual({ taskName: renamed });
    expect(action.staticSummary?.startsWith(`${renamed} · `)).toBe(true);
  });

  it("when a task's name changed in the database behind the API's back, then reconciliation finds the drift from the list and renames the schedule", async () => {
    const task = await createTask(`Quiet ${randomUUID().slice(0, 8)}`);
    const note = (await handle(task.id).describe()).state.note!;
    await listedWithNote(task.id, note);
    const renamed = `Renamed ${randomUUID().slice(0, 8)}`;
    await t.orm.em
      .fork()
      .getConnection()
      .execute('update tasks set name = ? where id = ?', [renamed, task.id]);

    const describe = jest.spyOn(t.services.schedules, 'describe');
    try {
      await reconcile();
      // The fingerprint in the listed note no longer matches: described, then repaired.
      expect(describe.mock.calls.map(([id]) => id)).toContain(task.id);
    } finally {
      describe.mockRestore();
    }
    const action = actionOf(await handle(task.id).describe());
    expect(action.typedSearchAttributes?.get(TASK_NAME_KEY)).toBe(renamed);
    expect(action.memo).toEqual({ taskName: renamed });
  });

  it('when the attributes are ensured again on a server that has them, then nothing is added', async () => {
    const outcome = await ensureTaskSearchAttributes({
      connection: t.temporal.connection,
      namespace: 'default',
    });
    expect(outcome.added).toEqual([]);
  });
});
