import request from 'supertest';
import { initOrm } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { startTemporalDevServer } from '../../src/embedded/temporal-dev-server';
import { createTestApp, testEnv } from '../helpers/app';

describe('GET /health', () => {
  it('when the Temporal server stops, then 503 with temporal down, and database still up', async () => {
    const devServer = await startTemporalDevServer({ cliPath: testEnv().temporalCliPath, uiPort: false });
    const t = await createTestApp({ temporalAddress: devServer.address });
    try {
      const up = await request(t.app).get('/health');
      expect(up.status).toBe(200);
      expect(up.body).toEqual({ status: 'ok', checks: { database: 'up', temporal: 'up' } });

      await devServer.stop();
      const down = await request(t.app).get('/health');
      expect(down.status).toBe(503);
      expect(down.body).toEqual({ status: 'error', checks: { database: 'up', temporal: 'down' } });
    } finally {
      await devServer.stop();
      await t.close();
    }
  });

  it('when PostgreSQL is unreachable, then 503 with database down', async () => {
    const closedPort = await getFreePort();
    const orm = await initOrm({
      databaseUrl: `postgres://postgres:postgres@127.0.0.1:${closedPort}/nowhere`,
      connect: false,
    });
    const t = await createTestApp({ orm });
    try {
      const res = await request(t.app).get('/health');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ status: 'error', checks: { database: 'down', temporal: 'up' } });
    } finally {
      await t.close();
    }
  });
});
