import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * How the mock answers one request to a webhook (SPEC §6 lists what the delivery activity must
 * make of each).
 */
export type MockBehavior =
  /** Default. With `?wait=true` 200 + a message; without, 204. `status` forces one or the other. */
  | { kind: 'success'; status?: 200 | 204 }
  /** 500 by default, body `{ message: 'Internal Server Error', code: 0 }`. */
  | { kind: 'server-error'; status?: number }
  /**
   * 429. `via` says where the delay is given (default `both`): `body` puts `retry_after` (float
   * seconds) in the body, `header` sends `Retry-After` (whole seconds, rounded up) and leaves
   * `retry_after` out of the body, so a client reading only one of them can be tested.
   */
  | { kind: 'rate-limited'; retryAfter: number; global?: boolean; via?: 'body' | 'header' | 'both' }
  /** 404 `{ message: 'Unknown Webhook', code: 10015 }`: the webhook was deleted. */
  | { kind: 'not-found' }
  /** 400, by default Discord's `Invalid Form Body` (code 50035). */
  | { kind: 'bad-request'; body?: unknown }
  /** 401 `{ message: '401: Unauthorized', code: 0 }`. */
  | { kind: 'unauthorized' }
  /**
   * Any other answer (403, 413, 502, a 3xx with a `Location` header, ...). An object body is sent
   * as JSON, a string as text, no body when omitted.
   */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Answer nothing for `ms` (default: until the client gives up or the server closes), then 200. */
  | { kind: 'hang'; ms?: number }
  /** Destroy the socket without a response (the client sees a connection reset). */
  | { kind: 'destroy' };

export interface RecordedRequest {
  /** '' when the path is not a webhook route. */
  webhookId: string;
  token: string;
  /** `n` of `/api/v<n>/webhooks/...`, null for the unversioned path. */
  apiVersion: number | null;
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or null when the body is empty or not JSON. */
  body: unknown;
  rawBody: string;
  receivedAt: Date;
  /** The status sent, or null while unanswered (hanging) or when the socket was destroyed. */
  respondedWith: number | null;
}

export interface MockDiscord {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `${url}/api/webhooks/${id}/${token}`; defaults to a fresh numeric id and a random token. */
  webhookUrl(id?: string, token?: string): string;
  /**
   * Behaviours for one webhook, consumed one per request; the last one repeats. Called with no
   * behaviour, the webhook goes back to the default (success).
   */
  setBehavior(webhookId: string, ...behaviors: MockBehavior[]): void;
  /** Requests recorded so far (for one webhook when given), in arrival order. */
  requests(webhookId?: string): RecordedRequest[];
  /**
   * Resolves with the recorded requests (for one webhook when given) once there are at least
   * `count`; rejects after `timeoutMs` (default 3000) saying what did arrive.
   */
  waitForRequests(
    count: number,
    opts?: { webhookId?: string; timeoutMs?: number },
  ): Promise<RecordedRequest[]>;
  /** Forgets behaviours and recorded requests. */
  reset(): void;
  /** Stops listening and destroys every open socket, hanging requests included. */
  close(): Promise<void>;
}

const DEFAULT_WAIT_TIMEOUT_MS = 3_000;
const DISCORD_EPOCH_MS = 1_420_070_400_000n;
const WEBHOOK_PATH = /^\/api(?:\/v(\d+))?\/webhooks\/([^/]+)\/([^/]+)$/;

let lastSnowflake = 0n;

/** A Discord-like snowflake: milliseconds since the Discord epoch << 22, unique in this process. */
function nextSnowflake(): string {
  const fromClock = (BigInt(Date.now()) - DISCORD_EPOCH_MS) << 22n;
  lastSnowflake = fromClock > lastSnowflake ? fromClock : lastSnowflake + 1n;
  return lastSnowflake.toString();
}

/** Discord webhook tokens are 68 URL-safe characters. */
function randomToken(): string {
  return randomBytes(51).toString('base64url');
}

function isWaitTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1'].includes(value.toLowerCase());
}

