import { randomUUID } from 'node:crypto';
import { ValidationError } from '../../src/errors';
import type { Services } from '../../src/services';
import type { CreateTaskInput } from '../../src/services/task.service';
import { createTestApp, type TestApp } from '../helpers/app';

describe('TaskService.createMany', () => {
  let t: TestApp;
  let services: Services;

  beforeAll(async () => {
    t = await createTestApp();
    services = t.services;
  });
  afterAll(() => t.close());

  let seq = 3_000_000;
  const input = (name: string, overrides: Partial<CreateTaskInput> = {}): CreateTaskInput => ({
    name,
    schedule: '0 9 * * 1-5',
    webhookUrl: `https://discord.com/api/webhooks/${seq++}/${'t'.repeat(68)}`,
    payload: { content: 'bulk {{task.name}}' },
    maxRetry: 2,
    ...overrides,
  });
  const rowsNamed = async (prefix: string) =>
    (await t.orm.em
      .getConnection()
      .execute('select id, name, max_retry from tasks where name like ? order by name', [
        `${prefix}%`,
      ])) as {
      id: string;
      name: string;
      max_retry: number;
    }[];
  const schedule = (taskId: string) => t.temporal.client.schedule.getHandle(`task-${taskId}`);

  it('when 25 valid tasks are given, then each gets its row and its schedule, and the ids come back', async () => {
    const prefix = `bulk-${randomUUID().slice(0, 8)}`;
    const inputs = Array.from({ length: 25 }, (_, i) =>
      input(`${prefix}-${String(i).padStart(2, '0')}`),
    );
    const { ids } = await services.tasks.createMany(inputs, { concurrency: 8 });

    expect(ids).toHaveLength(25);
    const rows = await rowsNamed(prefix);
    expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
    for (const id of [ids[0]!, ids[24]!]) {
      const description = await schedule(id).describe();
      expect(description.action).toMatchObject({ args: [{ taskId: id, maxRetry: 2 }] });
      expect(description.state.paused).toBe(false);
    }
  });

  it('when one input is invalid, then nothing is written and the error names it by index', async () => {
    const prefix = `bulk-bad-${randomUUID().slice(0, 8)}`;
    const inputs = [
      input(`${prefix}-0`),
      input(`${prefix}-1`),
      input(`${prefix}-2`, { schedule: '61 * * * *' }),
    ];
    const error = await services.tasks.createMany(inputs).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors).toEqual([
      { path: 'body[2].schedule', message: expect.stringContaining('61') },
    ]);
    expect(await rowsNamed(prefix)).toEqual([]);
  });

  it('when Temporal refuses one schedule, then no new task starts, none is half-written, and the error says how many were created', async () => {
    const prefix = `bulk-refused-${randomUUID().slice(0, 8)}`;
    const inputs = Array.from({ length: 6 }, (_, i) => input(`${prefix}-${i}`));
    const create = services.schedules.create.bind(services.schedules);
    let calls = 0;
    const spy = jest.spyOn(services.schedules, 'create').mockImplementation(async (task) => {
      calls += 1;
      if (calls === 3) throw new Error('refused by Temporal');
      return create(task);
    });
    try {
      const error = (await services.tasks
        .createMany(inputs, { concurrency: 1 })
        .catch((e: unknown) => e)) as Error & {
        createdIds: string[];
      };
      expect(error.message).toBe('bulk create stopped after 2 of 6 tasks: refused by Temporal');
      expect(error.createdIds).toHaveLength(2);
      expect(spy).toHaveBeenCalledTimes(3);
    } finally {
      spy.mockRestore();
    }
    // The refused task's row was rolled back; the two before it are whole.
    const rows = await rowsNamed(prefix);
    expect(rows.map((row) => row.name)).toEqual([`${prefix}-0`, `${prefix}-1`]);
    for (const row of rows) await expect(schedule(row.id).describe()).resolves.toBeTruthy();
  });
});
