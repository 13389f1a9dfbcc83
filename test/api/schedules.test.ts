import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { nextFireTimes } from '../../src/schedule/next-fire';
import { createTestApp, TEST_API_KEY, type TestApp } from '../helpers/app';

describe('schedule preview, client config and the console files', () => {
  let t: TestApp;
  let consoleDir: string;
  beforeAll(async () => {
    consoleDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-console-'));
    await fs.mkdir(path.join(consoleDir, 'assets'));
    await fs.writeFile(path.join(consoleDir, 'index.html'), '<!doctype html><p>console</p>');
    await fs.writeFile(path.join(consoleDir, 'assets', 'index-AbC123.js'), 'console.log(1)');
    await fs.writeFile(path.join(consoleDir, 'favicon.svg'), '<svg/>');
    t = await createTestApp({
      consoleDir,
      clientConfig: { temporalUiUrl: 'http://127.0.0.1:8233', temporalNamespace: 'default' },
    });
  });
  afterAll(async () => {
    await t.close();
    await fs.rm(consoleDir, { recursive: true, force: true });
  });

  const preview = (body: unknown) =>
    request(t.app)
      .post('/api/schedules/preview')
      .set('X-API-Key', TEST_API_KEY)
      .send(body as object);

  describe('POST /api/schedules/preview', () => {
    it('when a weekday cron in a zone is previewed, then its words and the same times as nextRunAt’s calculator', async () => {
      const before = new Date();
      const res = await preview({
        schedule: '30 9 * * MON-FRI',
        timezone: 'Europe/Paris',
        count: 7,
      });
      expect(res.status).toBe(200);
      expect(res.body.description).toBe('At 09:30, Monday through Friday');
      expect(res.body.timezone).toBe('Europe/Paris');
      expect(res.body.nextRuns).toHaveLength(7);
      const expected = nextFireTimes('30 9 * * MON-FRI', 'Europe/Paris', before, 7).map((d) =>
        d.toISOString(),
      );
      expect(res.body.nextRuns).toEqual(expected);
      for (const at of res.body.nextRuns as string[]) {
        const local = new Intl.DateTimeFormat('en-GB', {
          timeZone: 'Europe/Paris',
          weekday: 'short',
          hour: '2-digit',
          minute: '2-digit',
        }).format(new Date(at));
        expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:30$/);
      }
    });

    it('when count and timezone are left out, then 5 runs in UTC', async () => {
      const res = await preview({ schedule: '@daily' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ description: 'At 00:00', timezone: 'UTC' });
      expect(res.body.nextRuns).toHaveLength(5);
      expect(res.body.nextRuns[0]).toMatch(/T00:00:00\.000Z$/);
    });

    it('when an @every interval is previewed, then it is described and its runs are the interval apart', async () => {
      const res = await preview({ schedule: '@every 15m', count: 3 });
      expect(res.status).toBe(200);
      expect(res.body.description).toBe('Every 15 minutes (counted from 00:00 UTC)');
      const [a, b, c] = (res.body.nextRuns as string[]).map((s) => Date.parse(s));
      expect(b! - a!).toBe(15 * 60_000);
      expect(c! - b!).toBe(15 * 60_000);
    });

    it('when the schedule or zone is invalid, then 400 with the reasons task validation gives, at their fields', async () => {
      const res = await preview({ schedule: '0 0 * * * *', timezone: 'Mars/Olympus' });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([
        { path: 'body.schedule', message: expect.stringMatching(/6 fields: seconds/) },
        { path: 'body.timezone', message: 'unknown IANA time zone "Mars/Olympus"' },
      ]);
      const created = await request(t.app)
        .post('/api/tasks')
        .set('X-API-Key', TEST_API_KEY)
        .send({
          name: 'x',
          schedule: '0 0 * * * *',
          timezone: 'Mars/Olympus',
          webhookUrl: 'https://discord.com/api/webhooks/1/abc',
          payload: { content: 'x' },
        });
      expect(created.status).toBe(400);
      expect(created.body.errors).toEqual(expect.arrayContaining(res.body.errors));
    });

    it.each([
      [{ schedule: '@reboot' }, 'body.schedule'],
      [{ schedule: '61 * * * *' }, 'body.schedule'],
      [{ schedule: '0 0 31 2 *' }, 'body.schedule'],
      [{ schedule: '* * * * *', count: 21 }, 'body.count'],
      [{ schedule: '* * * * *', count: 0 }, 'body.count'],
      [{ schedule: '* * * * *', count: '3' }, 'body.count'],
      [{ schedule: '* * * * *', extra: 1 }, 'body.extra'],
      [{ timezone: 'UTC' }, 'body.schedule'],
    ])('when %j is previewed, then 400 naming %s', async (body, field) => {
      const res = await preview(body);
      expect(res.status).toBe(400);
      expect((res.body.errors as { path: string }[]).map((e) => e.path).join(' ')).toContain(field);
    });

    it('when the schedule stops firing before count runs, then fewer runs come back', async () => {
      const res = await preview({ schedule: '0 0 29 2 *', count: 20 });
      expect(res.status).toBe(200);
      expect(res.body.nextRuns.length).toBeGreaterThan(0);
      expect(res.body.nextRuns.length).toBeLessThanOrEqual(20);
      for (const at of res.body.nextRuns as string[]) expect(at).toMatch(/-02-29T00:00/);
    });

    it('when the API key is missing, then 401', async () => {
      const res = await request(t.app).post('/api/schedules/preview').send({ schedule: '@daily' });
      expect(res.status).toBe(401);
    });
  });

  describe('GET /api/config', () => {
    it('when asked, then the Temporal Web UI address and namespace, behind the key', async () => {
      const res = await request(t.app).get('/api/config').set('X-API-Key', TEST_API_KEY);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        temporalUiUrl: 'http://127.0.0.1:8233',
        temporalNamespace: 'default',
        access: 'read-write',
      });
      expect((await request(t.app).get('/api/config')).status).toBe(401);
    });
  });

  describe('the web console', () => {
    it('when / or a client route is loaded, then index.html, never cached, under the strict CSP', async () => {
      for (const route of ['/', '/tasks', '/tasks/new', '/logs', '/dashboard']) {
        const res = await request(t.app).get(route);
        expect(res.status).toBe(200);
        expect(res.text).toContain('console');
        expect(res.headers['cache-control']).toBe('no-cache');
        const csp = String(res.headers['content-security-policy']);
        expect(csp).toContain("script-src 'self'");
        expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      }
      const id = '3f1c2a9e-8b7d-4c61-9e0a-2d5b7c8e9f10';
      expect((await request(t.app).get(`/tasks/${id}/edit`)).status).toBe(200);
    });

    it('when a hashed asset is loaded, then it is cached for a year as immutable; a missing one is a 404', async () => {
      const res = await request(t.app).get('/assets/index-AbC123.js');
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect((await request(t.app).get('/assets/nope-123.js')).status).toBe(404);
      expect((await request(t.app).get('/favicon.svg')).status).toBe(200);
    });

    it('when an API, health or unknown path is requested, then the console never answers it', async () => {
      const api = await request(t.app).get('/api/nope').set('X-API-Key', TEST_API_KEY);
      expect(api.status).toBe(404);
      expect(api.headers['content-type']).toMatch(/problem\+json/);
      expect((await request(t.app).get('/health/live')).body).toMatchObject({ status: 'ok' });
      const unknown = await request(t.app).get('/nope');
      expect(unknown.status).toBe(404);
      expect(unknown.headers['content-type']).toMatch(/problem\+json/);
    });
  });
});
