import express from 'express';
import request from 'supertest';
import { createHealthRouter, type HealthCheck } from '../../src/api/routes/health.router';

/** A check that counts its calls and answers (or hangs) as told. */
function countingCheck(behaviour: () => Promise<unknown>) {
  const check = Object.assign(
    (async () => {
      check.calls += 1;
      await behaviour();
    }) as HealthCheck & { calls: number },
    { calls: 0 },
  );
  return check;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const never = () => new Promise<void>(() => undefined);

function appWith(checks: { database: HealthCheck; temporal: HealthCheck }, options = {}) {
  const app = express();
  app.use(createHealthRouter(checks, options));
  return app;
}

describe('GET /health', () => {
  it('when 32 clients ask at once, then each dependency is checked once and all hear the same answer', async () => {
    const database = countingCheck(() => sleep(50));
    const temporal = countingCheck(() => sleep(50));
    const app = appWith({ database, temporal });

    const answers = await Promise.all(
      Array.from({ length: 32 }, () => request(app).get('/health')),
    );

    expect(answers.map((res) => res.status)).toEqual(Array(32).fill(200));
    expect(answers[0]!.body).toEqual({ status: 'ok', checks: { database: 'up', temporal: 'up' } });
    expect(database.calls).toBe(1);
    expect(temporal.calls).toBe(1);
  });

  it('when asked again within the reuse period, then the last answer is given without a new check; after it, a new check', async () => {
    const database = countingCheck(async () => undefined);
    const temporal = countingCheck(async () => undefined);
    const app = appWith({ database, temporal }, { reuseMs: 300 });

    for (let i = 0; i < 5; i++) expect((await request(app).get('/health')).status).toBe(200);
    expect([database.calls, temporal.calls]).toEqual([1, 1]);

    await sleep(350);
    expect((await request(app).get('/health')).status).toBe(200);
    expect([database.calls, temporal.calls]).toEqual([2, 2]);
  });

  it('when a check hangs, then 503 with Retry-After after the probe timeout, later callers hear down at once, and no second check piles up', async () => {
    const database = countingCheck(async () => undefined);
    const temporal = countingCheck(never);
    const app = appWith({ database, temporal }, { timeoutMs: 600, reuseMs: 100 });

    const started = Date.now();
    const first = await request(app).get('/health');
    const firstMs = Date.now() - started;
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toMatch(/^\d+$/);
    expect(first.body).toEqual({ status: 'error', checks: { database: 'up', temporal: 'down' } });
    expect(firstMs).toBeGreaterThanOrEqual(590);
    expect(firstMs).toBeLessThan(2_000);

    await sleep(150); // past the reuse period: the hung check is still the one in flight
    const again = Date.now();
    const second = await request(app).get('/health');
    expect(second.status).toBe(503);
    expect(Date.now() - again).toBeLessThan(400); // not another 600 ms wait
    expect(temporal.calls).toBe(1);
  });

  it('when a check fails, then the dependency is down until a later check succeeds', async () => {
    let up = false;
    const database = countingCheck(async () => {
      if (!up) throw new Error('connect ECONNREFUSED');
    });
    const temporal = countingCheck(async () => undefined);
    const app = appWith({ database, temporal }, { reuseMs: 100 });

    const down = await request(app).get('/health');
    expect(down.status).toBe(503);
    expect(down.body.checks).toEqual({ database: 'down', temporal: 'up' });
    up = true;
    await sleep(150);
    expect((await request(app).get('/health')).status).toBe(200);
  });
});

describe('GET /health/live', () => {
  it('when every dependency hangs, then liveness still answers 200 at once and asks none of them', async () => {
    const database = countingCheck(never);
    const temporal = countingCheck(never);
    const app = appWith({ database, temporal });

    const started = Date.now();
    const res = await request(app).get('/health/live');

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(Date.now() - started).toBeLessThan(500);
    expect([database.calls, temporal.calls]).toEqual([0, 0]);
  });
});
