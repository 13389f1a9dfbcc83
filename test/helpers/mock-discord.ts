import { createHash, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * How the mock answers one request to a webhook: an execute, or an edit or delete of one of its
 * messages (SPEC §6 lists what the delivery activity must make of each).
 */
export type MockBehavior =
  /**
   * Default. An execute with `?wait=true` gets 200 + the message it created; without, 204.
   * `status` forces one or the other (executes only). An edit or a delete of a message is answered
   * as Discord does (see `MockDiscord.messages`).
   */
  | { kind: 'success'; status?: 200 | 204 }
  /** 500 by default, body `{ message: 'Internal Server Error', code: 0 }`. */
  | { kind: 'server-error'; status?: number }
  /**
   * 429. `via` says where the delay is given (default `both`): `body` puts `retry_after` (float
   * seconds) in the body, `header` sends `Retry-After` (whole seconds, rounded up) and leaves
   * `retry_after` out of the body, so a client reading only one of them can be tested. Forced
   * whatever the bucket holds, it carries the bucket's headers like any answer.
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
  /**
   * Answer nothing for `ms` (default: until the client gives up or the server closes), then as
   * `success` would: an execute gets 200 + the message (created then, so only if the client is
   * still there), an edit or a delete is applied then.
   */
  | { kind: 'hang'; ms?: number }
  /** Destroy the socket without a response (the client sees a connection reset). */
  | { kind: 'destroy' };

export interface RecordedRequest {
  /**
   * '' when the path is not a webhook route: `POST /api[/v<n>]/webhooks/{id}/{token}` (execute),
   * `PATCH` or `DELETE /api[/v<n>]/webhooks/{id}/{token}/messages/{messageId}` (edit, delete).
   */
  webhookId: string;
  token: string;
  /** `n` of `/api/v<n>/webhooks/...`, null for the unversioned path. */
  apiVersion: number | null;
  /** `{messageId}` of an edit or a delete; null for executes and for paths no webhook route. */
  messageId: string | null;
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or null when the body is empty or not JSON. */
  body: unknown;
  rawBody: string;
  receivedAt: Date;
  /**
   * The client's end of the connection the request came on (its local port on 127.0.0.1): which
   * process sent a request, told by its socket rather than by the clock.
   */
  remotePort: number | null;
  /** The status sent, or null while unanswered (hanging) or when the socket was destroyed. */
  respondedWith: number | null;
}

/**
 * A message the mock keeps, as Discord does, for each execute it answered as a success (200 with
 * the message, or 204: Discord creates the message either way). Besides the mock's own fields
 * (camelCase), it holds every field of the execute's JSON body as Discord names them (`username`,
 * `avatar_url`, `tts`, `flags`, ...; those not listed here too), with the edits merged in.
 */
export interface MockMessage {
  /** Snowflake: the `id` of the execute's answer, the `{messageId}` of edits and deletes. */
  id: string;
  webhookId: string;
  /** The webhook's channel: `channel_id` of the answers. */
  channelId: string;
  /** `?thread_id=` of the execute; null when posted in the webhook's channel. */
  threadId: string | null;
  /** As last sent or edited; '' when absent or not a string. */
  content: string;
  /** As last sent or edited; [] when absent or not an array. */
  embeds: unknown[];
  allowed_mentions?: unknown;
  components?: unknown;
  attachments?: unknown;
  username?: unknown;
  avatar_url?: unknown;
  tts?: unknown;
  flags?: unknown;
  thread_name?: unknown;
  applied_tags?: unknown;
  poll?: unknown;
  createdAt: Date;
  /** When last edited through a `PATCH`; null when never. */
  editedAt: Date | null;
  /** Deleted through a `DELETE` or by `deleteMessageByHand`: Discord no longer knows it. */
  deleted: boolean;
}

export interface MockDiscord {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `${url}/api/webhooks/${id}/${token}`; defaults to a fresh numeric id and a random token. */
  webhookUrl(id?: string, token?: string): string;
  /**
   * Behaviours for one webhook, consumed one per request (executes, edits and deletes of its
   * messages alike); the last one repeats. Called with no behaviour, the webhook goes back to the
   * default (success). Only a request its rate-limit bucket lets through uses one up, as only
   * those reach Discord's handler.
   */
  setBehavior(webhookId: string, ...behaviors: MockBehavior[]): void;
  /**
   * Requests recorded so far (for one webhook when given), in arrival order: edits and deletes of
   * messages, bucket 429s and outage 503s included, gateway probes not.
   */
  requests(webhookId?: string): RecordedRequest[];
  /**
   * Resolves with the recorded requests (for one webhook when given) once there are at least
   * `count`; rejects after `timeoutMs` (default 3000) saying what did arrive.
   */
  waitForRequests(
    count: number,
    opts?: { webhookId?: string; timeoutMs?: number },
  ): Promise<RecordedRequest[]>;
  /**
   * How many requests (for one webhook when given) an empty rate-limit bucket answered 429, so a
   * test can assert that a client paces by Discord's headers instead of sending into an empty
   * bucket. Scripted `rate-limited` behaviours are not counted: the test asked for those.
   */
  rateLimited(webhookId?: string): number;
  /**
   * How many `GET /api[/v<n>]/gateway` requests arrived (in every mode but `refuse`): the probe
   * the product uses to tell "Discord is down for everyone" from "this webhook fails" (SPEC §13).
   * They are kept out of `requests()`, whose counts mean deliveries.
   */
  gatewayRequests(): number;
  /**
   * Simulates Discord being down (SPEC §13). `unavailable`: every route answers 503 with a
   * Cloudflare-like body and no rate-limit headers; no bucket or behaviour is used up, but webhook
   * requests are still recorded so that attempts can be counted. `refuse`: the port is closed and
   * every open socket (keep-alive ones too) destroyed, so clients see ECONNREFUSED. `none`: normal
   * answers again, listening on the same port, so `url` and webhook URLs stay valid. Resolves once
   * the server listens (or has stopped listening) as asked; calls are applied in order.
   */
  setOutage(mode: MockOutage): Promise<void>;
  /**
   * The messages kept (for one webhook when given), in creation order, deleted ones included with
   * `deleted: true`; copies, which later edits leave as they are. A webhook's messages are edited
   * by `PATCH` and deleted by `DELETE /api[/v<n>]/webhooks/{id}/{token}/messages/{messageId}`
   * (optionally `?thread_id=`), which share the webhook's rate-limit bucket, outages and scripted
   * behaviours with its executes; only a `success` reaches the message. An edit replaces the
   * `content`, `embeds`, `allowed_mentions`, `components` and `attachments` its JSON body has
   * (keeping those it leaves out) and is answered 200 with the message and its
   * `edited_timestamp`; a delete is answered 204. A message that the mock never created, that is
   * another webhook's, was deleted, or is not in the thread asked for (`thread_id` must name the
   * message's thread, and be absent for one in the webhook's channel) gets 404 Unknown Message
   * (code 10008); an edit whose body is not a JSON object gets 400 (code 50109).
   */
  messages(webhookId?: string): MockMessage[];
  /** `messages()` without the deleted ones: what a Discord user sees in the channel. */
  aliveMessages(webhookId?: string): MockMessage[];
  /** A copy of one kept message (deleted too); undefined when the mock never created it. */
  message(messageId: string): MockMessage | undefined;
  /**
   * Deletes a message as a Discord user does in the client: no request is recorded, no bucket or
   * behaviour used up, and later edits and deletes of it get 404 Unknown Message (10008). Whether
   * the message existed and was not deleted yet.
   */
  deleteMessageByHand(messageId: string): boolean;
  /**
   * Forgets behaviours, recorded requests (gateway ones too), kept messages, rate-limit buckets
   * and their 429 counts, and ends any outage, so that one test's outage never leaks into the
   * next. After `refuse` the port is opened again at once (its bind is queued before any request
   * made after `reset()` can connect; behind a switch still under way, only once that one is
   * done); a test that needs to know the port is open again awaits `setOutage('none')` instead.
   */
  reset(): void;
  /**
   * Stops listening and destroys every open socket, hanging requests included. Works in every
   * outage mode and waits for an outage switch under way; later calls return the same promise.
   */
  close(): Promise<void>;
}

/** Discord's per-webhook limit: how many requests a bucket lets through per window. */
export interface MockRateLimit {
  /** Requests let through per window (Discord's webhook limit: 5). */
  limit: number;
  /**
   * Window length: a webhook's window starts at the first request arriving when none is running
   * and ends this much later, when the bucket is full again (Discord's: 2000 ms).
   */
  windowMs: number;
}

/** See `MockDiscord.setOutage`. */
export type MockOutage = 'none' | 'unavailable' | 'refuse';

export interface MockDiscordOptions {
  /** Port to listen on; 0 (default) takes a free one. */
  port?: number;
  /** Address to listen on; 127.0.0.1 by default, so outbound HTTP never leaves the machine. */
  host?: string;
  /**
   * Per-webhook rate-limit buckets like Discord's (default `{ limit: 5, windowMs: 2000 }`): every
   * webhook answer carries `X-RateLimit-*` headers and a request arriving when its webhook's
   * bucket is empty gets a 429, which is what the product's pacing (SPEC §13) has to avoid.
   * `false` turns both headers and 429s off, for tests about something else that need bursts.
   */
  rateLimit?: MockRateLimit | false;
}

const DEFAULT_WAIT_TIMEOUT_MS = 3_000;
const DEFAULT_RATE_LIMIT: MockRateLimit = { limit: 5, windowMs: 2_000 };
const DISCORD_EPOCH_MS = 1_420_070_400_000n;
const WEBHOOK_PATH = /^\/api(?:\/v(\d+))?\/webhooks\/([^/]+)\/([^/]+)$/;
const MESSAGE_PATH = /^\/api(?:\/v(\d+))?\/webhooks\/([^/]+)\/([^/]+)\/messages\/([^/]+)$/;
/** A path with a webhook token in it, for `maskToken`. */
const TOKEN_PATH = /^\/api(?:\/v(\d+))?\/webhooks\/([^/]+)\/[^/]+(\/messages\/[^/]+)?$/;
const GATEWAY_PATH = /^\/api(?:\/v\d+)?\/gateway\/?$/;
/** What Cloudflare in front of Discord answers while Discord is down. */
const SERVICE_UNAVAILABLE = { message: '503: Service Unavailable', code: 0 };
const UNKNOWN_MESSAGE = { message: 'Unknown Message', code: 10008 };
/** The fields of a message that an edit (`PATCH`) replaces when its body has them. */
const EDITABLE_FIELDS = ['content', 'embeds', 'allowed_mentions', 'components', 'attachments'];

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
  return path.replace(
    TOKEN_PATH,
    (_m, version: string | undefined, id: string, message: string | undefined) =>
      (version === undefined
        ? `/api/webhooks/${id}/****`
        : `/api/v${version}/webhooks/${id}/****`) + (message ?? ''),
  );
}

