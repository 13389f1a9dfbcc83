import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RETRY_AFTER_SECONDS } from '../api/error-handler';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';

export interface WorkerEndpoints {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * ROLE=worker has no API to carry /metrics and /health, so it serves them itself on METRICS_PORT:
 * `/metrics` for Prometheus (delivery metrics and the Temporal SDK's worker metrics), `/health`
 * for the container's HEALTHCHECK (200 while the worker polls, 503 before and while it drains)
 * and `/health/live` (200 while the process serves, whatever the worker's state).
 */
export async function startWorkerEndpoints(deps: {
  port: number;
  host?: string;
  metrics: Metrics;
  workerState: () => string;
  logger: Logger;
}): Promise<WorkerEndpoints> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/health/live') {
      res
        .writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
        .end('{"status":"ok"}');
      return;
    }
    if (path === '/health') {
      const worker = deps.workerState();
      const ok = worker === 'RUNNING';
      res
        .writeHead(ok ? 200 : 503, {
          'Content-Type': 'application/json',
          'Cache-Control': 'no-store',
          ...(ok ? {} : { 'Retry-After': String(RETRY_AFTER_SECONDS) }),
        })
        .end(
          JSON.stringify({ status: ok ? 'ok' : 'error', checks: { worker: worker.toLowerCase() } }),
        );
      return;
    }
    if (path === '/metrics') {
      deps.metrics.render().then(
        (text) => res.writeHead(200, { 'Content-Type': deps.metrics.contentType }).end(text),
        (error: unknown) => {
          deps.logger.error({ err: error }, 'rendering metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res
      .writeHead(404, { 'Content-Type': 'application/json' })
      .end('{"status":404,"title":"Not Found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  deps.logger.info({ port }, 'worker metrics and health endpoints listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
