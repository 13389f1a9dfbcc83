import express from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';
import request from 'supertest';
import {
  memoizeValidatorRouteMatchers,
  routeMatcherCompilations,
} from '../../src/api/openapi-route-matchers';

const ok = { '200': { description: 'ok' } };
const doc: OpenAPIV3.DocumentV3 = {
  openapi: '3.0.3',
  info: { title: 'routes', version: '1' },
  paths: {
    '/api/a': { get: { responses: ok } },
    '/api/b': { get: { responses: ok } },
    '/api/items/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: ok,
      },
    },
    '/api/last': { get: { responses: ok } },
  },
};

function app() {
  const server = express();
  server.use(OpenApiValidator.middleware({ apiSpec: doc, validateRequests: true }));
  server.get('/api/items/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  server.get('/api/last', (_req, res) => {
    res.json({ last: true });
  });
  server.use(
    (error: { status?: number }, _req: express.Request, res: express.Response, _next: unknown) => {
      res.status(error.status ?? 500).end();
    },
  );
  return server;
}

describe("the OpenAPI validator's route matchers", () => {
  beforeAll(() => {
    memoizeValidatorRouteMatchers();
    memoizeValidatorRouteMatchers(); // a second call changes nothing
  });

  it('are compiled once per route, not on every request', async () => {
    const server = app();
    const before = routeMatcherCompilations();
    await request(server).get('/api/last').expect(200, { last: true });
    // The lookup scans the routes in the document's order: all four were compiled.
    const afterFirst = routeMatcherCompilations();
    expect(afterFirst - before).toBe(4);
    for (let i = 0; i < 5; i++) await request(server).get('/api/last').expect(200);
    await request(server).get('/api/items/7').expect(200, { id: 7 });
    expect(routeMatcherCompilations()).toBe(afterFirst);
  });

  it('still match, extract and validate as before', async () => {
    const server = app();
    await request(server).get('/api/items/42').expect(200, { id: 42 });
    await request(server).get('/api/items/forty-two').expect(400);
    await request(server).get('/api/nowhere').expect(404);
    await request(server).post('/api/last').expect(405);
  });
});
