import request from 'supertest';
import { initOrm } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { startTemporalDevServer } from '../../src/embedded/temporal-dev-server';
import { createTestApp, testEnv } from '../helpers/app';

describe('GET /health', () => {
  it('when the Temporal server stops, then within about a second 503 with temporal down and Retry-After, and database still up', async () => {
    const devServer = await startTemporalDevServer({
      cliPath: testEnv().temporalCliPath,
      uiPort: false,
    });
    const t = await createTestApp({ temporalAddress: devServer.address });
    try {
      const up = await request(t.app).get('/health');
      expect(up.status).toBe(200);
      expect(up.body).toEqual({ status: 'ok', checks: { database: 'up', temporal: 'up' } });

      await devServer.stop();
      // The last answer serves for about a second (one probe per dependency for all callers).
      const stoppedAt = Date.now();
      let down = await request(t.app).get('/health');
      while (down.status === 200 && Date.now() - stoppedAt < 5_000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        down = await request(t.app).get('/health');
      }
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(down.body).toEqual({ status: 'error', checks: { database: 'up', temporal: 'down' } });
      expect(Date.now() - stoppedAt).toBeLessThan(2_500);
      expect((await request(t.app).get('/health/live')).status).toBe(200);
    } finally {
      await devServer.stop();
      await t.close();
    }
  });

  it('when PostgreSQL is unreachable, then 503 with database down, and liveness still 200', async () => {
    const closedPort = await getFreePort();
    const orm = await initOrm({
      databaseUrl: `postgres://postgres:postgres@127.0.0.1:${closedPort}/nowhere`,
      connect: false,
    });
    const t = await createTestApp({ orm });
    try {
      const res = await request(t.app).get('/health');
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(res.body).toEqual({ status: 'error', checks: { database: 'down', temporal: 'up' } });
      const live = await request(t.app).get('/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'ok' });
    } finally {
      await t.close();
    }
  });

  it('when 32 clients ask at once, while both dependencies are up, then every answer is 200', async () => {
    const t = await createTestApp();
    try {
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(
          Array.from({ length: 32 }, () => request(t.app).get('/health')),
        );
        expect(answers.map((res) => res.status)).toEqual(Array(32).fill(200));
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
    } finally {
      await t.close();
    }
  });
});
