import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receipt {
  webhookId: string;
  receivedAt: number;
  content: string;
}

/**
 * The fastest Discord stand-in we can write: answers every webhook POST with 200 and a message
 * id at once, and notes when each arrived (the benchmark's clock for fire latency).
 */
export async function startBenchDiscord(): Promise<{
  url: string;
  receipts: Receipt[];
  countFor(ids: ReadonlySet<string>): number;
  close(): Promise<void>;
}> {
  const receipts: Receipt[] = [];
  let nextId = 1n;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const receivedAt = Date.now();
      const match = /\/webhooks\/(\d+)\//.exec(req.url ?? '');
      let content = '';
      try {
        content = String(
          (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { content?: unknown }).content ??
            '',
        );
      } catch {
        // not JSON: recorded with empty content
      }
      receipts.push({ webhookId: match?.[1] ?? '', receivedAt, content });
      const body = JSON.stringify({
        id: String(1_000_000_000_000_000n + nextId++),
        type: 0,
        content,
      });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    receipts,
    countFor: (ids) => receipts.filter((r) => ids.has(r.webhookId)).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
