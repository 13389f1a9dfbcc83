import { Agent } from 'node:http';
import axios, { type AxiosResponse } from 'axios';
import { startMockDiscord, type MockDiscord } from '../helpers/mock-discord';

// A fresh connection per request, so that a socket the mock destroyed is never reused.
const http = axios.create({
  validateStatus: () => true,
  maxRedirects: 0,
  httpAgent: new Agent({ keepAlive: false }),
});

const payload = { content: 'hello {{task.name}}', embeds: [{ title: 'report' }] };

let mock: MockDiscord;

beforeAll(async () => {
  mock = await startMockDiscord();
});

afterEach(() => {
  mock.reset();
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
