import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import axios, { type AxiosResponse } from 'axios';
import {
  startMockDiscord,
  type MockDiscord,
  type MockDiscordOptions,
} from '../helpers/mock-discord';

// A fresh connection per request, so that a socket the mock destroyed is never reused.
const http = axios.create({
  validateStatus: () => true,
  maxRedirects: 0,
  httpAgent: new Agent({ keepAlive: false }),
});

const payload = { content: 'hello {{task.name}}', embeds: [{ title: 'report' }] };

let mock: MockDiscord;
/** Mocks a test started with its own options, closed after it. */
let ownMocks: MockDiscord[] = [];

beforeAll(async () => {
  mock = await startMockDiscord();
});

afterEach(async () => {
  mock.reset();
  await Promise.all(ownMocks.map((own) => own.close()));
  ownMocks = [];
});

afterAll(async () => {
  await mock.close();
});

/** A webhook with a fresh id on the mock, and that id. */
function webhook(): { id: string; url: string } {
  const url = mock.webhookUrl();
  const id = new URL(url).pathname.split('/')[3] ?? '';
  return { id, url };
}

function post(url: string, body: unknown = payload): Promise<AxiosResponse> {
  return http.post(url, body);
}

/** A mock of its own for one test (closed after it), and a webhook on it. */
async function ownMock(
  opts: MockDiscordOptions,
): Promise<{ own: MockDiscord; id: string; url: string }> {
  const own = await startMockDiscord(opts);
  ownMocks.push(own);
  const url = own.webhookUrl();
  return { own, id: new URL(url).pathname.split('/')[3] ?? '', url };
}

/** The error a request failed with (it must fail). */
async function failure(request: Promise<unknown>): Promise<unknown> {
  return request.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e,
  );
}

