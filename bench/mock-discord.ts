import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receipt {
  webhookId: string;
  receivedAt: number;
  content: string;
}

/** Discord's webhook limit, whose headers every answer carries (SPEC §13). */
const LIMIT = 5;
const WINDOW_MS = 2_000;

/**
 * The fastest Discord stand-in we can write: answers every webhook POST with 200 and a message
 * id at once, and notes when each arrived (the benchmark's clock for fire latency). Each answer
 * carries Discord's X-RateLimit-* headers for its webhook's window, so the deliveries' pacing reads
 * and keeps them as it does Discord's; the bench's webhooks have distinct ids, so none waits.
 */
export async function startBenchDiscord(): Promise<{
  url: string;
  receipts: Receipt[];
  countFor(ids: ReadonlySet<string>): number;
  close(): Promise<void>;
}> {
  const receipts: Receipt[] = [];
  const windows = new Map<string, { endsAt: number; used: number }>();
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
      const webhookId = match?.[1] ?? '';
      receipts.push({ webhookId, receivedAt, content });
      let window = windows.get(webhookId);
      if (!window || window.endsAt <= receivedAt) {
        window = { endsAt: receivedAt + WINDOW_MS, used: 0 };
        windows.set(webhookId, window);
      }
      window.used += 1;
      const body = JSON.stringify({
        id: String(1_000_000_000_000_000n + nextId++),
        type: 0,
        content,
      });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'X-RateLimit-Limit': String(LIMIT),
        'X-RateLimit-Remaining': String(Math.max(0, LIMIT - window.used)),
        'X-RateLimit-Reset': (window.endsAt / 1000).toFixed(3),
        'X-RateLimit-Reset-After': ((window.endsAt - Date.now()) / 1000).toFixed(3),
        'X-RateLimit-Bucket': webhookId,
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
