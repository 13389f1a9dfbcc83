/**
 * The one place that decides what a Discord answer means for a delivery (SPEC §6, §13). Pure: the
 * delivery activity gathers the facts (the answer, what is known of Discord as a whole, how long
 * the run has been rate-limited), and acts on the outcome; the workflow acts on the failure type
 * the activity derives from it. Nothing else re-decides.
 */

/** What came back from one request to a webhook. */
export type DiscordAnswer =
  | {
      kind: 'response';
      status: number;
      /** Discord's JSON body (or text), for `retry_after`, `global` and error codes. */
      body?: unknown;
      headers?: Record<string, unknown>;
    }
  /** No HTTP answer: DNS failure, connection refused or reset, timeout; `message` says which. */
  | { kind: 'network'; code?: string; message: string };

/**
 * What is known of Discord as a whole when the answer is classified: `up` when a probe of its API
 * (`GET /api/v10/gateway`) answered, `down` when the probe failed as well, `unknown` when no probe
 * was made (the answer alone decides, or asks for one).
 */
export type DiscordHealth = 'up' | 'down' | 'unknown';

export interface ClassifyContext {
  discord: DiscordHealth;
  /** How long this run has stayed rate-limited without a delivery; 0 when it was not. */
  rateLimitedForMs: number;
  /** DELIVERY_RATE_LIMIT_DEADLINE: a run rate-limited longer than this gives up. */
  rateLimitDeadlineMs: number;
}

export type DeliveryOutcome =
  /** Delivered. */
  | { kind: 'success'; messageId: string | null }
  /**
   * The webhook's own failure: it counts against maxRetry. `retryable` false: Discord refused
   * this request for good (400, 401, 403, 404, 413, a redirect), the task fails at once.
   */
  | { kind: 'webhook-failure'; retryable: boolean; reason: string }
  /**
   * 429: sent again after `retryAfterMs`, not counted. `global`: every webhook waits, not only this
   * one. `invalid`: counts toward Cloudflare's ban (a 429 of a shared bucket does not).
   */
  | {
      kind: 'rate-limited';
      retryAfterMs: number;
      global: boolean;
      invalid: boolean;
      reason: string;
    }
  /** Discord as a whole (or our network to it) fails: waited out, not counted. */
  | { kind: 'discord-down'; reason: string }
  /**
   * 404 "Unknown Message" (code 10008) to an edit or a delete: the message is gone (deleted in
   * Discord by hand, or by us), the webhook is not. An edit then posts anew; a delete is done.
   */
  | { kind: 'message-gone'; reason: string }
  /** Cannot tell a webhook's failure from Discord's without probing Discord's API. */
  | { kind: 'needs-probe' };

/** Discord's JSON error code for a message that does not exist (any more). */
export const UNKNOWN_MESSAGE = 10008;

/** Discord's JSON error code of an answer's body, or undefined. */
function discordCodeOf(body: unknown): unknown {
  return typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : undefined;
}

/** When Discord's 429 names no delay: a second, as its own libraries do. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/** Maps one answer to what the delivery does next (see DeliveryOutcome). */
export function classifyAnswer(answer: DiscordAnswer, context: ClassifyContext): DeliveryOutcome {
  if (answer.kind === 'network') {
    return outageOrWebhook(answer.message, context);
  }
  const { status } = answer;
  if (status >= 200 && status < 300) {
    return { kind: 'success', messageId: messageIdOf(answer.body) };
  }
  const text = describeDiscordError(answer);
  if (status === 429) {
    const retryAfterMs = retryAfterMsOf(answer) ?? DEFAULT_RETRY_AFTER_MS;
    if (pastRateLimitDeadline(context, retryAfterMs)) {
      return {
        kind: 'webhook-failure',
        retryable: false,
        reason:
          `HTTP 429 rate limited: ${text}; still rate-limited after ` +
          `${formatSeconds(context.rateLimitedForMs)}, past DELIVERY_RATE_LIMIT_DEADLINE ` +
          `(${formatSeconds(context.rateLimitDeadlineMs)})`,
      };
    }
    const scope = header(answer.headers, 'x-ratelimit-scope');
    const global =
      scope === 'global' ||
      header(answer.headers, 'x-ratelimit-global') === 'true' ||
      (typeof answer.body === 'object' &&
        answer.body !== null &&
        (answer.body as { global?: unknown }).global === true);
    return {
      kind: 'rate-limited',
      retryAfterMs,
      global,
      invalid: scope !== 'shared',
      reason: `HTTP 429 rate limited${global ? ' (global)' : ''}: ${text}; retrying after ${formatSeconds(retryAfterMs)}`,
    };
  }
  if (status >= 500) return outageOrWebhook(`HTTP ${status}: ${text}`, context);
  if (status >= 300 && status < 400) {
    return {
      kind: 'webhook-failure',
      retryable: false,
      reason: `HTTP ${status}: redirects are not followed`,
    };
  }
  if (status === 404 && discordCodeOf(answer.body) === UNKNOWN_MESSAGE) {
    return { kind: 'message-gone', reason: `HTTP 404: ${text}` };
  }
  // 400, 401, 403, 404 (webhook deleted or token invalid), 413 and any other 4xx: retrying the
  // same request cannot succeed.
  const hint = status === 404 ? ' (the webhook was deleted or its token is wrong)' : '';
  return { kind: 'webhook-failure', retryable: false, reason: `HTTP ${status}${hint}: ${text}` };
}