function header(res: AxiosResponse, name: string): string | undefined {
  const value: unknown = res.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The X-RateLimit-* headers of an answer, as numbers where Discord sends numbers. */
function bucketOf(res: AxiosResponse): {
  limit: number;
  remaining: number;
  reset: number;
  resetAfter: number;
  bucket: string | undefined;
} {
  return {
    limit: Number(header(res, 'x-ratelimit-limit')),
    remaining: Number(header(res, 'x-ratelimit-remaining')),
    reset: Number(header(res, 'x-ratelimit-reset')),
    resetAfter: Number(header(res, 'x-ratelimit-reset-after')),
    bucket: header(res, 'x-ratelimit-bucket'),
  };
}

describe('mock Discord webhook server', () => {
  it('when a webhook URL is made without arguments, then it has a fresh numeric id and a 68-character token on 127.0.0.1', () => {
    const first = new URL(mock.webhookUrl());
    const second = new URL(mock.webhookUrl());
    expect(first.hostname).toBe('127.0.0.1');
    expect(first.pathname).toMatch(/^\/api\/webhooks\/\d+\/[A-Za-z0-9_-]{68}$/);
    expect(second.pathname).not.toBe(first.pathname);
    expect(mock.webhookUrl('123', 'tok')).toBe(`${mock.url}/api/webhooks/123/tok`);
  });

  it('when a message is posted with wait=true, then 200 and a Discord message with a unique snowflake id come back', async () => {
    const { id, url } = webhook();

    const first = await post(`${url}?wait=true`);
    const second = await post(`${url}?wait=true`);

    expect(first.status).toBe(200);
    expect(first.data).toEqual({
      id: expect.stringMatching(/^\d{17,20}$/),
      type: 0,
      channel_id: expect.stringMatching(/^\d+$/),
      webhook_id: id,
      content: payload.content,
      embeds: payload.embeds,
      timestamp: expect.any(String),
    });
    expect(second.data.id).not.toBe(first.data.id);
    expect(mock.requests(id).map((r) => r.respondedWith)).toEqual([200, 200]);
  });

  it('when a message is posted without wait, then 204 with no body comes back', async () => {
    const { id, url } = webhook();

    const res = await post(url);

    expect(res.status).toBe(204);
    expect(res.data).toBe('');
    expect(mock.requests(id)[0]?.respondedWith).toBe(204);
  });

  it('when success is given a status, then it wins over the wait flag', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'success', status: 200 }, { kind: 'success', status: 204 });

    const withoutWait = await post(url);
    const withWait = await post(`${url}?wait=true`);

    expect(withoutWait.status).toBe(200);
    expect(withoutWait.data.webhook_id).toBe(id);
    expect(withWait.status).toBe(204);
  });

  it('when the versioned v10 path is called, then the request is recorded with apiVersion 10, its query, headers and body', async () => {
    const { id } = webhook();
    const url = `${mock.url}/api/v10/webhooks/${id}/secret-token?wait=true&thread_id=42`;

    const res = await http.post(url, payload, { headers: { 'User-Agent': 'DiscordBot (x, 1)' } });

    expect(res.status).toBe(200);
    const [request] = mock.requests(id);
    expect(request).toMatchObject({
      webhookId: id,
      token: 'secret-token',
      apiVersion: 10,
      method: 'POST',
      path: `/api/v10/webhooks/${id}/secret-token`,
      query: { wait: 'true', thread_id: '42' },
      body: payload,
      rawBody: JSON.stringify(payload),
      respondedWith: 200,
    });
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
    expect(request?.headers['user-agent']).toBe('DiscordBot (x, 1)');
    expect(request?.receivedAt).toBeInstanceOf(Date);
  });

  it('when the unversioned path is called, then apiVersion is null', async () => {
    const { id, url } = webhook();

    await post(url);

    expect(mock.requests(id)[0]?.apiVersion).toBeNull();
  });

  it('when a sequence of 500, 500, success is set, then it is consumed in order and the last behaviour repeats', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'server-error' }, { kind: 'server-error' }, { kind: 'success' });

    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await post(`${url}?wait=true`)).status);

    expect(statuses).toEqual([500, 500, 200, 200]);
  });

  it('when a server error is given a status, then that status comes back with the Discord error body', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'server-error', status: 503 });

    const res = await post(url);

    expect(res.status).toBe(503);
    expect(res.data).toEqual({ message: 'Internal Server Error', code: 0 });
  });

  it('when behaviours are set for one webhook, then another webhook still succeeds', async () => {
    const broken = webhook();
    const healthy = webhook();
    mock.setBehavior(broken.id, { kind: 'server-error' });

    expect((await post(broken.url)).status).toBe(500);
    expect((await post(healthy.url)).status).toBe(204);
  });

  it('when rate limited, then 429 carries retry_after as float seconds in the body and Retry-After rounded up in the header', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'rate-limited', retryAfter: 1.5 });

    const res = await post(url);

    expect(res.status).toBe(429);
    expect(res.data).toEqual({
      message: 'You are being rate limited.',
      retry_after: 1.5,
      global: false,
    });
    expect(res.headers['retry-after']).toBe('2');
  });

  it('when rate limited via the body only or the header only, then the delay is given only there', async () => {
    const { id, url } = webhook();
    mock.setBehavior(
      id,
      { kind: 'rate-limited', retryAfter: 0.25, via: 'body' },
      { kind: 'rate-limited', retryAfter: 3, via: 'header', global: true },
    );

    const bodyOnly = await post(url);
    const headerOnly = await post(url);

    expect(bodyOnly.data.retry_after).toBe(0.25);
    expect(bodyOnly.headers['retry-after']).toBeUndefined();
    expect(headerOnly.status).toBe(429);
    expect(headerOnly.data).toEqual({ message: 'You are being rate limited.', global: true });
    expect(headerOnly.headers['retry-after']).toBe('3');
  });

  it('when the webhook was deleted, then 404 Unknown Webhook with code 10015', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'not-found' });

    const res = await post(url);

    expect(res.status).toBe(404);
    expect(res.data).toEqual({ message: 'Unknown Webhook', code: 10015 });
  });

  it('when the body is refused, then 400 Invalid Form Body by default or the body given', async () => {
    const { id, url } = webhook();
    mock.setBehavior(
      id,
      { kind: 'bad-request' },
      { kind: 'bad-request', body: { message: 'custom', code: 50109 } },
    );

    const byDefault = await post(url);
    const custom = await post(url);

    expect(byDefault.status).toBe(400);
    expect(byDefault.data).toMatchObject({
      message: 'Invalid Form Body',
      code: 50035,
      errors: expect.any(Object),
    });
    expect(custom.status).toBe(400);
    expect(custom.data).toEqual({ message: 'custom', code: 50109 });
  });

  it('when the token is wrong, then 401 Unauthorized', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'unauthorized' });

    const res = await post(url);

    expect(res.status).toBe(401);
    expect(res.data).toEqual({ message: '401: Unauthorized', code: 0 });
  });

  it('when a plain status is set, then 403, 413, 502 and a redirect come back as given and the redirect is not followed', async () => {
    const { id, url } = webhook();
    mock.setBehavior(
      id,
      { kind: 'status', status: 403, body: { message: 'Missing Access', code: 50001 } },
      { kind: 'status', status: 413, body: { message: 'Request entity too large', code: 40005 } },
      { kind: 'status', status: 502, body: '<html>bad gateway</html>' },
      { kind: 'status', status: 302, headers: { Location: `${mock.url}/elsewhere` } },
    );

    const forbidden = await post(url);
    const tooLarge = await post(url);
    const badGateway = await post(url);
    const redirect = await post(url);

    expect(forbidden.status).toBe(403);
    expect(forbidden.data).toEqual({ message: 'Missing Access', code: 50001 });
    expect(tooLarge.status).toBe(413);
    expect(badGateway.status).toBe(502);
    expect(badGateway.data).toBe('<html>bad gateway</html>');
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe(`${mock.url}/elsewhere`);
    expect(mock.requests().map((r) => r.path)).not.toContain('/elsewhere');
  });

  it('when the body is not JSON and the behaviour is success, then 400 Cannot send an empty message and the raw body is recorded', async () => {
    const { id, url } = webhook();

    const res = await http.post(url, 'not json', { headers: { 'Content-Type': 'text/plain' } });

    expect(res.status).toBe(400);
    expect(res.data).toEqual({ message: 'Cannot send an empty message', code: 50006 });
    expect(mock.requests(id)[0]).toMatchObject({ body: null, rawBody: 'not json' });
  });

  it('when the body is not JSON and the behaviour is not success, then that behaviour answers', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'server-error' });

    const res = await http.post(url, 'not json', { headers: { 'Content-Type': 'text/plain' } });

    expect(res.status).toBe(500);
  });

  it('when a path is not a webhook route, then 404 Not Found and it is recorded with an empty webhook id', async () => {
    const res = await http.post(`${mock.url}/api/channels/1/messages`, payload);
    const getWebhook = await http.get(mock.webhookUrl('55', 'tok'));

    expect(res.status).toBe(404);
    expect(res.data).toEqual({ message: '404: Not Found', code: 0 });
    expect(getWebhook.status).toBe(404);
    expect(mock.requests('')).toEqual([
      expect.objectContaining({
        webhookId: '',
        path: '/api/channels/1/messages',
        respondedWith: 404,
      }),
      expect.objectContaining({ webhookId: '', method: 'GET', respondedWith: 404 }),
    ]);
  });

  it('when the server hangs past the client timeout, then axios gives up with a timeout and the request was still recorded', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'hang' });

    const error: unknown = await http.post(url, payload, { timeout: 200 }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(axios.isAxiosError(error)).toBe(true);
    if (!axios.isAxiosError(error)) return;
    expect(['ECONNABORTED', 'ETIMEDOUT']).toContain(error.code);
    expect(error.response).toBeUndefined();
    const [request] = mock.requests(id);
    expect(request).toMatchObject({ webhookId: id, body: payload, respondedWith: null });
  });

  it('when a hang has a duration, then the request is visible while pending and answered 200 afterwards', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'hang', ms: 200 });

    const pending = post(url);
    const [request] = await mock.waitForRequests(1, { webhookId: id });
    expect(request?.respondedWith).toBeNull();

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.data.webhook_id).toBe(id);
    expect(request?.respondedWith).toBe(200);
  });

  it('when the socket is destroyed, then axios fails with a network error and no response', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'destroy' });

    const error: unknown = await post(url).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(axios.isAxiosError(error)).toBe(true);
    if (!axios.isAxiosError(error)) return;
    expect(error.response).toBeUndefined();
    expect(error.code).toBe('ECONNRESET');
    expect(mock.requests(id)).toEqual([expect.objectContaining({ respondedWith: null })]);
  });

  it('when requests arrive after waitForRequests is called, then it resolves with them', async () => {
    const { id, url } = webhook();
    const waiting = mock.waitForRequests(2, { webhookId: id });

    await post(url);
    await post(url);

    const requests = await waiting;
    expect(requests).toHaveLength(2);
    expect(requests.every((r) => r.webhookId === id)).toBe(true);
  });

  it('when too few requests arrive, then waitForRequests rejects saying how many it expected and what came', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'server-error' });
    await post(url);

    await expect(mock.waitForRequests(2, { webhookId: id, timeoutMs: 50 })).rejects.toThrow(
      new RegExp(`expected 2 request\\(s\\) for webhook ${id} within 50 ms, got 1: POST .*-> 500`),
    );
  });

  it('when the timeout message lists a request, then the token is masked', async () => {
    const { id, url } = webhook();
    const token = new URL(url).pathname.split('/')[4] ?? '';
    await post(url);

    const error: unknown = await mock.waitForRequests(2, { webhookId: id, timeoutMs: 20 }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(String(error)).toContain(`/api/webhooks/${id}/****`);
    expect(String(error)).not.toContain(token);
  });

  it('when reset, then behaviours and records are forgotten', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'not-found' });
    await post(url);
    expect(mock.requests()).toHaveLength(1);

    mock.reset();

    expect(mock.requests()).toEqual([]);
    expect((await post(url)).status).toBe(204);
  });

  it('when closed with a hanging request open, then close finishes and the client sees the connection end', async () => {
    const own = await startMockDiscord();
    const url = own.webhookUrl('77');
    own.setBehavior('77', { kind: 'hang' });
    const pending = http.post(url, payload, { timeout: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await own.waitForRequests(1);

    await own.close();

    const error = await pending;
    expect(axios.isAxiosError(error)).toBe(true);
    await expect(own.close()).resolves.toBeUndefined();
  });
});

