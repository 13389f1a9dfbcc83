import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/app';

/** The URL Swagger UI's "try it out" calls for an operation: the server URL joined with its path. */
function tryItOutUrl(doc: { servers: { url: string }[] }, path: string): string {
  return `${doc.servers[0]!.url.replace(/\/$/, '')}${path}`;
}

describe('OpenAPI document and Swagger UI behind a reverse proxy', () => {
  describe('when PUBLIC_API_PATH says the proxy exposes /api at /api/task-scheduler (the production Traefik)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ publicApiPath: '/api/task-scheduler' });
    });
    afterAll(() => t.close());

    it('when the document is fetched, then every operation is addressed under the public path', async () => {
      const res = await request(t.app).get('/api/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.servers).toEqual([expect.objectContaining({ url: '/api/task-scheduler' })]);
      const urls = Object.keys(res.body.paths).map((p) => tryItOutUrl(res.body, p));
      expect(urls).toEqual(
        expect.arrayContaining([
          '/api/task-scheduler/tasks',
          '/api/task-scheduler/tasks/{id}/trigger',
          '/api/task-scheduler/logs',
          '/api/task-scheduler/dashboard/stats',
        ]),
      );
      expect(urls.every((url) => url.startsWith('/api/task-scheduler/'))).toBe(true);
    });

    it('when Swagger UI is loaded, then it embeds the document with the public server URL', async () => {
      const init = await request(t.app).get('/api/docs/swagger-ui-init.js');
      expect(init.status).toBe(200);
      expect(init.text).toContain('"url": "/api/task-scheduler"');
      expect(init.text).toContain('"/tasks/{id}/trigger"');
    });

    it('when a public URL rewritten by the proxy is called, then the app serves the operation', async () => {
      const doc = (await request(t.app).get('/api/openapi.json')).body;
      // What Traefik's replacepathregex does to the URL Swagger UI calls.
      const rewritten = `${tryItOutUrl(doc, '/tasks').replace(/^\/api\/task-scheduler/, '/api')}?search=no-such-task-name`;
      const res = await request(t.app).get(rewritten).set('X-API-Key', 'test-key-0123456789abcdef');
      expect(res.status).toBe(200);
      expect(res.body.meta.total).toBe(0);
    });
  });

  describe('when no public path is configured', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(() => t.close());

    it('when called directly, then the document is the contract unchanged (server /, paths under /api)', async () => {
      const res = await request(t.app).get('/api/openapi.json');
      expect(res.body.servers).toEqual([expect.objectContaining({ url: '/' })]);
      expect(Object.keys(res.body.paths)).toEqual(
        expect.arrayContaining(['/api/tasks', '/health']),
      );
    });

    it('when a trusted proxy that strips a prefix sends X-Forwarded-Prefix, then the API is addressed under that prefix', async () => {
      // supertest connects from 127.0.0.1, which `trust proxy` (loopback, private ranges) trusts.
      const res = await request(t.app)
        .get('/api/openapi.json')
        .set('X-Forwarded-Prefix', '/scheduler');
      expect(res.body.servers).toEqual([expect.objectContaining({ url: '/scheduler/api' })]);
      expect(tryItOutUrl(res.body, '/tasks')).toBe('/scheduler/api/tasks');
      expect(res.body.paths['/tasks']).toBeDefined();
    });

    it('when X-Forwarded-Prefix is not a plain path, then it is ignored', async () => {
      const res = await request(t.app)
        .get('/api/openapi.json')
        .set('X-Forwarded-Prefix', 'https://evil.example/"x');
      expect(res.body.servers).toEqual([expect.objectContaining({ url: '/' })]);
    });

    it('when /api/docs is opened without its trailing slash, then the redirect is relative, so it stays under a proxy prefix', async () => {
      const res = await request(t.app).get('/api/docs');
      expect(res.status).toBe(301);
      expect(res.headers.location).toBe('docs/');
      expect(
        new URL(res.headers.location!, 'https://example.org/api/task-scheduler/docs').pathname,
      ).toBe('/api/task-scheduler/docs/');
    });
  });
});
