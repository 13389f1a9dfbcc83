import {
  type ClassifyContext,
  classifyAnswer,
  classifyWait,
  type DeliveryOutcome,
  type DiscordAnswer,
  isInvalidRequest,
} from '../../src/discord/classify';

const HOUR = 3_600_000;
const fresh: ClassifyContext = {
  discord: 'unknown',
  rateLimitedForMs: 0,
  rateLimitDeadlineMs: HOUR,
};
const up: ClassifyContext = { ...fresh, discord: 'up' };
const down: ClassifyContext = { ...fresh, discord: 'down' };

const response = (
  status: number,
  body?: unknown,
  headers?: Record<string, unknown>,
): DiscordAnswer => ({
  kind: 'response',
  status,
  body,
  headers,
});
const network = (code: string, message: string): DiscordAnswer => ({
  kind: 'network',
  code,
  message,
});

const limited = { message: 'You are being rate limited.', retry_after: 1.234, global: false };

/** What the delivery does with each of Discord's answers (SPEC §6, §13): one row per case. */
const table: [
  string,
  DiscordAnswer,
  ClassifyContext,
  Partial<DeliveryOutcome> & { kind: DeliveryOutcome['kind'] },
][] = [
  [
    '200 with a message',
    response(200, { id: '123' }),
    fresh,
    { kind: 'success', messageId: '123' },
  ],
  ['204 without a body', response(204), fresh, { kind: 'success', messageId: null }],
  [
    '404 Unknown Message (an edit or delete of a message deleted in Discord)',
    response(404, { message: 'Unknown Message', code: 10008 }),
    fresh,
    { kind: 'message-gone' },
  ],
  [
    '404 Unknown Webhook (the webhook is gone, whatever the request)',
    response(404, { message: 'Unknown Webhook', code: 10015 }),
    fresh,
    { kind: 'webhook-failure', retryable: false },
  ],
  [
    '400 Invalid Form Body',
    response(400, { message: 'Invalid Form Body', code: 50035 }),
    fresh,
    { kind: 'webhook-failure', retryable: false },
  ],
  [
    '401',
    response(401, { message: '401: Unauthorized', code: 0 }),
    fresh,
    { kind: 'webhook-failure', retryable: false },
  ],
  [
    '403',
    response(403, { message: 'Missing Access', code: 50001 }),
    fresh,
    { kind: 'webhook-failure', retryable: false },
  ],
  [
    '404 Unknown Webhook',
    response(404, { message: 'Unknown Webhook', code: 10015 }),
    fresh,
    { kind: 'webhook-failure', retryable: false },
  ],
  ['413', response(413, 'too large'), fresh, { kind: 'webhook-failure', retryable: false }],
  ['a redirect', response(302), fresh, { kind: 'webhook-failure', retryable: false }],
  [
    '429 of the webhook',
    response(429, limited, { 'x-ratelimit-scope': 'user' }),
    fresh,
    { kind: 'rate-limited', retryAfterMs: 1234, global: false, invalid: true },
  ],
  [
    '429 global',
    response(429, { ...limited, global: true }, { 'x-ratelimit-global': 'true' }),
    fresh,
    { kind: 'rate-limited', global: true, invalid: true },
  ],
  [
    '429 of a shared bucket',
    response(429, limited, { 'x-ratelimit-scope': 'shared' }),
    fresh,
    { kind: 'rate-limited', invalid: false },
  ],
  [
    '429 with only Retry-After',
    response(429, {}, { 'retry-after': '3' }),
    fresh,
    { kind: 'rate-limited', retryAfterMs: 3000 },
  ],
  ['429 naming no delay', response(429, {}), fresh, { kind: 'rate-limited', retryAfterMs: 1000 }],
  [
    '429 past the deadline',
    response(429, limited),
    { ...fresh, rateLimitedForMs: HOUR - 1000 },
    { kind: 'webhook-failure', retryable: false },
  ],
  [
    '500, Discord not probed yet',
    response(500, { message: 'Internal Server Error' }),
    fresh,
    { kind: 'needs-probe' },
  ],
  ['500 while Discord answers', response(500), up, { kind: 'webhook-failure', retryable: true }],
  ['503 while Discord fails too', response(503), down, { kind: 'discord-down' }],
  [
    'connection refused, not probed',
    network('ECONNREFUSED', 'network error: ECONNREFUSED'),
    fresh,
    { kind: 'needs-probe' },
  ],
  [
    'connection refused while Discord answers',
    network('ECONNREFUSED', 'network error: ECONNREFUSED'),
    up,
    { kind: 'webhook-failure', retryable: true },
  ],
  [
    'DNS failure, Discord unreachable',
    network('ENOTFOUND', 'network error: ENOTFOUND discord.com'),
    down,
    { kind: 'discord-down' },
  ],
  [
    'timeout, Discord unreachable',
    network('ECONNABORTED', 'timed out after 10000 ms'),
    down,
    { kind: 'discord-down' },
  ],
];

describe('classifyAnswer: one place decides what a Discord answer means', () => {
  it.each(table)(
    'when Discord answers %s, then the outcome is as the table says',
    (_name, answer, context, expected) => {
      expect(classifyAnswer(answer, context)).toMatchObject(expected);
    },
  );

  it('when a 429 comes back, then its reason names the wait and a deadline failure names DELIVERY_RATE_LIMIT_DEADLINE', () => {
    const waiting = classifyAnswer(response(429, limited), fresh);
    expect(waiting.kind === 'rate-limited' && waiting.reason).toContain('retrying after 1.23 s');
    const late = classifyAnswer(response(429, limited), { ...fresh, rateLimitedForMs: HOUR });
    expect(late.kind === 'webhook-failure' && late.reason).toContain(
      'DELIVERY_RATE_LIMIT_DEADLINE',
    );
  });

  it("when Discord is down, then the reason says it is Discord's outage and not counted", () => {
    const outcome = classifyAnswer(
      response(503, { message: '503: Service Unavailable', code: 0 }),
      down,
    );
    expect(outcome.kind === 'discord-down' && outcome.reason).toMatch(
      /^HTTP 503: 503: Service Unavailable \(code 0\); .*not counted against maxRetry/,
    );
  });

  it.each([
    [401, true],
    [403, true],
    [404, false],
    [500, false],
  ])('when the answer is %i, then it counts toward Cloudflare ban: %s', (status, invalid) => {
    expect(isInvalidRequest(classifyAnswer(response(status), up), status)).toBe(invalid);
  });

  it('when a 429 is of a shared bucket, then it does not count toward the ban, and a user one does', () => {
    const shared = classifyAnswer(response(429, limited, { 'x-ratelimit-scope': 'shared' }), fresh);
    const user = classifyAnswer(response(429, limited, { 'x-ratelimit-scope': 'user' }), fresh);
    expect([isInvalidRequest(shared, 429), isInvalidRequest(user, 429)]).toEqual([false, true]);
  });

  it('when the bucket makes a run wait before sending, then it waits uncounted, and past the deadline it gives up', () => {
    expect(classifyWait({ waitMs: 2_000, reason: 'bucket' }, fresh)).toMatchObject({
      kind: 'rate-limited',
      retryAfterMs: 2_000,
      invalid: false,
    });
    const late = classifyWait(
      { waitMs: 2_000, reason: 'bucket' },
      { ...fresh, rateLimitedForMs: HOUR - 1_000 },
    );
    expect(late).toMatchObject({ kind: 'webhook-failure', retryable: false });
    expect(late.kind === 'webhook-failure' && late.reason).toContain(
      'DELIVERY_RATE_LIMIT_DEADLINE',
    );
  });
});