/**
 * Nothing was sent: the webhook's bucket (or the deployment's invalid-request budget, or a global
 * 429) makes the run wait `waitMs` first. Not counted against maxRetry, like a 429; past
 * DELIVERY_RATE_LIMIT_DEADLINE the run gives up, like a 429.
 */
export function classifyWait(
  wait: { waitMs: number; reason: string },
  context: ClassifyContext,
): DeliveryOutcome {
  if (pastRateLimitDeadline(context, wait.waitMs)) {
    return {
      kind: 'webhook-failure',
      retryable: false,
      reason:
        `not delivered: waited for Discord's rate limit (${wait.reason}) for ` +
        `${Math.round(context.rateLimitedForMs / 1000)} s, past DELIVERY_RATE_LIMIT_DEADLINE ` +
        `(${Math.round(context.rateLimitDeadlineMs / 1000)} s)`,
    };
  }
  return {
    kind: 'rate-limited',
    retryAfterMs: wait.waitMs,
    global: wait.reason === 'global',
    invalid: false,
    reason: `waiting ${wait.waitMs} ms for Discord's rate limit (${wait.reason}) before sending`,
  };
}

/** Whether waiting `waitMs` more would keep the run rate-limited past the deadline. */
function pastRateLimitDeadline(context: ClassifyContext, waitMs: number): boolean {
  return context.rateLimitedForMs + waitMs > context.rateLimitDeadlineMs;
}

/**
 * A 5xx or a failed connection is the webhook's failure only while Discord otherwise answers; when
 * its API fails too, it is Discord's outage (or our network's), waited out (SPEC §13).
 */
function outageOrWebhook(reason: string, context: ClassifyContext): DeliveryOutcome {
  switch (context.discord) {
    case 'unknown':
      return { kind: 'needs-probe' };
    case 'down':
      return {
        kind: 'discord-down',
        reason: `${reason}; Discord's API is not answering either (GET /api/v10/gateway), so this is Discord's outage or our network's: waiting it out, not counted against maxRetry`,
      };
    case 'up':
      return { kind: 'webhook-failure', retryable: true, reason };
  }
}

/** Whether an answer counts toward Cloudflare's invalid-request ban: 401, 403, and 429. */
export function isInvalidRequest(outcome: DeliveryOutcome, status: number | null): boolean {
  if (outcome.kind === 'rate-limited') return outcome.invalid;
  return status === 401 || status === 403;
}

/** Discord's `retry_after` (float seconds, body) or `Retry-After` (seconds, header), in ms. */
export function retryAfterMsOf(answer: {
  body?: unknown;
  headers?: Record<string, unknown>;
}): number | null {
  const fromBody = Number((answer.body as { retry_after?: unknown } | undefined)?.retry_after);
  if (Number.isFinite(fromBody) && fromBody >= 0) return Math.ceil(fromBody * 1000);
  const fromHeader = Number(header(answer.headers, 'retry-after'));
  if (
    Number.isFinite(fromHeader) &&
    fromHeader >= 0 &&
    header(answer.headers, 'retry-after') !== undefined
  ) {
    return Math.ceil(fromHeader * 1000);
  }
  return null;
}

/** A header's value, case-insensitively, the first of a list. */
export function header(
  headers: Record<string, unknown> | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === null ? undefined : String(first);
}

function messageIdOf(body: unknown): string | null {
  const id = (body as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' ? id : null;
}

/** Discord's error text (`message (code n)`), or the start of a body that is not Discord's JSON. */
export function describeDiscordError(answer: { status: number; body?: unknown }): string {
  const data = answer.body;
  if (data && typeof data === 'object') {
    const { message, code } = data as { message?: unknown; code?: unknown };
    if (typeof message === 'string')
      return code === undefined ? message : `${message} (code ${String(code)})`;
    return JSON.stringify(data).slice(0, 300);
  }
  if (typeof data === 'string' && data.trim()) return data.trim().slice(0, 300);
  return 'no body';
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
