import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { createServices, type Services } from '../../src/services';
import { reconcileSchedules } from '../../src/temporal/reconcile';
import { createTestApp, type TestApp } from '../helpers/app';

describe('reconcileSchedules', () => {
  let t: TestApp;
  let services: Services;
  const settings = { taskQueue: 'discord-webhooks', catchupWindowMs: 300_000 };
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    t = await createTestApp();
    services = createServices({ config: loadConfig(process.env), orm: t.orm, temporal: t.temporal, logger });
  });
  afterAll(() => t.close());

  const handle = (taskId: string) => t.temporal.client.schedule.getHandle(`task-${taskId}`);
  const createTask = (name: string, schedule = '*/10 * * * *') =>
    services.tasks.create({
      name,
      schedule,
      webhookUrl: `https://discord.com/api/webhooks/42/${'t'.repeat(40)}`,
      payload: { content: 'hi' },
      maxRetry: 2,
    });
  const reconcile = () =>
    reconcileSchedules({ orm: t.orm, client: t.temporal.client, schedules: services.schedules, settings, logger });

  it('when a schedule is missing, drifted or orphaned, and one row is bad, then each is repaired and the bad row is reported', async () => {
    const missing = await createTask('missing');
    const drifted = await createTask('drifted');
    const pausedDrift = await createTask('paused drift');
    const healthy = await createTask('healthy');
    await handle(missing.id).delete();
    await handle(drifted.id).update((previous) => ({
      ...previous,
      spec: { intervals: [{ every: '1h' }] },
      action: { ...(previous.action as object), args: [{ taskId: drifted.id, maxRetry: 9 }] } as never,
    }));
    await handle(pausedDrift.id).pause('paused by hand');
    const orphanId = randomUUID();
    await t.temporal.client.schedule.create({
      scheduleId: `task-${orphanId}`,
      spec: { intervals: [{ every: '1h' }] },
      action: { type: 'startWorkflow', workflowType: 'sendWebhook', taskQueue: 'discord-webhooks', args: [] },
      state: { paused: true },
    });
    const badId = randomUUID();
    await t.orm.em.getConnection().execute(
      `insert into tasks (id, name, schedule, webhook_url, payload, created_at, updated_at)
       values (?, 'bad row', '@reboot', 'https://discord.com/api/webhooks/1/t', '{"content":"x"}', now(), now())`,
      [badId],
    );

    try {
      const summary = await reconcile();
      expect(summary.created).toBeGreaterThanOrEqual(1);
      expect(summary.updated).toBeGreaterThanOrEqual(2);
      expect(summary.deleted).toBeGreaterThanOrEqual(1);
      expect(summary.failed).toBe(1);
      expect(summary.failures).toEqual([
        { scheduleId: `task-${badId}`, error: expect.stringMatching(/@reboot/) },
      ]);

      expect((await handle(missing.id).describe()).action).toMatchObject({ args: [{ taskId: missing.id, maxRetry: 2 }] });
      const repaired = await handle(drifted.id).describe();
      expect(repaired.spec.intervals ?? []).toEqual([]);
      expect(repaired.spec.calendars?.[0]?.comment).toBe('*/10 * * * *');
      expect((repaired.action as { args: unknown[] }).args).toEqual([{ taskId: drifted.id, maxRetry: 2 }]);
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
});
