import { createClient } from '@redis/client';
import request from 'supertest';
import {
  createRedisRateLimitStore,
  type RedisRateLimitStore,
} from '../../src/api/redis-rate-limit-store';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createTestApp, ROTATED_API_KEY, TEST_API_KEY, type TestApp } from '../helpers/app';
import { capturingLogger } from '../helpers/capturing-logger';
import { ensureRedisServer, startRedisServer, type RedisServer } from '../helpers/redis-server';

const get = (t: TestApp, key = TEST_API_KEY, path = '/api/tasks?limit=1') =>
  request(t.app).get(path).set('X-API-Key', key);

describe('per-key rate limit', () => {
  describe('in memory (no REDIS_URL)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ rateLimit: { perMinute: 3 } });
    });
    afterAll(() => t.close());

    it('when a key makes its requests, then each response counts down its budget, and the one over it gets 429 with Retry-After', async () => {
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await get(t);
        expect(res.status).toBe(200);
        expect(res.headers['ratelimit-policy']).toBe('3;w=60');
        remaining.push(/remaining=(\d+)/.exec(res.headers.ratelimit ?? '')?.[1] ?? '');
      }
      expect(remaining).toEqual(['2', '1', '0']);

      const limited = await get(t);
      expect(limited.status).toBe(429);
      expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(limited.body).toEqual({
        type: 'https://discord-task-scheduler.dev/problems/rate-limited',
        title: 'Too Many Requests',
        status: 429,
        detail: expect.stringMatching(/more than 3 requests this minute; retry in \d+ s/),
      });
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    });

    it('when one key is used up, then another key still has its own budget, and health, metrics and docs are not limited', async () => {
      for (let i = 0; i < 4; i++) await get(t); // TEST_API_KEY is used up (if the test above did not)
      expect((await get(t)).status).toBe(429);
      expect((await get(t, ROTATED_API_KEY)).status).toBe(200);
      for (const path of ['/health', '/metrics', '/api/openapi.json'])
        for (let i = 0; i < 5; i++) expect((await request(t.app).get(path)).status).toBe(200);
    });

    it('when the key is wrong, then 401 comes first and no budget is spent', async () => {
      const t2 = await createTestApp({ rateLimit: { perMinute: 1 } });
      try {
        for (let i = 0; i < 3; i++)
          expect((await get(t2, 'not-a-key-0123456789')).status).toBe(401);
        const res = await get(t2);
        expect(res.status).toBe(200);
        expect(res.headers.ratelimit).toBe('limit=1, remaining=0, reset=60');
      } finally {
        await t2.close();
      }
    });

    it('when perMinute is 0, then nothing is limited and no RateLimit header is sent', async () => {
      const t2 = await createTestApp({ rateLimit: { perMinute: 0 } });
      try {
        for (let i = 0; i < 5; i++) {
          const res = await get(t2);
          expect(res.status).toBe(200);
          expect(res.headers.ratelimit).toBeUndefined();
        }
      } finally {
        await t2.close();
      }
    });
  });

  it('RATE_LIMIT_PER_MINUTE defaults to 600, accepts 0 and refuses a negative number', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).rateLimitPerMinute).toBe(600);
    expect(loadConfig({ NODE_ENV: 'test', RATE_LIMIT_PER_MINUTE: '0' }).rateLimitPerMinute).toBe(0);
    expect(() => loadConfig({ NODE_ENV: 'test', RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(
      /RATE_LIMIT_PER_MINUTE/,
    );
  });

  describe('in Redis (REDIS_URL)', () => {
    jest.setTimeout(120_000);
    let binary: string;
    let redis: RedisServer;
    const stores: RedisRateLimitStore[] = [];
    const apps: TestApp[] = [];
    beforeAll(async () => {
      binary = await ensureRedisServer();
      redis = await startRedisServer(binary);
    });
    afterAll(async () => {
      for (const store of stores) await store.close();
      for (const app of apps) await app.close();
      await redis?.stop();
    });

    async function replica(
      perMinute: number,
      url = redis.url,
      logger = createLogger({ level: 'silent' }),
    ) {
      const store = createRedisRateLimitStore(url, logger);
      stores.push(store);
      const app = await createTestApp({ rateLimit: { perMinute, store }, logger });
      apps.push(app);
      return app;
    }

    it('when two API replicas share one Redis, then a key has one budget across both', async () => {
      const [a, b] = [await replica(3), await replica(3)];
      expect((await get(a)).status).toBe(200);
      expect((await get(b)).status).toBe(200);
      expect((await get(a)).status).toBe(200);
      const limited = await get(b);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await get(a, ROTATED_API_KEY)).status).toBe(200);
    });

    it('when the store counts, decrements and resets a key, then the window keeps its expiry throughout', async () => {
      const store = createRedisRateLimitStore(redis.url, createLogger({ level: 'silent' }));
      stores.push(store);
      store.init?.({ windowMs: 60_000 } as never);
      const name = `unit-${Date.now()}`;
      await expect(store.increment(name)).resolves.toMatchObject({ totalHits: 1 });
      const second = await store.increment(name);
      expect(second.totalHits).toBe(2);
      expect(second.resetTime!.getTime() - Date.now()).toBeGreaterThan(55_000);
      await store.decrement(name);
      await expect(store.increment(name)).resolves.toMatchObject({ totalHits: 2 });
      await store.resetKey(name);
      await expect(store.increment(name)).resolves.toMatchObject({ totalHits: 1 });
      // A decrement after the window ended leaves a fresh window, not a key that never expires.
      const other = `${name}-gone`;
      await store.decrement(other);
      const client = createClient({ url: redis.url });
      await client.connect();
      try {
        expect(await client.pTTL(`dts:rate-limit:${other}`)).toBeGreaterThan(0);
      } finally {
        await client.close();
      }
    });

    it('when Redis is unreachable, then requests pass unlimited and a warning says why; when it is back, the limit holds again', async () => {
      const own = await startRedisServer(binary);
      const { logger, lines } = capturingLogger();
      const t = await replica(2, own.url, logger);
      expect((await get(t)).status).toBe(200);

      await own.stop();
      for (let i = 0; i < 4; i++) expect((await get(t)).status).toBe(200);
      expect(lines.some((line) => String(line.msg).includes('Redis unreachable'))).toBe(true);
      // Four requests failed to count: one line from the limiter about its store, not four.
      const storeErrors = lines.filter((line) => /error from store/.test(String(line.msg)));
      expect(storeErrors).toHaveLength(1);
      expect(JSON.stringify(lines)).not.toContain(TEST_API_KEY);

      const again = await startRedisServer(binary, own.port);
      try {
        const deadline = Date.now() + 15_000;
        let statuses: number[] = [];
        while (Date.now() < deadline) {
          statuses = [];
          for (let i = 0; i < 3; i++) statuses.push((await get(t)).status);
          if (statuses.includes(429)) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        expect(statuses).toContain(429);
      } finally {
        await again.stop();
      }
    });
  });
});
