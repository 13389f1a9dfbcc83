import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { initOrm, type Orm } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { createDependencyCircuits } from '../../src/services';
import { createTaskService, type CreateTaskInput } from '../../src/services/task.service';
import { createTemporalClient, type TemporalClientHandle } from '../../src/temporal/client';
import type { ScheduleGateway } from '../../src/temporal/schedules';
import { testSecrets } from '../helpers/app';

/**
 * A write holds its database connection until Temporal has taken the schedule (the row commits
 * only then). When Temporal answers slowly and more writes run than the pool has connections,
 * the database circuit's probe (`select 1`) used to wait for a connection past its 700 ms and
 * call the database down: every call then failed with "The database is unreachable" although
 * PostgreSQL was fine (bench of 2026-12-02: a bulk create of 10,000 stopped at 3,832 and 6,323).
 */
describe('writes that wait on Temporal, more of them than the pool has connections', () => {
  const POOL = 4;
  const TEMPORAL_MS = 1_500;
  let orm: Orm;
  let temporal: TemporalClientHandle;

  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: process.env.DATABASE_URL!, poolMax: POOL });
    // Never called: the schedule gateway below stands in for Temporal.
    temporal = createTemporalClient({
      address: `127.0.0.1:${await getFreePort()}`,
      namespace: 'default',
    });
  });
  afterAll(async () => {
    await temporal.close();
    await orm.close(true);
  });

  it('when twice as many creates as connections each wait 1.5 s on Temporal, then all succeed, the database circuit stays closed, and a read meanwhile is answered at once', async () => {
    const logger = pino({ level: 'silent' });
    const circuits = createDependencyCircuits({ orm, temporal, logger });
    let schedulesMade = 0;
    const slowTemporal: ScheduleGateway = {
      create: async () => {
        await sleep(TEMPORAL_MS);
        schedulesMade += 1;
      },
      update: async () => undefined,
      delete: async () => undefined,
      describe: async () => {
        throw new Error('not used');
      },
      manualRunMetadata: () => {
        throw new Error('not used');
      },
    };
    const tasks = createTaskService({
      orm,
      schedules: slowTemporal,
      client: temporal.client as Client,
      circuits,
      logger,
      settings: { taskQueue: 'unused', allowedOrigins: ['https://discord.com'] },
      secrets: testSecrets(),
    });
    const prefix = `pool-reserve ${randomUUID().slice(0, 8)}`;
    const input = (i: number): CreateTaskInput => ({
      name: `${prefix} ${i}`,
      schedule: '0 9 * * *',
      webhookUrl: `https://discord.com/api/webhooks/${1000 + i}/tok-${randomUUID()}`,
      payload: { content: 'hello' },
    });

    const creates = Promise.allSettled(
      Array.from({ length: 2 * POOL }, (_, i) => tasks.create(input(i))),
    );
    // Every connection the writes may take is taken and waiting on Temporal by now.
    await sleep(TEMPORAL_MS / 3);
    const readStarted = Date.now();
    const page = await tasks.list({ page: 1, limit: 5, search: prefix });
    const readMs = Date.now() - readStarted;
    const results = await creates;

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(schedulesMade).toBe(2 * POOL);
    expect(circuits.database.isOpen()).toBe(false);
    expect(page.data).toEqual([]);
    // Not behind the writes (which end 1.5 s and 3 s in): a connection was left for it.
    expect(readMs).toBeLessThan(TEMPORAL_MS / 2);
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<{ n: number }[]>('select count(*)::int as n from tasks where name like ?', [
        `${prefix}%`,
      ]);
    expect(rows).toEqual([{ n: 2 * POOL }]);
  });
});
