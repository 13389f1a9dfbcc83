import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { ScheduleNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { loadConfig } from '../../src/config';
import { getFreePort } from '../../src/embedded/ports';
import pino from 'pino';
import { createMetrics } from '../../src/metrics';
import { createServices } from '../../src/services';
import { createTemporalClient } from '../../src/temporal/client';
import { createTestApp, TEST_API_KEY, testSecrets, type TestApp } from '../helpers/app';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';

const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';
const token = () =>
  Array.from(
    { length: 68 },
    () => TOKEN_ALPHABET[Math.floor(Math.random() * TOKEN_ALPHABET.length)],
  ).join('');

describe('tasks API on real PostgreSQL and Temporal', () => {
  let discord: MockDiscord;
  let t: TestApp;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    discord = await startMockDiscord();
    env = {
      ...process.env,
      WEBHOOK_ALLOWED_ORIGINS: `${discord.url},https://discord.com`,
      LOG_LEVEL: 'silent',
    };
    t = await createTestApp({ env });
  });
  afterAll(async () => {
    await t.close();
    await discord.close();
  });

  const api = () => ({
    post: (path: string, body?: object) =>
      request(t.app).post(path).set('X-API-Key', TEST_API_KEY).send(body),
    get: (path: string) => request(t.app).get(path).set('X-API-Key', TEST_API_KEY),
    patch: (path: string, body: object) =>
      request(t.app).patch(path).set('X-API-Key', TEST_API_KEY).send(body),
    delete: (path: string) => request(t.app).delete(path).set('X-API-Key', TEST_API_KEY),
  });

  function newTask(overrides: Record<string, unknown> = {}) {
    return {
      name: `task ${randomUUID().slice(0, 8)}`,
      schedule: '*/5 * * * *',
      webhookUrl: `https://discord.com/api/webhooks/${Date.now()}${Math.floor(Math.random() * 1000)}/${token()}`,
      payload: { content: 'Hello from {{task.name}} at {{execution.scheduledTime}}' },
      ...overrides,
    };
  }

  async function create(overrides: Record<string, unknown> = {}) {
    const body = newTask(overrides);
    const res = await api().post('/api/tasks', body);
    expect(res.status).toBe(201);
    return { body, task: res.body as Record<string, unknown> & { id: string } };
  }

  const schedule = (taskId: string) => t.temporal.client.schedule.getHandle(`task-${taskId}`);

  describe('POST /api/tasks', () => {
    it('when a valid task is posted, then 201 with the masked URL, nextRunAt, and a matching Temporal schedule', async () => {
      const { body, task } = await create({ maxRetry: 5 });
      const secret = body.webhookUrl.split('/').pop()!;
      expect(task).toMatchObject({
        name: body.name,
        schedule: '*/5 * * * *',
        timezone: 'UTC',
        payload: body.payload,
        maxRetry: 5,
        status: 'ACTIVE',
        lastExecutionAt: null,
        lastExecutionStatus: null,
      });
      expect(task.webhookUrl).toMatch(
        new RegExp(`^https://discord\\.com/api/webhooks/\\d+/\\*\\*\\*\\*${secret.slice(-4)}$`),
      );
      expect(JSON.stringify(task)).not.toContain(secret);
      const next = new Date(task.nextRunAt as string);
      expect(next.getTime()).toBeGreaterThan(Date.now() - 1000);
      expect(next.getUTCMinutes() % 5).toBe(0);

      const description = await schedule(task.id).describe();
      expect(description.scheduleId).toBe(`task-${task.id}`);
      expect(description.state.paused).toBe(false);
      expect(description.memo).toEqual({ taskName: body.name });
      expect(description.policies).toMatchObject({ overlap: 'BUFFER_ALL', pauseOnFailure: true });
      const action = description.action as {
        workflowType: string;
        workflowId: string;
        args: unknown[];
        taskQueue: string;
      };
      expect(action.workflowType).toBe('sendWebhook');
      expect(action.workflowId).toBe(`task-${task.id}`);
      expect(action.taskQueue).toBe('discord-webhooks');
      expect(action.args).toEqual([{ taskId: task.id, maxRetry: 5 }]);
      expect(JSON.stringify(description)).not.toContain(secret);
    });

    it('when posted INACTIVE, then the schedule is created paused and nextRunAt is null', async () => {
      const { task } = await create({ status: 'INACTIVE' });
      expect(task.status).toBe('INACTIVE');
      expect(task.nextRunAt).toBeNull();
      expect((await schedule(task.id).describe()).state.paused).toBe(true);
    });

    it('when the schedule is 0 9 * * * in America/New_York, then nextRunAt is 9:00 New York time', async () => {
      const { task } = await create({ schedule: '0 9 * * *', timezone: 'America/New_York' });
      const next = new Date(task.nextRunAt as string);
      const local = new Intl.DateTimeFormat('en-US', {
        timeZone: 'America/New_York',
        hour: 'numeric',
        minute: 'numeric',
        hour12: false,
      }).format(next);
      expect(local).toBe('09:00');
      expect([13, 14]).toContain(next.getUTCHours());
    });

    it('when the schedule is @every 15m, then nextRunAt is on a quarter hour', async () => {
      const { task } = await create({ schedule: '@every 15m' });
      const next = new Date(task.nextRunAt as string);
      expect(next.getUTCMinutes() % 15).toBe(0);
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    });

    it('when day-of-month and day-of-week are both set, then the task runs on either (standard cron)', async () => {
      const { task } = await create({ schedule: '0 0 13 * 5' });
      const description = await schedule(task.id).describe();
      const times = description.info.nextActionTimes;
      expect(times.length).toBeGreaterThan(3);
      for (const time of times)
        expect(time.getUTCDate() === 13 || time.getUTCDay() === 5).toBe(true);
      expect(times.some((time) => time.getUTCDay() === 5 && time.getUTCDate() !== 13)).toBe(true);
      expect(new Date(task.nextRunAt as string).getTime()).toBe(times[0]!.getTime());
    });

    it.each([
      ['schedule', { schedule: '@reboot' }, /@reboot is not supported/],
      ['schedule', { schedule: '0 0 * * * *' }, /6 fields/],
      ['schedule', { schedule: '60 * * * *' }, /minute 60 is out of range 0-59/],
      ['timezone', { timezone: 'Mars/Olympus_Mons' }, /time zone/],
      [
        'webhookUrl',
        { webhookUrl: 'https://evil.example.com/api/webhooks/1/abcdefghijklmnopqrstuvwxyz' },
        /origin/i,
      ],
      [
        'webhookUrl',
        { webhookUrl: 'https://discord.com/api/not-webhooks/1/abcdefghijklmnopqrst' },
        /path/i,
      ],
      [
        'webhookUrl',
        { webhookUrl: 'https://user:pw@discord.com/api/webhooks/1/abcdefghijklmnopqrst' },
        /./,
      ],
      ['payload.content', { payload: { content: 'x'.repeat(2001) } }, /2000/],
      ['payload.username', { payload: { content: 'x', username: 'Discord Bot' } }, /discord/i],
      ['payload.content', { payload: { tts: true } }, /required/],
      [
        'payload.embeds',
        {
          payload: {
            embeds: [{ description: 'a'.repeat(4096) }, { description: 'b'.repeat(2000) }],
          },
        },
        /6000/,
      ],
      ['payload.content', { payload: { content: 'Hi {{task.owner}}' } }, /task\.owner/],
      [
        'payload.content',
        { payload: { content: 'Due {{execution.scheduledTime|discord:X}}' } },
        /Discord timestamp style "X"/,
      ],
    ])('when %s is invalid (case %#), then 400 names it', async (field, override, message) => {
      const res = await api().post('/api/tasks', newTask(override));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      const error = (res.body.errors as { path: string; message: string }[]).find((e) =>
        e.path.startsWith(`body.${field}`),
      );
      expect(error?.message).toMatch(message);
    });

    it('when maxRetry is 11 or the body has an unknown key, then 400 from the contract', async () => {
      const res = await api().post('/api/tasks', { ...newTask({ maxRetry: 11 }), owner: 'x' });
      expect(res.status).toBe(400);
      const paths = (res.body.errors as { path: string }[]).map((e) => e.path);
      expect(paths).toEqual(expect.arrayContaining(['body.maxRetry', 'body.owner']));
    });

    it('when the validation fails, then no row and no schedule are written', async () => {
      const name = `never-${randomUUID()}`;
      await api()
        .post('/api/tasks', newTask({ name, schedule: '@reboot' }))
        .expect(400);
      const list = await api().get(`/api/tasks?search=${name}`);
      expect(list.body.meta.total).toBe(0);
    });
  });

  describe('GET /api/tasks', () => {
    it('when filtering, searching, sorting and paging, then the page and meta match', async () => {
      const tag = randomUUID().slice(0, 8);
      for (const [i, status] of (['ACTIVE', 'INACTIVE', 'ACTIVE'] as const).entries()) {
        await create({ name: `list-${tag}-${i}`, status });
      }
      const all = await api().get(`/api/tasks?search=LIST-${tag}&sort=name&limit=2`);
      expect(all.status).toBe(200);
      expect(all.body.meta).toEqual({
        page: 1,
        limit: 2,
        total: 3,
        totalPages: 2,
        totalIsEstimate: false,
      });
      expect(all.body.data.map((d: { name: string }) => d.name)).toEqual([
        `list-${tag}-0`,
        `list-${tag}-1`,
      ]);
      const page2 = await api().get(`/api/tasks?search=list-${tag}&sort=name&limit=2&page=2`);
      expect(page2.body.data.map((d: { name: string }) => d.name)).toEqual([`list-${tag}-2`]);
      const desc = await api().get(`/api/tasks?search=list-${tag}&sort=-name`);
      expect(desc.body.data[0].name).toBe(`list-${tag}-2`);
      const inactive = await api().get(`/api/tasks?search=list-${tag}&status=INACTIVE`);
      expect(inactive.body.data.map((d: { name: string }) => d.name)).toEqual([`list-${tag}-1`]);
      expect(inactive.body.data[0].nextRunAt).toBeNull();
    });

    it('when the page is past the end, then it is empty and still tells the total', async () => {
      const tag = randomUUID().slice(0, 8);
      for (let i = 0; i < 3; i++) await create({ name: `beyond-${tag}-${i}` });
      const res = await api().get(`/api/tasks?search=beyond-${tag}&limit=2&page=5`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        data: [],
        meta: { page: 5, limit: 2, total: 3, totalPages: 2, totalIsEstimate: false },
      });
    });

    it('when more than 1,000 tasks match, then total is an estimate flagged totalIsEstimate; a search matching fewer is counted exactly', async () => {
      const tag = randomUUID().slice(0, 8);
      const { task } = await create({ name: `many-${tag}-0` });
      const sql = (text: string, params: unknown[] = []) =>
        t.orm.em.fork().getConnection().execute(text, params);
      // Copies of the row by SQL (no schedules: only the list is read here).
      await sql(
        `insert into tasks select (jsonb_populate_record(null::tasks, to_jsonb(c) ||
           jsonb_build_object('id', gen_random_uuid(), 'name', 'many-' || ? || '-' || g))).*
         from tasks c, generate_series(1, 1000) g where c.id = ?`,
        [tag, task.id],
      );
      try {
        await sql('analyze tasks');
        const over = await api().get(`/api/tasks?search=many-${tag}&limit=100`);
        expect(over.status).toBe(200);
        expect(over.body.meta.totalIsEstimate).toBe(true);
        expect(over.body.meta.total).toBeGreaterThan(1_000);
        expect(over.body.meta.totalPages).toBe(Math.ceil(over.body.meta.total / 100));
        expect(over.body.data).toHaveLength(100);

        const few = await api().get(`/api/tasks?search=many-${tag}-99`);
        expect(few.body.meta).toEqual({
          page: 1,
          limit: 20,
          total: 11, // -99 and -990 … -999
          totalPages: 1,
          totalIsEstimate: false,
        });
      } finally {
        await sql(`delete from tasks where name like ? and id <> ?`, [`many-${tag}-%`, task.id]);
        await sql('analyze tasks');
      }
    });

    it('when search holds LIKE wildcards or a backslash, then they match literally', async () => {
      const tag = randomUUID().slice(0, 8);
      const literal = await create({ name: `wild-${tag} 100%_off\\sale` });
      await create({ name: `wild-${tag} 100xyoff\\sale` });
      const search = async (text: string) => {
        const res = await api().get(`/api/tasks?search=${encodeURIComponent(text)}`);
        expect(res.status).toBe(200);
        return (res.body.data as { id: string }[]).map((task) => task.id);
      };
      expect(await search(`${tag} 100%_off`)).toEqual([literal.task.id]);
      expect(await search(`${tag} 100%_off\\sale`)).toEqual([literal.task.id]);
      expect(await search(`${tag} 1_0`)).toEqual([]);
      expect(await search('%_%\\%_%')).toEqual([]);
    });
  });

  describe('GET /api/tasks/:id', () => {
    it('when the task has logs, then the newest 10 come with it', async () => {
      const { task } = await create();
      for (let attempt = 1; attempt <= 12; attempt++) {
        await t.orm.em.getConnection().execute(
          `insert into task_logs (id, task_id, execution_time, status, retry_count, attempt, workflow_id, run_id, created_at)
           values (?, ?, now() - (? * interval '1 minute'), 'RETRYING', ?, ?, ?, 'run-1', now())`,
          [randomUUID(), task.id, 12 - attempt, attempt - 1, attempt, `task-${task.id}-x`],
        );
      }
      const res = await api().get(`/api/tasks/${task.id}`);
      expect(res.status).toBe(200);
      expect(res.body.recentLogs).toHaveLength(10);
      expect(res.body.recentLogs[0]).toMatchObject({
        attempt: 12,
        retryCount: 11,
        taskName: task.name,
        taskId: task.id,
      });
    });

    it.each(['get', 'delete'] as const)(
      'when the id is unknown (%s), then 404 problem',
      async (method) => {
        const res = await api()[method](`/api/tasks/${randomUUID()}`);
        expect(res.status).toBe(404);
        expect(res.headers['content-type']).toMatch(/problem\+json/);
      },
    );

    it.each(['toggle', 'trigger'])(
      'when the id is unknown (%s), then 404 problem',
      async (action) => {
        expect((await api().post(`/api/tasks/${randomUUID()}/${action}`)).status).toBe(404);
      },
    );

    it('when PATCH targets an unknown id, then 404', async () => {
      expect((await api().patch(`/api/tasks/${randomUUID()}`, { name: 'x' })).status).toBe(404);
    });
  });

  describe('PATCH /api/tasks/:id', () => {
    it('when schedule, timezone, maxRetry and name change, then the schedule follows', async () => {
      const { task } = await create();
      const res = await api().patch(`/api/tasks/${task.id}`, {
        schedule: '30 8 * * 1-5',
        timezone: 'Europe/Berlin',
        maxRetry: 0,
        name: 'renamed',
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        schedule: '30 8 * * 1-5',
        timezone: 'Europe/Berlin',
        maxRetry: 0,
        name: 'renamed',
      });
      const description = await schedule(task.id).describe();
      expect(description.spec.timezone).toBe('Europe/Berlin');
      expect(description.spec.calendars?.[0]?.comment).toBe('30 8 * * 1-5');
      const action = description.action as { args: unknown[]; memo?: Record<string, unknown> };
      expect(action.args).toEqual([{ taskId: task.id, maxRetry: 0 }]);
      expect(action.memo).toEqual({ taskName: 'renamed' });
      const next = new Date(res.body.nextRunAt);
      expect(
        new Intl.DateTimeFormat('en-GB', {
          timeZone: 'Europe/Berlin',
          hour: '2-digit',
          minute: '2-digit',
        }).format(next),
      ).toBe('08:30');
    });

    it('when the patch is invalid, then 400 and neither the row nor the schedule change', async () => {
      const { task } = await create();
      const res = await api().patch(`/api/tasks/${task.id}`, {
        schedule: '* * 32 * *',
        name: 'changed',
      });
      expect(res.status).toBe(400);
      expect((await api().get(`/api/tasks/${task.id}`)).body.name).toBe(task.name);
      expect((await schedule(task.id).describe()).spec.calendars?.[0]?.comment).toBe('*/5 * * * *');
    });

    it('when status is patched, then 400 (toggle is the way)', async () => {
      const { task } = await create();
      expect((await api().patch(`/api/tasks/${task.id}`, { status: 'INACTIVE' })).status).toBe(400);
    });
  });

  describe('message modes (SPEC §13)', () => {
    it('when a task is created without them, then it posts, keeps its messages, and has no last message', async () => {
      const { task } = await create();
      expect(task).toMatchObject({ messageMode: 'post', deleteAfter: null, lastMessageId: null });
      const read = await api().get(`/api/tasks/${task.id}`);
      expect(read.body).toMatchObject({
        messageMode: 'post',
        deleteAfter: null,
        lastMessageId: null,
      });
    });

    it('when a task is created to replace and delete after 1h, then both are stored and listed', async () => {
      const { task } = await create({ messageMode: 'replace', deleteAfter: '1h' });
      expect(task).toMatchObject({ messageMode: 'replace', deleteAfter: '1h' });
      const list = await api().get(`/api/tasks?search=${encodeURIComponent(String(task.name))}`);
      expect(list.body.data).toEqual([
        expect.objectContaining({ id: task.id, messageMode: 'replace', deleteAfter: '1h' }),
      ]);
    });

    it.each([
      [{ deleteAfter: '10x' }, 'body.deleteAfter', /^must be a duration such as 10s/],
      [{ deleteAfter: '31d' }, 'body.deleteAfter', /^must be between 1s and 30d$/],
      [{ messageMode: 'upsert' }, 'body.messageMode', /must be equal to one of the allowed values/],
      [
        { messageMode: 'edit', deleteAfter: '1h' },
        'body.deleteAfter',
        /^deleteAfter cannot be used with messageMode "edit"/,
      ],
      [{ lastMessageId: '123' }, 'body.lastMessageId', /./],
    ])(
      'when a task is created with %j, then 400 names %s and nothing is stored',
      async (fields, path, message) => {
        const body = newTask(fields);
        const res = await api().post('/api/tasks', body);
        expect(res.status).toBe(400);
        expect(res.body.errors).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ path, message: expect.stringMatching(message) }),
          ]),
        );
        const rows = await t.orm.em
          .getConnection()
          .execute('select count(*)::int as n from tasks where name = ?', [body.name]);
        expect(rows).toEqual([{ n: 0 }]);
      },
    );

    it('when a task that deletes after 1h is switched to edit, then 400 and it is unchanged; switched with deleteAfter null, then 200', async () => {
      const { task } = await create({ messageMode: 'replace', deleteAfter: '1h' });
      const refused = await api().patch(`/api/tasks/${task.id}`, { messageMode: 'edit' });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([
        {
          path: 'body.deleteAfter',
          message: expect.stringMatching(/^deleteAfter cannot be used with messageMode "edit"/),
        },
      ]);
      expect((await api().get(`/api/tasks/${task.id}`)).body).toMatchObject({
        messageMode: 'replace',
        deleteAfter: '1h',
      });
      const accepted = await api().patch(`/api/tasks/${task.id}`, {
        messageMode: 'edit',
        deleteAfter: null,
      });
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ messageMode: 'edit', deleteAfter: null });
    });
  });

  describe('alert webhook (SPEC §14)', () => {
    it('when a task is given its own alert webhook, then it is stored, answered masked, validated like webhookUrl, and null clears it', async () => {
      const secret = token();
      const alertUrl = `https://discord.com/api/webhooks/424242/${secret}`;
      const { task } = await create({ alertWebhookUrl: alertUrl });
      expect(task.alertWebhookUrl).toBe(
        `https://discord.com/api/webhooks/424242/****${secret.slice(-4)}`,
      );
      const read = await api().get(`/api/tasks/${task.id}`);
      expect(JSON.stringify(read.body)).not.toContain(secret);
      const [row] = await t.orm.em
        .getConnection()
        .execute('select alert_webhook_url from tasks where id = ?', [task.id]);
      // Stored sealed (SPEC §15): it opens to the URL given.
      expect(testSecrets().open(row!.alert_webhook_url, 'tasks.alert_webhook_url')).toBe(alertUrl);
      expect(row!.alert_webhook_url).not.toContain(secret);

      const refused = await api().patch(`/api/tasks/${task.id}`, {
        alertWebhookUrl: `https://evil.example.com/api/webhooks/1/${secret}`,
      });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([
        { path: 'body.alertWebhookUrl', message: expect.stringMatching(/origin/) },
      ]);
      const cleared = await api().patch(`/api/tasks/${task.id}`, { alertWebhookUrl: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body.alertWebhookUrl).toBeNull();
    });
  });

  describe('toggle, trigger, delete', () => {
    it('when toggled twice, then the real schedule is paused and unpaused', async () => {
      const { task } = await create();
      const off = await api().post(`/api/tasks/${task.id}/toggle`);
      expect(off.body).toMatchObject({ status: 'INACTIVE', nextRunAt: null });
      expect((await schedule(task.id).describe()).state.paused).toBe(true);
      const on = await api().post(`/api/tasks/${task.id}/toggle`);
      expect(on.body.status).toBe('ACTIVE');
      expect(on.body.nextRunAt).not.toBeNull();
      expect((await schedule(task.id).describe()).state.paused).toBe(false);
    });

    it('when a FAILED task is toggled, then it becomes ACTIVE and its schedule resumes', async () => {
      const { task } = await create();
      await t.orm.em
        .getConnection()
        .execute(`update tasks set status = 'FAILED' where id = ?`, [task.id]);
      await schedule(task.id).pause('failed');
      const res = await api().post(`/api/tasks/${task.id}/toggle`);
      expect(res.body.status).toBe('ACTIVE');
      expect((await schedule(task.id).describe()).state.paused).toBe(false);
    });

    it('when triggered, then 202 with a task-<id> workflow id that Temporal started, and an INACTIVE task stays INACTIVE', async () => {
      const { task } = await create({ status: 'INACTIVE', maxRetry: 2 });
      const res = await api().post(`/api/tasks/${task.id}/trigger`);
      expect(res.status).toBe(202);
      expect(res.body.workflowId).toMatch(new RegExp(`^task-${task.id}`));
      const handle = t.temporal.client.workflow.getHandle(res.body.workflowId);
      const description = await handle.describe();
      expect(description.type).toBe('sendWebhook');
      expect(await description.memo).toEqual({ taskName: task.name });
      await handle.terminate('test cleanup');
      expect((await api().get(`/api/tasks/${task.id}`)).body.status).toBe('INACTIVE');
    });

    it('when deleted, then 204, the schedule is gone and the logs went with the row', async () => {
      const { task } = await create();
      await t.orm.em.getConnection().execute(
        `insert into task_logs (id, task_id, execution_time, status, retry_count, attempt, workflow_id, run_id, created_at)
         values (?, ?, now(), 'SUCCESS', 0, 1, ?, 'r', now())`,
        [randomUUID(), task.id, `task-${task.id}-d`],
      );
      expect((await api().delete(`/api/tasks/${task.id}`)).status).toBe(204);
      await expect(schedule(task.id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
      expect((await api().get(`/api/tasks/${task.id}`)).status).toBe(404);
      const logs = await t.orm.em
        .getConnection()
        .execute('select count(*)::int as n from task_logs where task_id = ?', [task.id]);
      expect(logs).toEqual([{ n: 0 }]);
    });

    it('when the schedule vanished behind our back, then toggling re-creates it', async () => {
      const { task } = await create();
      await schedule(task.id).delete();
      const res = await api().post(`/api/tasks/${task.id}/toggle`);
      expect(res.status).toBe(200);
      expect((await schedule(task.id).describe()).state.paused).toBe(true);
    });
  });

  describe('when Temporal is unreachable', () => {
    it('then create answers 503 and writes no row', async () => {
      const closedPort = await getFreePort();
      const temporal = createTemporalClient({
        address: `127.0.0.1:${closedPort}`,
        namespace: 'default',
      });
      const logger = pino({ level: 'silent' });
      const config = loadConfig(env);
      const app = createApp({
        logger,
        orm: t.orm,
        temporal,
        metrics: createMetrics(),
        services: createServices({ config, orm: t.orm, temporal, logger }),
        apiKeys: [TEST_API_KEY],
        validateResponses: true,
      });
      const name = `offline-${randomUUID()}`;
      const res = await request(app)
        .post('/api/tasks')
        .set('X-API-Key', TEST_API_KEY)
        .send(newTask({ name }));
      expect(res.status).toBe(503);
      expect(res.body.detail).toMatch(/Temporal is unreachable/);
      const rows = await t.orm.em
        .getConnection()
        .execute('select count(*)::int as n from tasks where name = ?', [name]);
      expect(rows).toEqual([{ n: 0 }]);
      await temporal.close();
    });
  });

  describe('secrets', () => {
    it('when tasks are created, read, listed, changed and triggered, then no response, log line or schedule argument holds the token', async () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const logger = pino({ level: 'trace' }, sink);
      const config = loadConfig(env);
      const app = createApp({
        logger,
        orm: t.orm,
        temporal: t.temporal,
        metrics: createMetrics(),
        services: createServices({ config, orm: t.orm, temporal: t.temporal, logger }),
        apiKeys: [TEST_API_KEY],
        validateResponses: true,
      });
      const secret = token();
      const webhookUrl = discord.webhookUrl('123456789012345678', secret);
      const call = (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object) => {
        const req = request(app)[method](path).set('X-API-Key', TEST_API_KEY);
        return body ? req.send(body) : req;
      };
      const responses: string[] = [];
      const created = await call('post', '/api/tasks', newTask({ webhookUrl }));
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      responses.push(created.text);
      responses.push((await call('get', `/api/tasks/${id}`)).text);
      responses.push((await call('get', '/api/tasks?limit=100')).text);
      responses.push(
        (
          await call('patch', `/api/tasks/${id}`, {
            webhookUrl: discord.webhookUrl('123456789012345678', secret),
          })
        ).text,
      );
      responses.push(
        (await call('patch', `/api/tasks/${id}`, { webhookUrl: `${webhookUrl}?bad=1` })).text,
      );
      const triggered = await call('post', `/api/tasks/${id}/trigger`);
      responses.push(triggered.text);
      responses.push((await call('post', `/api/tasks/${id}/toggle`)).text);

      const description = await schedule(id).describe();
      const workflow = await t.temporal.client.workflow
        .getHandle(triggered.body.workflowId)
        .describe();
      await t.temporal.client.workflow.getHandle(triggered.body.workflowId).terminate('cleanup');
      const history = await t.temporal.client.workflow
        .getHandle(triggered.body.workflowId)
        .fetchHistory();

      expect(lines.length).toBeGreaterThan(5);
      for (const text of [
        ...responses,
        ...lines,
        JSON.stringify(description),
        JSON.stringify(workflow.raw),
        JSON.stringify(history),
      ]) {
        expect(text).not.toContain(secret);
      }
    });
  });
});
