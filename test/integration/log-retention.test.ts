import { randomUUID } from 'node:crypto';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
} from '@temporalio/worker';
import { createRetentionActivities } from '../../activities/retention.activities';
import { initOrm, type Orm, prepareDatabase } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { createStatsService } from '../../src/services/stats.service';
import { SCHEDULE_ID_PREFIX } from '../../src/temporal/contracts';
import {
  ensurePruneLogsSchedule,
  PRUNE_LOGS_SCHEDULE_ID,
  type PruneLogsInput,
  type PruneLogsResult,
} from '../../src/temporal/retention';
import { WORKFLOWS_PATH } from '../../src/temporal/workflow-bundle';
import type { pruneLogs } from '../../workflows';
import { testEnv } from '../helpers/app';

const DAY = 24 * 60 * 60 * 1000;

/**
 * The log retention (SPEC §12) against the real PostgreSQL and Temporal: the prune activity
 * deletes in batches, heartbeating, and leaves recent logs and the attempt counters alone; the
 * workflow keeps everything at LOG_RETENTION_DAYS=0; the system schedule exists once however many
 * starts race to create it. The prune deletes by age across the whole table, so this file has a
 * database of its own.
 */
describe('log retention', () => {
  const database = `retention_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  let orm: Orm;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    const url = new URL(testEnv().databaseUrl);
    url.pathname = `/${database}`;
    await prepareDatabase(url.toString(), createLogger({ level: 'silent' }));
    orm = await initOrm({ databaseUrl: url.toString(), poolMax: 4 });
    connection = await Connection.connect({ address: testEnv().temporalAddress });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await orm?.close();
    await connection?.close();
    const admin = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 1 });
    try {
      await admin.em.getConnection().execute(`drop database if exists "${database}" with (force)`);
    } finally {
      await admin.close();
    }
  });
  beforeEach(async () => {
    await sql('truncate tasks, task_logs, log_counts_hourly, log_counts_total');
  });

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) =>
    orm.em.getConnection().execute<T[]>(query, params);

  /** A task with `old` logs `ageDays` old and `recent` logs from the last hour. */
  async function seed(old: number, recent: number, ageDays: number): Promise<string> {
    const taskId = randomUUID();
    await sql(
      `insert into tasks (id, name, schedule, webhook_url, payload, created_at, updated_at)
       values (?, 'retention', '0 0 1 1 *', 'https://discord.com/api/webhooks/1/t', '{"content":"x"}', now(), now())`,
      [taskId],
    );
    for (const [count, from] of [
      [old, `now() - interval '${ageDays} days'`],
      [recent, 'now()'],
    ] as const) {
      await sql(
        `insert into task_logs (id, task_id, execution_time, status, attempt, workflow_id, run_id, created_at)
         select gen_random_uuid(), ?, ${from} - i * interval '1 second', 'SUCCESS', 1, 'wf-' || gen_random_uuid(), 'run', now()
         from generate_series(1, ?) as i`,
        [taskId, count],
      );
    }
    return taskId;
  }

  const countLogs = async () =>
    Number((await sql<{ n: number }>('select count(*)::int as n from task_logs'))[0]!.n);

  it('when the prune runs, then logs older than the cut-off go in batches, heartbeating after each, and recent logs and the counters stay', async () => {
    await seed(2_345, 150, 40);
    const stats = createStatsService({ orm });
    const before = await stats.get();
    const metrics = createMetrics();
    const activities = createRetentionActivities({ orm, metrics: metrics.delivery.logPrune });
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));

    const result = await env.run(activities.pruneLogs, {
      before: new Date(Date.now() - 30 * DAY).toISOString(),
      batchSize: 500,
    });

    expect(result).toMatchObject({ deleted: 2_345, batches: 5 });
    expect(heartbeats).toEqual(
      [500, 1000, 1500, 2000, 2345].map((deleted, i) =>
        // `after`: where the next batch starts, the newest execution time deleted so far.
        ({ deleted, batches: i + 1, after: expect.stringMatching(/^\d{4}-.*\.\d{6}Z$/) }),
      ),
    );
    expect(await countLogs()).toBe(150);
    // The counters count the rows that exist (SPEC §12): the prune takes its rows' counts along.
    const after = (await stats.get()).executions;
    expect(after.total).toBe(before.executions.total - 2_345);
    expect(after.success).toBe(before.executions.success - 2_345);
    expect(after.last24h).toEqual(before.executions.last24h);
    const text = await metrics.render();
    expect(text).toMatch(/^log_prune_deleted_rows_total 2345$/m);
    expect(text).toMatch(/^log_prune_batches_total 5$/m);
    expect(text).toMatch(/^log_prune_duration_seconds_count\{outcome="completed"\} 1$/m);
  });

  it('when a batch size divides the old rows exactly, then one more (empty) batch confirms the end', async () => {
    await seed(1_000, 10, 40);
    const activities = createRetentionActivities({ orm });
    const result = await new MockActivityEnvironment().run(activities.pruneLogs, {
      before: new Date(Date.now() - 30 * DAY).toISOString(),
      batchSize: 500,
    });
    expect(result).toMatchObject({ deleted: 1_000, batches: 3 });
    expect(await countLogs()).toBe(10);
  });

  it('when many old rows share one execution time across batch boundaries, then every one of them goes', async () => {
    const taskId = await seed(0, 10, 40);
    await sql(
      `insert into task_logs (id, task_id, execution_time, status, attempt, workflow_id, run_id, created_at)
       select gen_random_uuid(), ?, now() - interval '40 days', 'FAILED', 1, 'same-' || i, 'run', now()
       from generate_series(1, 1234) as i`,
      [taskId],
    );
    const result = await new MockActivityEnvironment().run(
      createRetentionActivities({ orm }).pruneLogs,
      { before: new Date(Date.now() - 30 * DAY).toISOString(), batchSize: 500 },
    );
    expect(result).toMatchObject({ deleted: 1_234, batches: 3 });
    expect(await countLogs()).toBe(10);
  });

  it('when a prune is retried after a heartbeat, then its figures continue from the heartbeat', async () => {
    await seed(300, 0, 40);
    const activities = createRetentionActivities({ orm });
    const env = new MockActivityEnvironment({ heartbeatDetails: { deleted: 700, batches: 2 } });
    const result = await env.run(activities.pruneLogs, {
      before: new Date(Date.now() - 30 * DAY).toISOString(),
      batchSize: 500,
    });
    expect(result).toMatchObject({ deleted: 1_000, batches: 3 });
  });

  describe('the workflow on a real worker', () => {
    let workflowBundle: Awaited<ReturnType<typeof bundleWorkflowCode>>;
    let workerConnection: NativeConnection;
    afterAll(async () => {
      await workerConnection?.close();
    });
    beforeAll(async () => {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
      workerConnection = await NativeConnection.connect({ address: testEnv().temporalAddress });
      workflowBundle = await bundleWorkflowCode({
        workflowsPath: WORKFLOWS_PATH,
        logger: new DefaultLogger('ERROR'),
      });
    }, 120_000);

    async function run(input: PruneLogsInput): Promise<PruneLogsResult> {
      const taskQueue = `test-prune-${randomUUID()}`;
      const worker = await Worker.create({
        connection: workerConnection,
        taskQueue,
        workflowBundle,
        activities: createRetentionActivities({ orm }),
      });
      return worker.runUntil(
        client.workflow.execute<typeof pruneLogs>('pruneLogs', {
          taskQueue,
          workflowId: `test-prune-${randomUUID()}`,
          args: [input],
        }),
      );
    }

    it('when LOG_RETENTION_DAYS is 0, then the run deletes nothing, however old the logs', async () => {
      await seed(200, 5, 4_000);
      const result = await run({ retentionDays: 0, batchSize: 100 });
      expect(result).toEqual({ deleted: 0, batches: 0, durationMs: 0, before: null });
      expect(await countLogs()).toBe(205);
    });

    it('when LOG_RETENTION_DAYS is 30, then the run deletes the logs older than 30 days from its own clock', async () => {
      await seed(250, 7, 31);
      await seed(3, 0, 29); // inside the retention: kept
      const result = await run({ retentionDays: 30, batchSize: 100 });
      expect(result).toMatchObject({ deleted: 250, batches: 3 });
      expect(Date.parse(result.before!)).toBeGreaterThan(Date.now() - 30 * DAY - 60_000);
      expect(await countLogs()).toBe(10);
    });
  });

  describe('the system schedule', () => {
    const logger = createLogger({ level: 'silent' });
    // The dev server is shared: a product another test file started has created it already.
    const remove = () =>
      client.schedule
        .getHandle(PRUNE_LOGS_SCHEDULE_ID)
        .delete()
        .catch((error: unknown) => {
          if (!(error instanceof ScheduleNotFoundError)) throw error;
        });
    beforeEach(remove);
    afterEach(remove);

    it('when two starts race to create it, then one schedule exists and both succeed', async () => {
      const ensure = () =>
        ensurePruneLogsSchedule({
          client,
          taskQueue: 'q',
          retentionDays: 90,
          batchSize: 5000,
          logger,
        });
      const outcomes = await Promise.all([ensure(), ensure(), ensure()]);
      expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'updated')).toHaveLength(2);

      const description = await client.schedule.getHandle(PRUNE_LOGS_SCHEDULE_ID).describe();
      expect(description.action).toMatchObject({
        type: 'startWorkflow',
        workflowType: 'pruneLogs',
        taskQueue: 'q',
        args: [{ retentionDays: 90, batchSize: 5000 }],
      });
      expect(description.spec.calendars).toEqual([
        expect.objectContaining({
          hour: [{ start: 3, end: 3, step: 1 }],
          minute: [{ start: 17, end: 17, step: 1 }],
        }),
      ]);
      // Reconciliation deletes `task-*` schedules without a task; this one is not one of them.
      expect(PRUNE_LOGS_SCHEDULE_ID.startsWith(SCHEDULE_ID_PREFIX)).toBe(false);
    });

    it('when a later start has another retention, then the schedule follows it and keeps an operator pause', async () => {
      await ensurePruneLogsSchedule({
        client,
        taskQueue: 'q',
        retentionDays: 90,
        batchSize: 5000,
        logger,
      });
      await client.schedule.getHandle(PRUNE_LOGS_SCHEDULE_ID).pause('operator');
      await ensurePruneLogsSchedule({
        client,
        taskQueue: 'q',
        retentionDays: 0,
        batchSize: 1000,
        logger,
      });
      const description = await client.schedule.getHandle(PRUNE_LOGS_SCHEDULE_ID).describe();
      expect(description.action).toMatchObject({ args: [{ retentionDays: 0, batchSize: 1000 }] });
      expect(description.state.paused).toBe(true);
      expect(description.state.note).toMatch(/keeps every log/);
    });
  });
});
