import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TEST_API_KEY, type TestApp } from '../helpers/app';

/**
 * Issue 10, item 6: input that used to reach a 500 (or be silently accepted) is a 400 problem
 * naming the field; methods a route does not serve are a 405 with `Allow` (SPEC §5).
 */
const WEBHOOK_ORIGIN = 'http://127.0.0.1:9';
const PROBLEM = /^application\/problem\+json/;
const TOKEN = 'Zk3xQ9vLr-2mPq8sTuVwXyZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ01x9Zq';

interface FieldError {
  path: string;
  message: string;
}

describe('hostile input (issue 10, item 6)', () => {
  let t: TestApp;
  const created: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({
      env: { ...process.env, WEBHOOK_ALLOWED_ORIGINS: WEBHOOK_ORIGIN, LOG_LEVEL: 'silent' },
    });
  });
  afterAll(async () => {
    for (const id of created) {
      await request(t.app).delete(`/api/tasks/${id}`).set('X-API-Key', TEST_API_KEY);
    }
    await t.close();
  });

  const authed = (req: request.Test) => req.set('X-API-Key', TEST_API_KEY);
  const get = (path: string) => authed(request(t.app).get(path));
  const post = (path: string, body: object | string) =>
    authed(request(t.app).post(path)).set('Content-Type', 'application/json').send(body);
  const patch = (path: string, body: object | string) =>
    authed(request(t.app).patch(path)).set('Content-Type', 'application/json').send(body);

  function newTask(overrides: Record<string, unknown> = {}) {
    return {
      name: `hostile ${randomUUID().slice(0, 8)}`,
      schedule: '0 9 * * MON-FRI',
      webhookUrl: `${WEBHOOK_ORIGIN}/api/webhooks/123456789012345678/${TOKEN}`,
      payload: { content: 'Hello' },
      status: 'INACTIVE',
      ...overrides,
    };
  }

  function expect400(res: request.Response, path: string, message?: RegExp): FieldError[] {
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    const errors = res.body.errors as FieldError[];
    const error = errors.find((e) => e.path === path);
    expect(error).toBeDefined();
    if (message) expect(error?.message).toMatch(message);
    return errors;
  }

  async function countNamed(prefix: string): Promise<number> {
    const res = await get(`/api/tasks?search=${encodeURIComponent(prefix)}`);
    expect(res.status).toBe(200);
    return res.body.meta.total as number;
  }

  describe('NUL characters and unpaired surrogates', () => {
    it('when ?search= holds a NUL character, then 400 names query.search (not a 500 from PostgreSQL)', async () => {
      expect400(await get('/api/tasks?search=a%00b'), 'query.search', /NUL/);
    });

    it.each([
      ['body.name', { name: 'stand\u0000up' }],
      ['body.payload.content', { payload: { content: 'hi\u0000there' } }],
      ['body.payload.embeds.0.title', { payload: { embeds: [{ title: 'a\u0000' }] } }],
      ['body.payload.thread_name', { payload: { content: 'x', thread_name: '\u0000' } }],
      [
        'body.payload.embeds.0.fields.1.value',
        {
          payload: {
            embeds: [
              {
                fields: [
                  { name: 'a', value: 'b' },
                  { name: 'c', value: 'd\u0000' },
                ],
              },
            ],
          },
        },
      ],
    ])(
      'when %s holds a NUL character, then 400 names it and nothing is stored',
      async (path, override) => {
        const body = newTask(override);
        const res = await post('/api/tasks', body);
        expect400(res, path, /NUL character \(U\+0000\)/);
        expect(await countNamed(String(body.name).replace('\u0000', ''))).toBe(0);
      },
    );

    it('when a payload object key holds a NUL character, then 400 names the object', async () => {
      const res = await post('/api/tasks', newTask({ payload: { content: 'x', 'a\u0000': 1 } }));
      expect(res.status).toBe(400);
      // The contract rejects the unknown key first, or this check names its parent: never a 500.
      const paths = (res.body.errors as FieldError[]).map((e) => e.path);
      expect(paths.some((p) => p.startsWith('body.payload'))).toBe(true);
    });

    it('when an update holds a NUL character, then 400 names the field and the task is unchanged', async () => {
      const res = await post('/api/tasks', newTask());
      expect(res.status).toBe(201);
      created.push(res.body.id as string);
      expect400(await patch(`/api/tasks/${res.body.id}`, { name: 'x\u0000' }), 'body.name', /NUL/);
      expect((await get(`/api/tasks/${res.body.id}`)).body.name).toBe(res.body.name);
    });

    it('when a string holds an unpaired surrogate (\\ud800), then 400 names it', async () => {
      const raw = JSON.stringify(newTask()).replace('"name":"hostile', '"name":"\\ud800hostile');
      expect400(await post('/api/tasks', raw), 'body.name', /unpaired surrogate/);
    });
  });

  describe('numbers', () => {
    it('when page is 1e30 (above 2^53), then 400 names query.page (not a 500 from PostgreSQL)', async () => {
      expect400(await get('/api/tasks?page=1e30'), 'query.page');
      expect400(await get('/api/logs?page=1e30'), 'query.page');
      expect400(await get(`/api/tasks/${randomUUID()}/logs?page=9007199254740993`), 'query.page');
    });

    it('when page is above 1,000,000, then 400; at 1,000,000 with limit 100, then an empty page', async () => {
      expect400(await get('/api/tasks?page=1000001'), 'query.page', /1000000/);
      const res = await get('/api/logs?page=1000000&limit=100');
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([]);
      expect(res.body.meta).toMatchObject({ page: 1000000, limit: 100 });
    });

    it('when maxRetry is the string "3", then 400: JSON bodies are not coerced', async () => {
      expect400(await post('/api/tasks', newTask({ maxRetry: '3' })), 'body.maxRetry', /integer/);
      expect400(
        await post('/api/tasks', newTask({ payload: { content: 'x', tts: 'true' } })),
        'body.payload.tts',
        /boolean/,
      );
    });

    it('when page and limit come as query text, then they are still read as integers', async () => {
      const res = await get('/api/tasks?page=2&limit=5');
      expect(res.status).toBe(200);
      expect(res.body.meta).toMatchObject({ page: 2, limit: 5 });
    });

    it('when flags is a value a webhook cannot set, then 400 from the contract', async () => {
      expect400(
        await post('/api/tasks', newTask({ payload: { content: 'x', flags: 2 } })),
        'body.payload.flags',
      );
    });
  });

  describe('schedules that never fire', () => {
    it('when the schedule is 0 0 31 2 * (February 31st), then 400 says it would never fire', async () => {
      expect400(
        await post('/api/tasks', newTask({ schedule: '0 0 31 2 *' })),
        'body.schedule',
        /never occurs in February.*never fire/,
      );
      expect400(
        await post('/api/tasks', newTask({ schedule: '0 0 30 2 *' })),
        'body.schedule',
        /never fire/,
      );
    });

    it('when the schedule is 0 0 29 2 * (leap day), then the task is created and next runs on a February 29th', async () => {
      const res = await post('/api/tasks', newTask({ schedule: '0 0 29 2 *', status: 'ACTIVE' }));
      expect(res.status).toBe(201);
      created.push(res.body.id as string);
      const next = new Date(res.body.nextRunAt as string);
      expect([next.getUTCMonth(), next.getUTCDate()]).toEqual([1, 29]);
    });

    it('when the schedule is 0 0 31 2 1, then it is created: cron fires on either day field, so on February Mondays', async () => {
      const res = await post('/api/tasks', newTask({ schedule: '0 0 31 2 1', status: 'ACTIVE' }));
      expect(res.status).toBe(201);
      created.push(res.body.id as string);
      const next = new Date(res.body.nextRunAt as string);
      expect([next.getUTCMonth(), next.getUTCDay()]).toEqual([1, 1]);
    });
  });

  describe('ids, time zones and webhook URLs', () => {
    it('when an id has a urn:uuid: prefix, then 400 names it (PostgreSQL does not read that form)', async () => {
      expect400(await get(`/api/tasks/urn:uuid:${randomUUID()}`), 'params.id');
      expect400(await get(`/api/logs?taskId=urn%3Auuid%3A${randomUUID()}`), 'query.taskId');
    });

    it('when the time zone is a UTC offset, then 400 says what a time zone name looks like', async () => {
      expect400(
        await post('/api/tasks', newTask({ timezone: '+05:00' })),
        'body.timezone',
        /IANA time zone name such as UTC or Europe\/Paris/,
      );
    });

    it('when the webhook URL is not a webhook path, then 400 explains the accepted form', async () => {
      expect400(
        await post('/api/tasks', newTask({ webhookUrl: `${WEBHOOK_ORIGIN}/api/channels/1/x` })),
        'body.webhookUrl',
        /\/api\/webhooks\/\{id\}\/\{token\}/,
      );
    });

    it('when allowed_mentions.roles holds a non-snowflake, then 400 says what a snowflake is', async () => {
      expect400(
        await post(
          '/api/tasks',
          newTask({ payload: { content: 'x', allowed_mentions: { roles: ['admins'] } } }),
        ),
        'body.payload.allowed_mentions.roles.0',
        /snowflake/,
      );
    });
  });

  describe('methods', () => {
    const id = randomUUID();

    it.each([
      ['TRACE', '/api/tasks', 'GET, HEAD, POST, OPTIONS'],
      ['PUT', '/api/tasks', 'GET, HEAD, POST, OPTIONS'],
      ['PUT', `/api/tasks/${id}`, 'GET, HEAD, PATCH, DELETE, OPTIONS'],
      ['TRACE', `/api/tasks/${id}/toggle`, 'POST, OPTIONS'],
      ['DELETE', '/api/logs', 'GET, HEAD, OPTIONS'],
      ['TRACE', '/health', 'GET, HEAD, OPTIONS'],
      ['POST', '/metrics', 'GET, HEAD, OPTIONS'],
      ['TRACE', '/api/openapi.json', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/api/docs/', 'GET, HEAD, OPTIONS'],
    ])('when %s %s is sent, then 405 problem with Allow: %s', async (method, path, allow) => {
      const res = await authed(request(t.app)[method.toLowerCase() as 'put'](path));
      expect(res.status).toBe(405);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.headers.allow).toBe(allow);
      expect(res.body).toMatchObject({ status: 405, title: 'Method Not Allowed' });
    });

    it('when TRACE is sent without an API key, then 405 all the same (the methods are public)', async () => {
      const res = await request(t.app).trace('/api/tasks');
      expect(res.status).toBe(405);
    });

    it('when OPTIONS is sent, then 204 with Allow', async () => {
      const res = await request(t.app).options(`/api/tasks/${id}/logs`);
      expect(res.status).toBe(204);
      expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
    });

    it('when HEAD is sent where GET is served, then the GET status and headers without a body', async () => {
      const res = await authed(request(t.app).head('/api/tasks?limit=1'));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.text ?? '').toBe('');
      expect((await request(t.app).head('/api/tasks')).status).toBe(401);
      expect((await authed(request(t.app).head(`/api/tasks/${id}`))).status).toBe(404);
    });

    it('when the path is unknown, then 404 whatever the method', async () => {
      for (const method of ['get', 'trace', 'put'] as const) {
        const res = await authed(request(t.app)[method]('/api/nope'));
        expect(res.status).toBe(404);
      }
      expect((await request(t.app).trace('/nope')).status).toBe(404);
    });
  });
});