describe('mock Discord rate-limit buckets', () => {
  it('when a webhook answers, then it carries Discord rate-limit headers and Remaining counts down per request', async () => {
    const { id, url } = await ownMock({ rateLimit: { limit: 3, windowMs: 60_000 } });

    const first = await post(`${url}?wait=true`);
    const second = await post(url);

    expect(first.status).toBe(200);
    expect(second.status).toBe(204);
    expect(header(first, 'x-ratelimit-reset-after')).toMatch(/^\d+\.\d{3}$/);
    expect(header(first, 'x-ratelimit-reset')).toMatch(/^\d{10}\.\d{3}$/);
    const bucket = createHash('sha256').update(id).digest('hex').slice(0, 32);
    expect(bucketOf(first)).toMatchObject({ limit: 3, remaining: 2, bucket });
    expect(bucketOf(second)).toMatchObject({ limit: 3, remaining: 1, bucket });
    const { reset, resetAfter } = bucketOf(second);
    expect(resetAfter).toBeGreaterThan(0);
    expect(resetAfter).toBeLessThanOrEqual(60);
    // Both name the same moment, the end of the window; the clock moved a little in between.
    expect(Math.abs(reset - (Date.now() / 1_000 + resetAfter))).toBeLessThan(5);
    expect(bucketOf(first).reset).toBe(reset);
  });

  it('when a sixth request reaches one webhook within 2 s by default, then it gets 429 with retry_after and Discord headers and is counted', async () => {
    const { id, url } = webhook();

    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await post(url)).status);
    const sixth = await post(url);

    expect(statuses).toEqual([204, 204, 204, 204, 204]);
    expect(sixth.status).toBe(429);
    expect(sixth.data).toEqual({
      message: 'You are being rate limited.',
      retry_after: expect.any(Number),
      global: false,
    });
    const retryAfter = Number(sixth.data.retry_after);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(2);
    expect(String(retryAfter)).toMatch(/^\d+(\.\d{1,3})?$/);
    expect(header(sixth, 'retry-after')).toBe(String(Math.ceil(retryAfter)));
    expect(header(sixth, 'x-ratelimit-scope')).toBe('user');
    expect(bucketOf(sixth)).toMatchObject({ limit: 5, remaining: 0 });
    expect(bucketOf(sixth).resetAfter).toBeLessThanOrEqual(2);
    expect(mock.rateLimited(id)).toBe(1);
    expect(mock.rateLimited()).toBe(1);
    expect(mock.requests(id).map((r) => r.respondedWith)).toEqual([204, 204, 204, 204, 204, 429]);
  });

  it('when the window is over, then the webhook is answered again with a full bucket', async () => {
    const { own, url } = await ownMock({ rateLimit: { limit: 2, windowMs: 1_000 } });
    await post(url);
    await post(url);
    const limited = await post(url);
    expect(limited.status).toBe(429);

    await sleep(Number(limited.data.retry_after) * 1_000 + 50);
    const again = await post(url);

    expect(again.status).toBe(204);
    expect(bucketOf(again)).toMatchObject({ limit: 2, remaining: 1 });
    expect(own.rateLimited()).toBe(1);
  });

  it('when rate limits are turned off, then a burst is answered without 429s or rate-limit headers', async () => {
    const { own, url } = await ownMock({ rateLimit: false });

    const answers: AxiosResponse[] = [];
    for (let i = 0; i < 8; i += 1) answers.push(await post(url));

    expect(answers.map((res) => res.status)).toEqual(Array<number>(8).fill(204));
    for (const res of answers) {
      expect(Object.keys(res.headers).filter((name) => name.startsWith('x-ratelimit'))).toEqual([]);
    }
    expect(own.rateLimited()).toBe(0);
  });

  it('when one webhook has used up its bucket, then another webhook has its own', async () => {
    const { own, id, url } = await ownMock({ rateLimit: { limit: 2, windowMs: 60_000 } });
    const other = own.webhookUrl();
    const otherId = new URL(other).pathname.split('/')[3] ?? '';
    await post(url);
    await post(`${own.url}/api/v10/webhooks/${id}/another-token`);

    const limited = await post(url);
    const answered = await post(other);

    expect(limited.status).toBe(429);
    expect(answered.status).toBe(204);
    expect(bucketOf(answered).remaining).toBe(1);
    expect(bucketOf(answered).bucket).not.toBe(bucketOf(limited).bucket);
    expect(own.rateLimited(id)).toBe(1);
    expect(own.rateLimited(otherId)).toBe(0);
  });

  it('when a request is let through, then its scripted behaviour answers with the bucket headers, and a scripted 429 is not counted as the bucket', async () => {
    const { own, id, url } = await ownMock({ rateLimit: { limit: 3, windowMs: 60_000 } });
    own.setBehavior(id, { kind: 'server-error' }, { kind: 'rate-limited', retryAfter: 0.5 });

    const failed = await post(url);
    const scripted = await post(url);

    expect(failed.status).toBe(500);
    expect(bucketOf(failed).remaining).toBe(2);
    expect(scripted.status).toBe(429);
    expect(scripted.data.retry_after).toBe(0.5);
    expect(bucketOf(scripted).remaining).toBe(1);
    expect(own.rateLimited()).toBe(0);
  });

  it('when an answer hangs, then its headers tell the bucket as it is when the answer is sent', async () => {
    const { own, id, url } = await ownMock({ rateLimit: { limit: 2, windowMs: 60_000 } });
    own.setBehavior(id, { kind: 'hang', ms: 1_000 }, { kind: 'success' });

    const hanging = post(url);
    await own.waitForRequests(1, { webhookId: id });
    const quick = await post(url);
    const late = await hanging;

    expect(bucketOf(quick).remaining).toBe(0);
    expect(late.status).toBe(200);
    expect(bucketOf(late).remaining).toBe(0);
  });

  it('when reset, then the buckets are full again and their 429 counts forgotten', async () => {
    const { own, url } = await ownMock({ rateLimit: { limit: 1, windowMs: 60_000 } });
    await post(url);
    expect((await post(url)).status).toBe(429);

    own.reset();

    expect(own.rateLimited()).toBe(0);
    const res = await post(url);
    expect(res.status).toBe(204);
    expect(bucketOf(res).remaining).toBe(0);
  });

  it('when the rate limit is not a whole positive limit and window, then the mock does not start', async () => {
    await expect(startMockDiscord({ rateLimit: { limit: 0, windowMs: 1_000 } })).rejects.toThrow(
      /rateLimit/,
    );
    await expect(startMockDiscord({ rateLimit: { limit: 1, windowMs: 0 } })).rejects.toThrow(
      /rateLimit/,
    );
  });
});

