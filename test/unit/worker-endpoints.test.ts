import pino from 'pino';
import { createMetrics } from '../../src/metrics';
import { startWorkerEndpoints, type WorkerEndpoints } from '../../src/main/worker-endpoints';

describe('worker endpoints', () => {
  let endpoints: WorkerEndpoints;
  let state = 'DRAINING';
  beforeAll(async () => {
    endpoints = await startWorkerEndpoints({
      port: 0,
      host: '127.0.0.1',
      metrics: createMetrics(),
      workerState: () => state,
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(() => endpoints.close());
  const get = (path: string) => fetch(`http://127.0.0.1:${endpoints.port}${path}`);

  it('when the worker is not polling, then /health is 503 with Retry-After and /health/live is still 200', async () => {
    state = 'DRAINING';
    const health = await get('/health');
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    const live = await get('/health/live');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
  });

  it('when the worker polls, then both are 200', async () => {
    state = 'RUNNING';
    expect((await get('/health')).status).toBe(200);
    expect((await get('/health/live')).status).toBe(200);
  });
});