function maskToken(path: string): string {
  return path.replace(WEBHOOK_PATH, (_m, version: string | undefined, id: string) =>
    version === undefined ? `/api/webhooks/${id}/****` : `/api/v${version}/webhooks/${id}/****`,
  );
}

function describeRequest(r: RecordedRequest): string {
  return `${r.method} ${maskToken(r.path)} -> ${r.respondedWith ?? 'unanswered'}`;
}

interface Waiter {
  count: number;
  webhookId: string | undefined;
  resolve(records: RecordedRequest[]): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export async function startMockDiscord(
  opts: { port?: number; host?: string } = {},
): Promise<MockDiscord> {
  const host = opts.host ?? '127.0.0.1';
  const behaviors = new Map<string, MockBehavior[]>();
  const channelIds = new Map<string, string>();
  const sockets = new Set<Socket>();
  const hangTimers = new Set<NodeJS.Timeout>();
  let records: RecordedRequest[] = [];
  let waiters: Waiter[] = [];
  let closing: Promise<void> | undefined;

  function matching(webhookId: string | undefined): RecordedRequest[] {
    return webhookId === undefined
      ? [...records]
      : records.filter((r) => r.webhookId === webhookId);
  }

  function settleWaiters(): void {
    waiters = waiters.filter((waiter) => {
      const found = matching(waiter.webhookId);
      if (found.length < waiter.count) return true;
      clearTimeout(waiter.timer);
      waiter.resolve(found);
      return false;
    });
  }

  function nextBehavior(webhookId: string): MockBehavior {
    const queue = behaviors.get(webhookId);
    if (!queue || queue.length === 0) return { kind: 'success' };
    // The last behaviour stays in the queue so that it repeats.
    return (queue.length > 1 ? queue.shift() : queue[0]) ?? { kind: 'success' };
  }

  function channelIdFor(webhookId: string): string {
    let channelId = channelIds.get(webhookId);
    if (channelId === undefined) {
      channelId = nextSnowflake();
      channelIds.set(webhookId, channelId);
    }
    return channelId;
  }

  function discordMessage(record: RecordedRequest): Record<string, unknown> {
    const body =
      typeof record.body === 'object' && record.body !== null
        ? (record.body as Record<string, unknown>)
        : {};
    return {
      id: nextSnowflake(),
      type: 0,
      channel_id: channelIdFor(record.webhookId),
      webhook_id: record.webhookId,
      content: typeof body.content === 'string' ? body.content : '',
      embeds: Array.isArray(body.embeds) ? body.embeds : [],
      timestamp: new Date().toISOString(),
    };
  }

  function send(
    res: ServerResponse,
    record: RecordedRequest,
    status: number,
    body?: unknown,
    headers: OutgoingHttpHeaders = {},
  ): void {
    if (res.destroyed || res.writableEnded) return;
    let payload: string | undefined;
    const allHeaders: OutgoingHttpHeaders = { ...headers };
    if (body !== undefined && status !== 204 && status !== 304) {
      const isText = typeof body === 'string';
      payload = isText ? body : JSON.stringify(body);
      allHeaders['content-type'] ??= isText ? 'text/plain; charset=utf-8' : 'application/json';
      allHeaders['content-length'] = Buffer.byteLength(payload);
    }
    res.writeHead(status, allHeaders);
    res.end(payload);
    record.respondedWith = status;
  }

  function respond(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): void {
    if (record.webhookId === '') {
      send(res, record, 404, { message: '404: Not Found', code: 0 });
      return;
    }
    const behavior = nextBehavior(record.webhookId);
    const wait = isWaitTrue(record.query.wait);
    switch (behavior.kind) {
      case 'success': {
        if (record.body === null) {
          send(res, record, 400, { message: 'Cannot send an empty message', code: 50006 });
          return;
        }
        const status = behavior.status ?? (wait ? 200 : 204);
        send(res, record, status, status === 200 ? discordMessage(record) : undefined);
        return;
      }
      case 'server-error':
        send(res, record, behavior.status ?? 500, { message: 'Internal Server Error', code: 0 });
        return;
      case 'rate-limited': {
        const via = behavior.via ?? 'both';
        const global = behavior.global ?? false;
        const headers: OutgoingHttpHeaders = {
          'x-ratelimit-scope': global ? 'global' : 'user',
          ...(global ? { 'x-ratelimit-global': 'true' } : {}),
          ...(via === 'body' ? {} : { 'retry-after': String(Math.ceil(behavior.retryAfter)) }),
        };
        const body =
          via === 'header'
            ? { message: 'You are being rate limited.', global }
            : { message: 'You are being rate limited.', retry_after: behavior.retryAfter, global };
        send(res, record, 429, body, headers);
        return;
      }
      case 'not-found':
        send(res, record, 404, { message: 'Unknown Webhook', code: 10015 });
        return;
      case 'bad-request':
        send(
          res,
          record,
          400,
          behavior.body ?? {
            message: 'Invalid Form Body',
            code: 50035,
            errors: {
              content: {
                _errors: [
                  { code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' },
                ],
              },
            },
          },
        );
        return;
      case 'unauthorized':
        send(res, record, 401, { message: '401: Unauthorized', code: 0 });
        return;
      case 'status':
        send(res, record, behavior.status, behavior.body, behavior.headers);
        return;
      case 'hang': {
        if (behavior.ms === undefined) return; // until the client gives up or close()
        const timer = setTimeout(() => {
          hangTimers.delete(timer);
          send(res, record, 200, discordMessage(record));
        }, behavior.ms);
        hangTimers.add(timer);
        res.once('close', () => {
          clearTimeout(timer);
          hangTimers.delete(timer);
        });
        return;
      }
      case 'destroy':
        req.socket.destroy();
        return;
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = new Date();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined); // a client that aborts mid-body is simply not recorded
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://mock-discord.invalid');
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody === '' ? null : (JSON.parse(rawBody) as unknown);
      } catch {
        body = null;
      }
      const route = req.method === 'POST' ? WEBHOOK_PATH.exec(url.pathname) : null;
      const record: RecordedRequest = {
        webhookId: route ? decodeURIComponent(route[2] ?? '') : '',
        token: route ? decodeURIComponent(route[3] ?? '') : '',
        apiVersion: route?.[1] === undefined ? null : Number(route[1]),
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { ...req.headers },
        body,
        rawBody,
        receivedAt,
        respondedWith: null,
      };
      records.push(record);
      settleWaiters();
      respond(req, res, record);
    });
  }

  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    webhookUrl(id = nextSnowflake(), token = randomToken()) {
      return `${url}/api/webhooks/${id}/${token}`;
    },
    setBehavior(webhookId, ...sequence) {
      if (sequence.length === 0) behaviors.delete(webhookId);
      else behaviors.set(webhookId, [...sequence]);
    },
    requests(webhookId) {
      return matching(webhookId);
    },
    waitForRequests(count, { webhookId, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS } = {}) {
      const found = matching(webhookId);
      if (found.length >= count) return Promise.resolve(found);
      return new Promise<RecordedRequest[]>((resolve, reject) => {
        const waiter: Waiter = {
          count,
          webhookId,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters = waiters.filter((w) => w !== waiter);
            const got = matching(webhookId);
            const target = webhookId === undefined ? 'in all' : `for webhook ${webhookId}`;
            const seen = got.length === 0 ? '' : `: ${got.map(describeRequest).join(', ')}`;
            reject(
              new Error(
                `mock Discord: expected ${count} request(s) ${target} within ${timeoutMs} ms, ` +
                  `got ${got.length}${seen}`,
              ),
            );
          }, timeoutMs),
        };
        waiters.push(waiter);
      });
    },
    reset() {
      behaviors.clear();
      records = [];
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of hangTimers) clearTimeout(timer);
        hangTimers.clear();
        for (const waiter of waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error('mock Discord: closed while waiting for requests'));
        }
        waiters = [];
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