describe('mock Discord gateway and outages', () => {
  it('when the gateway is asked, then 200 with its URL on both paths and the probe is counted apart from requests()', async () => {
    const unversioned = await http.get(`${mock.url}/api/gateway`);
    const versioned = await http.get(`${mock.url}/api/v10/gateway`);

    expect(unversioned.status).toBe(200);
    expect(unversioned.data).toEqual({ url: 'wss://gateway.discord.gg' });
    expect(versioned.status).toBe(200);
    expect(versioned.data).toEqual({ url: 'wss://gateway.discord.gg' });
    expect(mock.gatewayRequests()).toBe(2);
    expect(mock.requests()).toEqual([]);

    mock.reset();
    expect(mock.gatewayRequests()).toBe(0);
  });

  it('when Discord is unavailable, then webhooks and the gateway answer 503 without rate-limit headers and webhook attempts are recorded', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'not-found' });

    await mock.setOutage('unavailable');
    const attempts: AxiosResponse[] = [];
    for (let i = 0; i < 7; i += 1) attempts.push(await post(url));
    const gateway = await http.get(`${mock.url}/api/v10/gateway`);

    for (const res of attempts) {
      expect(res.status).toBe(503);
      expect(res.data).toEqual({ message: '503: Service Unavailable', code: 0 });
      expect(header(res, 'x-ratelimit-remaining')).toBeUndefined();
    }
    expect(gateway.status).toBe(503);
    expect(mock.gatewayRequests()).toBe(1);
    expect(mock.requests(id).map((r) => r.respondedWith)).toEqual(Array<number>(7).fill(503));
    expect(mock.rateLimited()).toBe(0);
  });

  it('when the outage ends, then neither the bucket nor the scripted behaviours were used up by it', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'not-found' }, { kind: 'success' });
    await mock.setOutage('unavailable');
    for (let i = 0; i < 6; i += 1) await post(url);

    await mock.setOutage('none');
    const first = await post(url);
    const second = await post(url);

    expect(first.status).toBe(404);
    expect(bucketOf(first).remaining).toBe(4);
    expect(second.status).toBe(204);
  });

  it('when connections are refused, then clients get ECONNREFUSED, and after none the same URL is served again', async () => {
    const { own, id, url } = await ownMock({});
    const keepAlive = new Agent({ keepAlive: true });
    const kept = await axios.post(url, payload, { httpAgent: keepAlive });
    expect(kept.status).toBe(204);

    // Resolves only once every socket is gone, the kept-alive one included.
    await own.setOutage('refuse');
    const refused = await failure(post(url));
    const gatewayRefused = await failure(http.get(`${own.url}/api/v10/gateway`));

    expect(axios.isAxiosError(refused) && refused.code).toBe('ECONNREFUSED');
    expect(axios.isAxiosError(gatewayRefused) && gatewayRefused.code).toBe('ECONNREFUSED');
    expect(own.gatewayRequests()).toBe(0);

    await own.setOutage('none');
    const served = await post(url);

    expect(served.status).toBe(204);
    expect(own.webhookUrl(id, 'tok').startsWith(own.url)).toBe(true);
    expect(own.requests(id).map((r) => r.respondedWith)).toEqual([204, 204]);
    keepAlive.destroy();
  });

  it('when reset after refusing connections, then the next request is served', async () => {
    const { own, url } = await ownMock({});
    await own.setOutage('refuse');

    own.reset();

    expect((await post(url)).status).toBe(204);
  });

  it('when reset during an unavailable outage, then webhooks answer normally again', async () => {
    const { url } = webhook();
    await mock.setOutage('unavailable');

    mock.reset();

    expect((await post(url)).status).toBe(204);
  });

  it('when closed while refusing connections, then close resolves and no outage can be switched afterwards', async () => {
    const own = await startMockDiscord();
    await own.setOutage('refuse');

    await expect(own.close()).resolves.toBeUndefined();
    await expect(own.close()).resolves.toBeUndefined();
    await expect(own.setOutage('none')).rejects.toThrow(/closed/);
  });

  it('when closed during an unavailable outage with a switch under way, then close resolves', async () => {
    const own = await startMockDiscord();
    await own.setOutage('unavailable');
    const refusing = own.setOutage('refuse');

    await expect(own.close()).resolves.toBeUndefined();
    await expect(refusing).resolves.toBeUndefined();
  });
});

