import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { createRequestContext } from '../../src/api/middleware/request-context';
import { createLogger } from '../../src/logger';

const TOKEN = 'aZ9_-secretWebhookToken0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ';

function appWithLog(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ level }, destination);
  const app = express();
  app.use(createRequestContext(logger));
  app.get('/ok', (_req, res) => {
    logger.info('inside the handler');
    res.json({ ok: true });
  });
  app.get('/missing', (_req, res) => res.status(404).end());
  app.get('/boom', (_req, res) => res.status(500).end());
  app.get('/health', (_req, res) => res.json({ status: 'ok' }));
  app.get('/slow', () => undefined); // never answers
  return { app, lines };
}

describe('request context and access log', () => {
  it('when requests are served, then each gets one line at the level of its status, with the request id and no query', async () => {
    const { app, lines } = appWithLog('info');
    const ok = await request(app).get(`/ok?webhookUrl=${TOKEN}`).set('X-Request-Id', 'caller-id.1');
    expect(ok.headers['x-request-id']).toBe('caller-id.1');
    const missing = await request(app).get('/missing');
    expect(missing.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await request(app).get('/boom');
    await request(app).get('/health');

    const access = lines.filter((line) => line.req !== undefined);
    expect(access.map((line) => [line.level, (line.req as { url: string }).url, line.msg])).toEqual(
      [
        [30, '/ok', 'request completed'],
        [40, '/missing', 'request completed'],
        [50, '/boom', 'request completed'],
      ],
    );
    expect(access[0]).toMatchObject({ requestId: 'caller-id.1', res: { statusCode: 200 } });
    expect(typeof access[0]!.responseTime).toBe('number');
    expect(lines.find((line) => line.msg === 'inside the handler')).toMatchObject({
      requestId: 'caller-id.1',
    });
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
  });

  it('when an incoming request id is malformed, then a fresh one replaces it', async () => {
    const { app } = appWithLog('info');
    const res = await request(app).get('/ok').set('X-Request-Id', 'bad id with spaces');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when the level is warn, then successes are not logged but client errors are', async () => {
    const { app, lines } = appWithLog('warn');
    await request(app).get('/ok');
    await request(app).get('/missing');
    expect(lines.map((line) => line.msg)).toEqual(['request completed']);
    expect(lines[0]).toMatchObject({ level: 40, res: { statusCode: 404 } });
  });

  it('when the client hangs up before the response, then one error line says the request was aborted', async () => {
    const { app, lines } = appWithLog('info');
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/slow' });
        req.on('error', () => resolve());
        setTimeout(() => req.destroy(), 100);
      });
      for (let i = 0; i < 50 && lines.length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 50, msg: 'request aborted', req: { url: '/slow' } });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
