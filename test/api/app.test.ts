import request from 'supertest';
import { createTestApp, ROTATED_API_KEY, TEST_API_KEY, type TestApp } from '../helpers/app';

const PROBLEM = /^application\/problem\+json/;

describe('API shell', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  function expectProblem(res: request.Response, status: number): void {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({
      type: expect.any(String),
      title: expect.any(String),
      status,
      detail: expect.any(String),
    });
  }

  describe('authentication', () => {
    it('when X-API-Key is missing, then 401 problem', async () => {
      const res = await request(t.app).get('/api/tasks');
      expectProblem(res, 401);
      expect(res.body.detail).toMatch(/missing/);
    });

    it('when X-API-Key is wrong, then 401 problem', async () => {
      const res = await request(t.app).get('/api/tasks').set('X-API-Key', `${TEST_API_KEY}x`);
      expectProblem(res, 401);
      expect(res.body.detail).toMatch(/not a valid key/);
    });

    it('when either of two rotated keys is sent, then both are accepted', async () => {
      for (const key of [TEST_API_KEY, ROTATED_API_KEY]) {
        const res = await request(t.app).get('/api/tasks/not-a-uuid').set('X-API-Key', key);
        expect(res.status).toBe(400);
      }
    });

    it('when the key is wrong, then the body is not even parsed (401 before 400/413)', async () => {
      const res = await request(t.app)
        .post('/api/tasks')
        .set('X-API-Key', 'wrong-key-0123456789')
        .set('Content-Type', 'application/json')
        .send('{not json');
      expectProblem(res, 401);
    });
  });

  describe('problem documents', () => {
    const authed = (req: request.Test) => req.set('X-API-Key', TEST_API_KEY);

    it('when a route does not exist, then 404 problem', async () => {
      expectProblem(await authed(request(t.app).get('/api/nope')), 404);
      expectProblem(await request(t.app).get('/nope'), 404);
    });

    it('when the id is not a uuid, then 400 naming params.id', async () => {
      const res = await authed(request(t.app).get('/api/tasks/not-a-uuid'));
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([expect.objectContaining({ path: 'params.id' })]);
    });

    it('when several fields are invalid, then every one is listed', async () => {
      const res = await authed(request(t.app).post('/api/tasks')).send({
        name: '',
        maxRetry: 11,
        extra: true,
      });
      expectProblem(res, 400);
      const paths = (res.body.errors as { path: string }[]).map((e) => e.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'body.name',
          'body.maxRetry',
          'body.schedule',
          'body.webhookUrl',
          'body.payload',
        ]),
      );
    });

    it('when a query parameter is out of range, then 400 naming it', async () => {
      const res = await authed(request(t.app).get('/api/tasks?limit=1000'));
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([expect.objectContaining({ path: 'query.limit' })]);
    });

    it('when the JSON body is malformed, then 400 problem', async () => {
      const res = await authed(request(t.app).post('/api/tasks'))
        .set('Content-Type', 'application/json')
        .send('{"name": ');
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ path: 'body', message: 'malformed JSON' }]);
    });

    it('when the body is over 64 KiB, then 413 problem', async () => {
      const res = await authed(request(t.app).post('/api/tasks'))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ name: 'x', payload: { content: 'a'.repeat(70 * 1024) } }));
      expectProblem(res, 413);
    });

    it('when the body is just under 64 KiB, then it is parsed and validated (400, not 413)', async () => {
      const res = await authed(request(t.app).post('/api/tasks'))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ name: 'x', padding: 'a'.repeat(60 * 1024) }));
      expectProblem(res, 400);
    });

    it('when the body is not JSON, then 415 problem', async () => {
      const res = await authed(request(t.app).post('/api/tasks'))
        .set('Content-Type', 'text/plain')
        .send('name=x');
      expectProblem(res, 415);
    });
  });

  describe('documentation', () => {
    it('when /api/openapi.json is fetched without a key, then it describes every route of SPEC §5', async () => {
      const res = await request(t.app).get('/api/openapi.json');
      expect(res.status).toBe(200);
      const paths = Object.keys(res.body.paths as object);
      expect(paths).toEqual(
        expect.arrayContaining([
          '/api/tasks',
          '/api/tasks/{id}',
          '/api/tasks/{id}/toggle',
          '/api/tasks/{id}/trigger',
          '/api/tasks/{id}/logs',
          '/api/logs',
          '/api/dashboard/stats',
          '/health',
        ]),
      );
      expect(Object.keys(res.body.paths['/api/tasks/{id}'])).toEqual(
        expect.arrayContaining(['get', 'patch', 'delete']),
      );
    });

    it('when /api/docs is opened without a key, then Swagger UI is served', async () => {
      const page = await request(t.app).get('/api/docs/');
      expect(page.status).toBe(200);
      expect(page.text).toContain('swagger-ui');
      const init = await request(t.app).get('/api/docs/swagger-ui-init.js');
      expect(init.status).toBe(200);
      expect(init.text).toContain('/api/tasks');
    });
  });

  describe('transport', () => {
    it('when any response is sent, then helmet headers and a request id are set', async () => {
      const res = await request(t.app).get('/api/openapi.json');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('when an API response is sent, then it carries no ETag (not computed per response)', async () => {
      const res = await request(t.app).get('/api/tasks').set('X-API-Key', TEST_API_KEY);
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBeUndefined();
    });

    it('when the caller sends X-Request-Id, then it is echoed back', async () => {
      const res = await request(t.app).get('/health').set('X-Request-Id', 'trace-abc-123');
      expect(res.headers['x-request-id']).toBe('trace-abc-123');
    });

    it('when /health is called without a key and both services are up, then 200', async () => {
      const res = await request(t.app).get('/health');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok', checks: { database: 'up', temporal: 'up' } });
    });

    it('when /metrics is scraped, then HTTP metrics are exposed in Prometheus format', async () => {
      await request(t.app).get('/health');
      const res = await request(t.app).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toContain('http_requests_total');
      expect(res.text).toContain('process_resident_memory_bytes');
    });
  });
});