describe('mock Discord messages', () => {
  /** `.../messages/{messageId}` of a webhook URL, with its query when given. */
  function messageUrl(url: string, messageId: string, query = ''): string {
    return `${url}/messages/${messageId}${query}`;
  }

  /** Posts with wait=true and gives the id of the message created. */
  async function posted(url: string, body: unknown = payload, query = ''): Promise<string> {
    const res = await post(`${url}?wait=true${query}`, body);
    expect(res.status).toBe(200);
    return String(res.data.id);
  }

  it('when a message is posted with wait=true, then it is kept with the id the answer gave and the body fields', async () => {
    const { id, url } = webhook();
    const body = { ...payload, username: 'Scheduler', allowed_mentions: { parse: [] } };

    const res = await post(`${url}?wait=true`, body);

    expect(mock.messages(id)).toEqual([
      {
        ...body,
        id: res.data.id,
        webhookId: id,
        channelId: res.data.channel_id,
        threadId: null,
        createdAt: expect.any(Date),
        editedAt: null,
        deleted: false,
      },
    ]);
    expect(mock.message(res.data.id)).toEqual(mock.messages(id)[0]);
    expect(mock.messages(id)[0]?.createdAt.toISOString()).toBe(res.data.timestamp);
    expect(mock.requests(id)[0]?.messageId).toBeNull();
  });

  it('when a message is posted without wait, then it is kept with an id of its own and no body is answered', async () => {
    const { id, url } = webhook();
    const withWait = await posted(url);

    const res = await post(url, { content: 'no wait' });

    expect(res.status).toBe(204);
    expect(res.data).toBe('');
    const messages = mock.messages(id);
    expect(messages.map((m) => m.content)).toEqual([payload.content, 'no wait']);
    expect(messages[1]?.id).toMatch(/^\d{17,20}$/);
    expect(messages[1]?.id).not.toBe(withWait);
    expect(mock.messages()).toHaveLength(2);
  });

  it('when a post is not answered as a success, then no message is kept', async () => {
    const { id, url } = webhook();
    mock.setBehavior(id, { kind: 'server-error' }, { kind: 'success' });

    await post(`${url}?wait=true`);
    await http.post(url, 'not json', { headers: { 'Content-Type': 'text/plain' } });

    expect(mock.messages(id)).toEqual([]);
  });

  it('when a message is edited, then the content sent replaces its own, the embeds left out are kept, and 200 comes back with edited_timestamp', async () => {
    const { id, url } = webhook();
    const messageId = await posted(url);

    const res = await http.patch(messageUrl(url, messageId), {
      content: 'edited',
      allowed_mentions: { parse: [] },
    });

    expect(res.status).toBe(200);
    expect(res.data).toEqual({
      id: messageId,
      type: 0,
      channel_id: expect.stringMatching(/^\d+$/),
      webhook_id: id,
      content: 'edited',
      embeds: payload.embeds,
      timestamp: expect.any(String),
      edited_timestamp: expect.any(String),
    });
    const message = mock.message(messageId);
    expect(message).toMatchObject({
      content: 'edited',
      embeds: payload.embeds,
      allowed_mentions: { parse: [] },
      deleted: false,
    });
    expect(message?.editedAt?.toISOString()).toBe(res.data.edited_timestamp);
    expect(mock.requests(id)[1]).toMatchObject({
      method: 'PATCH',
      messageId,
      path: `/api/webhooks/${id}/${new URL(url).pathname.split('/')[4]}/messages/${messageId}`,
      body: { content: 'edited', allowed_mentions: { parse: [] } },
      respondedWith: 200,
    });
  });

  it('when an edit sends embeds, then they replace the old ones and the content is kept', async () => {
    const { url } = webhook();
    const messageId = await posted(url);

    const res = await http.patch(messageUrl(url, messageId), { embeds: [] });

    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ content: payload.content, embeds: [] });
    expect(mock.message(messageId)).toMatchObject({ content: payload.content, embeds: [] });
  });

  it('when the messages were read before an edit, then the copies read keep what they were', async () => {
    const { id, url } = webhook();
    const messageId = await posted(url);
    const before = mock.messages(id);

    await http.patch(messageUrl(url, messageId), { content: 'edited' });

    expect(before[0]).toMatchObject({ content: payload.content, editedAt: null });
  });

  it('when an edit is not a JSON object, then 400 with code 50109 and the message is unchanged', async () => {
    const { url } = webhook();
    const messageId = await posted(url);

    const res = await http.patch(messageUrl(url, messageId), 'not json', {
      headers: { 'Content-Type': 'text/plain' },
    });

    expect(res.status).toBe(400);
    expect(res.data).toMatchObject({ code: 50109 });
    expect(mock.message(messageId)).toMatchObject({ content: payload.content, editedAt: null });
  });

  it('when a message is deleted, then 204 with no body, it is kept as deleted and no longer alive', async () => {
    const { id, url } = webhook();
    const deletedId = await posted(url);
    const keptId = await posted(url);

    const res = await http.delete(messageUrl(url, deletedId));

    expect(res.status).toBe(204);
    expect(res.data).toBe('');
    expect(mock.message(deletedId)?.deleted).toBe(true);
    expect(mock.messages(id).map((m) => [m.id, m.deleted])).toEqual([
      [deletedId, true],
      [keptId, false],
    ]);
    expect(mock.aliveMessages(id).map((m) => m.id)).toEqual([keptId]);
    expect(mock.aliveMessages().map((m) => m.id)).toEqual([keptId]);
    expect(mock.requests(id)[2]).toMatchObject({
      method: 'DELETE',
      messageId: deletedId,
      respondedWith: 204,
    });
  });

  it('when a deleted message is edited or deleted again, then 404 Unknown Message with code 10008', async () => {
    const { url } = webhook();
    const messageId = await posted(url);
    await http.delete(messageUrl(url, messageId));

    const edit = await http.patch(messageUrl(url, messageId), { content: 'too late' });
    const again = await http.delete(messageUrl(url, messageId));

    expect(edit.status).toBe(404);
    expect(edit.data).toEqual({ message: 'Unknown Message', code: 10008 });
    expect(again.status).toBe(404);
    expect(again.data).toEqual({ message: 'Unknown Message', code: 10008 });
    expect(mock.message(messageId)?.content).toBe(payload.content);
  });

  it("when an unknown message or another webhook's message is edited or deleted, then 404 Unknown Message with code 10008", async () => {
    const { url } = webhook();
    const other = webhook();
    const othersId = await posted(other.url);

    const answers = [
      await http.patch(messageUrl(url, '123456789012345678'), { content: 'x' }),
      await http.delete(messageUrl(url, '123456789012345678')),
      await http.patch(messageUrl(url, othersId), { content: 'x' }),
      await http.delete(messageUrl(url, othersId)),
    ];

    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(res.data).toEqual({ message: 'Unknown Message', code: 10008 });
    }
    expect(mock.message(othersId)).toMatchObject({ content: payload.content, deleted: false });
    expect(mock.message('123456789012345678')).toBeUndefined();
  });

  it('when a message is deleted by hand, then no request is recorded and a later edit gets 404 with code 10008', async () => {
    const { id, url } = webhook();
    const messageId = await posted(url);

    expect(mock.deleteMessageByHand(messageId)).toBe(true);
    expect(mock.deleteMessageByHand(messageId)).toBe(false);
    expect(mock.deleteMessageByHand('123456789012345678')).toBe(false);
    expect(mock.requests(id)).toHaveLength(1);
    expect(mock.aliveMessages(id)).toEqual([]);

    const res = await http.patch(messageUrl(url, messageId), { content: 'edited' });

    expect(res.status).toBe(404);
    expect(res.data).toEqual({ message: 'Unknown Message', code: 10008 });
  });

  it('when behaviours are queued, then edits and deletes use them up one per request and only a success reaches the message', async () => {
    // Six requests: more than Discord's bucket lets through in a window.
    const { own, id, url } = await ownMock({ rateLimit: false });
    const messageId = await posted(url);
    own.setBehavior(
      id,
      { kind: 'rate-limited', retryAfter: 1.5 },
      { kind: 'not-found' },
      { kind: 'unauthorized' },
      { kind: 'server-error' },
      { kind: 'success' },
    );

    const limited = await http.patch(messageUrl(url, messageId), { content: 'edited' });
    const gone = await http.delete(messageUrl(url, messageId));
    const unauthorized = await http.patch(messageUrl(url, messageId), { content: 'edited' });
    const failed = await http.delete(messageUrl(url, messageId));

    expect(limited.status).toBe(429);
    expect(limited.data).toEqual({
      message: 'You are being rate limited.',
      retry_after: 1.5,
      global: false,
    });
    expect(limited.headers['retry-after']).toBe('2');
    expect(gone.status).toBe(404);
    expect(gone.data).toEqual({ message: 'Unknown Webhook', code: 10015 });
    expect(unauthorized.status).toBe(401);
    expect(failed.status).toBe(500);
    expect(own.message(messageId)).toMatchObject({
      content: payload.content,
      editedAt: null,
      deleted: false,
    });
    expect(own.rateLimited(id)).toBe(0);

    expect((await http.patch(messageUrl(url, messageId), { content: 'edited' })).status).toBe(200);
    expect(own.message(messageId)?.content).toBe('edited');
  });

  it('when edits and deletes follow a post, then they share the webhook bucket and its X-RateLimit headers', async () => {
    const { own, id, url } = await ownMock({ rateLimit: { limit: 3, windowMs: 60_000 } });
    const created = await post(`${url}?wait=true`);
    const messageId = String(created.data.id);

    const edited = await http.patch(messageUrl(url, messageId), { content: 'edited' });
    const deleted = await http.delete(messageUrl(url, messageId));
    const limited = await http.patch(messageUrl(url, messageId), { content: 'again' });

    const bucket = createHash('sha256').update(id).digest('hex').slice(0, 32);
    expect(bucketOf(created)).toMatchObject({ limit: 3, remaining: 2, bucket });
    expect(edited.status).toBe(200);
    expect(bucketOf(edited)).toMatchObject({ limit: 3, remaining: 1, bucket });
    expect(header(edited, 'x-ratelimit-reset-after')).toMatch(/^\d+\.\d{3}$/);
    expect(deleted.status).toBe(204);
    expect(bucketOf(deleted)).toMatchObject({ limit: 3, remaining: 0, bucket });
    expect(limited.status).toBe(429);
    expect(limited.data.retry_after).toEqual(expect.any(Number));
    expect(bucketOf(limited)).toMatchObject({ limit: 3, remaining: 0, bucket });
    expect(own.rateLimited(id)).toBe(1);
    expect(own.requests(id).map((r) => [r.method, r.respondedWith])).toEqual([
      ['POST', 200],
      ['PATCH', 200],
      ['DELETE', 204],
      ['PATCH', 429],
    ]);
  });

  it('when Discord is unavailable, then edits and deletes get 503, are recorded, and leave the message as it was', async () => {
    const { id, url } = webhook();
    const messageId = await posted(url);

    await mock.setOutage('unavailable');
    const edit = await http.patch(messageUrl(url, messageId), { content: 'edited' });
    const removal = await http.delete(messageUrl(url, messageId));
    await mock.setOutage('none');

    expect(edit.status).toBe(503);
    expect(removal.status).toBe(503);
    expect(mock.requests(id).map((r) => r.respondedWith)).toEqual([200, 503, 503]);
    expect(mock.message(messageId)).toMatchObject({
      content: payload.content,
      editedAt: null,
      deleted: false,
    });
  });

  it('when a message is posted in a thread, then its thread is kept and only edits and deletes naming that thread find it', async () => {
    const { own, id, url } = await ownMock({ rateLimit: false });
    const inThread = await posted(url, payload, '&thread_id=42');
    const inChannel = await posted(url);

    const noThread = await http.patch(messageUrl(url, inThread), { content: 'x' });
    const otherThread = await http.patch(messageUrl(url, inThread, '?thread_id=43'), {
      content: 'x',
    });
    const channelWithThread = await http.delete(messageUrl(url, inChannel, '?thread_id=42'));
    const edited = await http.patch(messageUrl(url, inThread, '?thread_id=42'), {
      content: 'edited',
    });
    const deleted = await http.delete(messageUrl(url, inThread, '?thread_id=42'));

    for (const res of [noThread, otherThread, channelWithThread]) {
      expect(res.status).toBe(404);
      expect(res.data).toEqual({ message: 'Unknown Message', code: 10008 });
    }
    expect(edited.status).toBe(200);
    expect(edited.data.content).toBe('edited');
    expect(deleted.status).toBe(204);
    expect(own.message(inThread)).toMatchObject({ threadId: '42', deleted: true });
    expect(own.message(inChannel)).toMatchObject({ threadId: null, deleted: false });
    expect(own.requests(id)[0]?.query).toEqual({ wait: 'true', thread_id: '42' });
    expect(own.requests(id).at(-2)).toMatchObject({
      method: 'PATCH',
      messageId: inThread,
      query: { thread_id: '42' },
    });
  });

  it('when the versioned v10 path is used, then edits and deletes work and are recorded with apiVersion 10', async () => {
    const { id, url } = webhook();
    const messageId = await posted(url);
    const base = `${mock.url}/api/v10/webhooks/${id}/secret-token`;

    const edited = await http.patch(messageUrl(base, messageId), { content: 'v10' });
    const deleted = await http.delete(messageUrl(base, messageId));

    expect(edited.status).toBe(200);
    expect(edited.data).toMatchObject({ id: messageId, content: 'v10' });
    expect(deleted.status).toBe(204);
    expect(mock.message(messageId)).toMatchObject({ content: 'v10', deleted: true });
    expect(mock.requests(id).slice(1)).toEqual([
      expect.objectContaining({
        method: 'PATCH',
        apiVersion: 10,
        token: 'secret-token',
        messageId,
        path: `/api/v10/webhooks/${id}/secret-token/messages/${messageId}`,
      }),
      expect.objectContaining({ method: 'DELETE', apiVersion: 10, messageId }),
    ]);
  });

  it('when an edit hangs for a while, then it is applied once it is answered', async () => {
    const { id, url } = webhook();
    const messageId = await posted(url);
    mock.setBehavior(id, { kind: 'hang', ms: 100 });

    const pending = http.patch(messageUrl(url, messageId), { content: 'late' });
    await mock.waitForRequests(2, { webhookId: id });
    expect(mock.message(messageId)?.content).toBe(payload.content);

    const res = await pending;
    expect(res.status).toBe(200);
    expect(mock.message(messageId)?.content).toBe('late');
  });

  it('when another method or a message path is no webhook route, then 404 Not Found with no message id', async () => {
    const { url } = webhook();
    const messageId = await posted(url);

    const get = await http.get(messageUrl(url, messageId));
    const postToMessage = await post(messageUrl(url, messageId));

    expect(get.status).toBe(404);
    expect(get.data).toEqual({ message: '404: Not Found', code: 0 });
    expect(postToMessage.status).toBe(404);
    expect(mock.requests('')).toEqual([
      expect.objectContaining({ method: 'GET', messageId: null }),
      expect.objectContaining({ method: 'POST', messageId: null }),
    ]);
  });

  it('when the timeout message lists an edit, then its token is masked', async () => {
    const { id, url } = webhook();
    const token = new URL(url).pathname.split('/')[4] ?? '';
    const messageId = await posted(url);
    await http.delete(messageUrl(url, messageId));

    const error: unknown = await mock.waitForRequests(3, { webhookId: id, timeoutMs: 20 }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(String(error)).toContain(`DELETE /api/webhooks/${id}/****/messages/${messageId} -> 204`);
    expect(String(error)).not.toContain(token);
  });

  it('when reset, then the messages are forgotten', async () => {
    const { url } = webhook();
    const messageId = await posted(url);

    mock.reset();

    expect(mock.messages()).toEqual([]);
    expect(mock.message(messageId)).toBeUndefined();
    expect((await http.patch(messageUrl(url, messageId), { content: 'x' })).status).toBe(404);
  });
});