function describeRequest(r: RecordedRequest): string {
  return `${r.method} ${maskToken(r.path)} -> ${r.respondedWith ?? 'unanswered'}`;
}

/** Discord's `X-RateLimit-Bucket`: opaque, stable per webhook, not the id itself. */
function bucketHash(webhookId: string): string {
  return createHash('sha256').update(webhookId).digest('hex').slice(0, 32);
}

/** Seconds with millisecond precision, as Discord writes them in headers and `retry_after`. */
function seconds(ms: number): string {
  return (ms / 1_000).toFixed(3);
}

/** A JSON body's fields; none when it is not an object. */
function fieldsOf(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

/** `?thread_id=` of a request; null when absent or empty. */
function threadOf(record: RecordedRequest): string | null {
  const threadId = record.query.thread_id;
  return threadId === undefined || threadId === '' ? null : threadId;
}

/** A message as the mock keeps it. */
interface StoredMessage {
  id: string;
  webhookId: string;
  channelId: string;
  threadId: string | null;
  /** The execute's JSON body's fields, with the edits' merged in. */
  fields: Record<string, unknown>;
  createdAt: Date;
  editedAt: Date | null;
  deleted: boolean;
}

function contentOf(message: StoredMessage): string {
  return typeof message.fields.content === 'string' ? message.fields.content : '';
}

function embedsOf(message: StoredMessage): unknown[] {
  return Array.isArray(message.fields.embeds) ? (message.fields.embeds as unknown[]) : [];
}

/** What a test sees of a kept message: a copy. */
function snapshot(message: StoredMessage): MockMessage {
  const fields = structuredClone(message.fields);
  return {
    ...fields,
    id: message.id,
    webhookId: message.webhookId,
    channelId: message.channelId,
    threadId: message.threadId,
    content: contentOf(message),
    embeds: structuredClone(embedsOf(message)),
    createdAt: new Date(message.createdAt),
    editedAt: message.editedAt === null ? null : new Date(message.editedAt),
    deleted: message.deleted,
  };
}

/** The message object Discord answers an execute with. */
function discordMessage(message: StoredMessage): Record<string, unknown> {
  return {
    id: message.id,
    type: 0,
    channel_id: message.channelId,
    webhook_id: message.webhookId,
    content: contentOf(message),
    embeds: embedsOf(message),
    timestamp: message.createdAt.toISOString(),
  };
}

/** One webhook's rate-limit window. */
interface Bucket {
  /** Epoch ms at which the window ends and the bucket is full again. */
  resetAt: number;
  remaining: number;
}

interface Waiter {
  count: number;
  webhookId: string | undefined;
  resolve(records: RecordedRequest[]): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Starts a local stand-in for Discord's webhook API on 127.0.0.1 (SPEC §9, §13): scripted answers
 * per webhook, Discord's per-webhook rate-limit buckets, a gateway route to probe, and outage
 * switches, with every request recorded so that tests count what reached "Discord".
 */
export async function startMockDiscord(opts: MockDiscordOptions = {}): Promise<MockDiscord> {
  const host = opts.host ?? '127.0.0.1';
  const rateLimit = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
  if (
    rateLimit !== false &&
    (!Number.isInteger(rateLimit.limit) || rateLimit.limit < 1 || !(rateLimit.windowMs > 0))
  ) {
    throw new Error(
      `mock Discord: rateLimit needs a whole limit >= 1 and windowMs > 0, got ${JSON.stringify(rateLimit)}`,
    );
  }
  const behaviors = new Map<string, MockBehavior[]>();
  const channelIds = new Map<string, string>();
  const buckets = new Map<string, Bucket>();
  /** Kept messages by id, in creation order. */
  const messageStore = new Map<string, StoredMessage>();
  const bucketRefusals = new Map<string, number>();
  const sockets = new Set<Socket>();
  const hangTimers = new Set<NodeJS.Timeout>();
  let records: RecordedRequest[] = [];
  let gatewayCount = 0;
  let waiters: Waiter[] = [];
  let outage: MockOutage = 'none';
  let listening = false;
  // Outage switches that open or close the port run one after the other, in call order.
  let switching: Promise<void> = Promise.resolve();
  let switchesUnderWay = 0;
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

  /**
   * Takes one request from the webhook's bucket, opening a window when none is running; the
   * bucket of the window that is running when it is empty.
   */
  function takeFromBucket(webhookId: string, now: number): { empty: Bucket } | undefined {
    if (rateLimit === false) return undefined;
    let bucket = buckets.get(webhookId);
    if (bucket === undefined || now >= bucket.resetAt) {
      bucket = { resetAt: now + rateLimit.windowMs, remaining: rateLimit.limit };
      buckets.set(webhookId, bucket);
    }
    if (bucket.remaining === 0) return { empty: bucket };
    bucket.remaining -= 1;
    return undefined;
  }

  /**
   * Discord's `X-RateLimit-*` headers for the webhook's bucket as it is at `now` (the moment of
   * the answer, so a hanging answer reports the window it is sent in). Once the window is over
   * the bucket is full and resets "now": nothing is running until the next request opens one.
   */
  function bucketHeaders(webhookId: string, now = Date.now()): OutgoingHttpHeaders {
    if (rateLimit === false) return {};
    const bucket = buckets.get(webhookId);
    const running = bucket !== undefined && now < bucket.resetAt;
    const resetAt = running ? bucket.resetAt : now;
    return {
      'x-ratelimit-limit': String(rateLimit.limit),
      'x-ratelimit-remaining': String(running ? bucket.remaining : rateLimit.limit),
      'x-ratelimit-reset': seconds(resetAt),
      'x-ratelimit-reset-after': seconds(resetAt - now),
      'x-ratelimit-bucket': bucketHash(webhookId),
    };
  }

  function channelIdFor(webhookId: string): string {
    let channelId = channelIds.get(webhookId);
    if (channelId === undefined) {
      channelId = nextSnowflake();
      channelIds.set(webhookId, channelId);
    }
    return channelId;
  }

  /** Creates and keeps the message an execute posts. */
  function createMessage(record: RecordedRequest): StoredMessage {
    const message: StoredMessage = {
      id: nextSnowflake(),
      webhookId: record.webhookId,
      channelId: channelIdFor(record.webhookId),
      threadId: threadOf(record),
      fields: structuredClone(fieldsOf(record.body)),
      createdAt: new Date(),
      editedAt: null,
      deleted: false,
    };
    messageStore.set(message.id, message);
    return message;
  }

  function keptMessages(webhookId: string | undefined, alive: boolean): MockMessage[] {
    const found: MockMessage[] = [];
    for (const message of messageStore.values()) {
      if (webhookId !== undefined && message.webhookId !== webhookId) continue;
      if (alive && message.deleted) continue;
      found.push(snapshot(message));
    }
    return found;
  }

  /** A `success` answer to an edit or a delete of a message (`record.messageId` set). */
  function answerOnMessage(
    record: RecordedRequest,
    reply: (status: number, body?: unknown) => void,
  ): void {
    const edit = record.rawBody === '' ? {} : record.body;
    if (
      record.method === 'PATCH' &&
      (typeof edit !== 'object' || edit === null || Array.isArray(edit))
    ) {
      reply(400, { message: 'The request body contains invalid JSON.', code: 50109 });
      return;
    }
    const message = messageStore.get(record.messageId ?? '');
    if (
      message === undefined ||
      message.deleted ||
      message.webhookId !== record.webhookId ||
      message.threadId !== threadOf(record)
    ) {
      reply(404, UNKNOWN_MESSAGE);
      return;
    }
    if (record.method === 'DELETE') {
      message.deleted = true;
      reply(204);
      return;
    }
    const changes = fieldsOf(edit);
    for (const field of EDITABLE_FIELDS) {
      if (Object.hasOwn(changes, field)) message.fields[field] = structuredClone(changes[field]);
    }
    const editedAt = new Date();
    message.editedAt = editedAt;
    reply(200, { ...discordMessage(message), edited_timestamp: editedAt.toISOString() });
  }

  /** Writes an answer unless the client is gone; whether it was written. */
  function write(
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: OutgoingHttpHeaders = {},
  ): boolean {
    if (res.destroyed || res.writableEnded) return false;
    let payload: string | undefined;
    // Lower-cased so that a scripted header replaces a computed one instead of doubling it.
    const allHeaders: OutgoingHttpHeaders = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    if (body !== undefined && status !== 204 && status !== 304) {
      const isText = typeof body === 'string';
      payload = isText ? body : JSON.stringify(body);
      allHeaders['content-type'] ??= isText ? 'text/plain; charset=utf-8' : 'application/json';
      allHeaders['content-length'] = Buffer.byteLength(payload);
    }
    res.writeHead(status, allHeaders);
    res.end(payload);
    return true;
  }

  function send(
    res: ServerResponse,
    record: RecordedRequest,
    status: number,
    body?: unknown,
    headers: OutgoingHttpHeaders = {},
  ): void {
    if (write(res, status, body, headers)) record.respondedWith = status;
  }

  /** A webhook route's scripted answer; the bucket's headers are computed when it is sent. */
  function respondAsScripted(
    req: IncomingMessage,
    res: ServerResponse,
    record: RecordedRequest,
  ): void {
    const reply = (status: number, body?: unknown, headers: OutgoingHttpHeaders = {}): void =>
      send(res, record, status, body, { ...bucketHeaders(record.webhookId), ...headers });
    const behavior = nextBehavior(record.webhookId);
    const wait = isWaitTrue(record.query.wait);
    switch (behavior.kind) {
      case 'success': {
        if (record.messageId !== null) {
          answerOnMessage(record, reply);
          return;
        }
        if (record.body === null) {
          reply(400, { message: 'Cannot send an empty message', code: 50006 });
          return;
        }
        const status = behavior.status ?? (wait ? 200 : 204);
        const message = createMessage(record);
        reply(status, status === 200 ? discordMessage(message) : undefined);
        return;
      }
      case 'server-error':
        reply(behavior.status ?? 500, { message: 'Internal Server Error', code: 0 });
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
        reply(429, body, headers);
        return;
      }
      case 'not-found':
        reply(404, { message: 'Unknown Webhook', code: 10015 });
        return;
      case 'bad-request':
        reply(
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
        reply(401, { message: '401: Unauthorized', code: 0 });
        return;
      case 'status':
        reply(behavior.status, behavior.body, behavior.headers);
        return;
      case 'hang': {
        if (behavior.ms === undefined) return; // until the client gives up or close()
        const timer = setTimeout(() => {
          hangTimers.delete(timer);
          if (record.messageId !== null) answerOnMessage(record, reply);
          else reply(200, discordMessage(createMessage(record)));
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

  function respond(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): void {
    if (outage === 'unavailable') {
      // What Cloudflare answers when Discord is down: no bucket, no behaviour used up.
      send(res, record, 503, SERVICE_UNAVAILABLE);
      return;
    }
    if (record.webhookId === '') {
      send(res, record, 404, { message: '404: Not Found', code: 0 });
      return;
    }
    const now = Date.now();
    const refused = takeFromBucket(record.webhookId, now);
    if (refused !== undefined) {
      bucketRefusals.set(record.webhookId, (bucketRefusals.get(record.webhookId) ?? 0) + 1);
      // The request arrived inside the window, so at least a millisecond of it is left.
      const retryAfter = Number(seconds(Math.max(1, refused.empty.resetAt - now)));
      send(
        res,
        record,
        429,
        { message: 'You are being rate limited.', retry_after: retryAfter, global: false },
        {
          ...bucketHeaders(record.webhookId, now),
          'retry-after': String(Math.ceil(retryAfter)),
          'x-ratelimit-scope': 'user',
        },
      );
      return;
    }
    respondAsScripted(req, res, record);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = new Date();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined); // a client that aborts mid-body is simply not recorded
    req.on('end', () => {
      if (outage === 'refuse') {
        // Came on a connection opened before the port closed: a refused server never sees it.
        req.socket.destroy();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://mock-discord.invalid');
      if (req.method === 'GET' && GATEWAY_PATH.test(url.pathname)) {
        gatewayCount += 1;
        if (outage === 'unavailable') write(res, 503, SERVICE_UNAVAILABLE);
        else write(res, 200, { url: 'wss://gateway.discord.gg' });
        return;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody === '' ? null : (JSON.parse(rawBody) as unknown);
      } catch {
        body = null;
      }
      const onMessage =
        req.method === 'PATCH' || req.method === 'DELETE' ? MESSAGE_PATH.exec(url.pathname) : null;
      const route = req.method === 'POST' ? WEBHOOK_PATH.exec(url.pathname) : onMessage;
      const record: RecordedRequest = {
        webhookId: route ? decodeURIComponent(route[2] ?? '') : '',
        token: route ? decodeURIComponent(route[3] ?? '') : '',
        apiVersion: route?.[1] === undefined ? null : Number(route[1]),
        messageId: onMessage ? decodeURIComponent(onMessage[4] ?? '') : null,
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { ...req.headers },
        body,
        rawBody,
        receivedAt,
        remotePort: req.socket.remotePort ?? null,
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

  function listen(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        server.off('listening', onListening);
        reject(error);
      };
      const onListening = (): void => {
        server.off('error', onError);
        listening = true;
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, host);
    });
  }

  /** Closes the port and every open socket; resolves once the last connection is gone. */
  function stopListening(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      listening = false;
      server.close((error) => (error ? reject(error) : resolve()));
      for (const socket of sockets) socket.destroy();
    });
  }

  await listen(opts.port ?? 0);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  function setOutage(mode: MockOutage): Promise<void> {
    if (closing) return Promise.reject(new Error('mock Discord: closed, no outage to switch'));
    outage = mode;
    const apply = (): Promise<void> => {
      if (mode === 'refuse' && listening) return stopListening();
      if (mode !== 'refuse' && !listening) return listen(port);
      return Promise.resolve();
    };
    // With no switch under way the port is opened or closed at once, so that a request made right
    // after `reset()` finds it listening; otherwise after the switches before it, whether or not
    // those worked, so that a failed re-listen does not wedge every later switch.
    const run = switchesUnderWay === 0 ? apply() : switching.catch(() => undefined).then(apply);
    switchesUnderWay += 1;
    const settled = (): void => {
      switchesUnderWay -= 1;
    };
    run.then(settled, settled);
    switching = run;
    return run;
  }

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
    rateLimited(webhookId) {
      if (webhookId !== undefined) return bucketRefusals.get(webhookId) ?? 0;
      let total = 0;
      for (const count of bucketRefusals.values()) total += count;
      return total;
    },
    gatewayRequests() {
      return gatewayCount;
    },
    setOutage,
    messages(webhookId) {
      return keptMessages(webhookId, false);
    },
    aliveMessages(webhookId) {
      return keptMessages(webhookId, true);
    },
    message(messageId) {
      const message = messageStore.get(messageId);
      return message === undefined ? undefined : snapshot(message);
    },
    deleteMessageByHand(messageId) {
      const message = messageStore.get(messageId);
      if (message === undefined || message.deleted) return false;
      message.deleted = true;
      return true;
    },
    reset() {
      behaviors.clear();
      records = [];
      messageStore.clear();
      gatewayCount = 0;
      buckets.clear();
      bucketRefusals.clear();
      // A failed re-listen shows as ECONNREFUSED in the next test; setOutage('none') reports it.
      if (!closing && (outage !== 'none' || !listening)) setOutage('none').catch(() => undefined);
    },
    close() {
      closing ??= (async () => {
        for (const timer of hangTimers) clearTimeout(timer);
        hangTimers.clear();
        for (const waiter of waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error('mock Discord: closed while waiting for requests'));
        }
        waiters = [];
        await switching.catch(() => undefined);
        if (listening) await stopListening();
      })();
      return closing;
    },
  };
}
