/**
 * Discord's rate limits as state (SPEC §13): each webhook's bucket as its answers describe it
 * (`X-RateLimit-*`), a global pause after a global 429, and the deployment's count of invalid
 * requests (401, 403, 429) over a rolling 10 minutes, which Cloudflare bans at 10,000.
 *
 * The transitions are pure functions of (state, now), so that the in-process store and the Redis
 * store (src/discord/redis-rate-limit-store.ts, a Lua port of the same rules) decide alike.
 */

import { header } from './classify';

/** One webhook's bucket, keyed by the webhook's id (never its token). */
export interface BucketState {
  /** Discord's `X-RateLimit-Limit`; 0 while no answer has told it (one request at a time then). */
  limit: number;
  /** Requests left in the current window, less those we sent and have no answer for yet. */
  remaining: number;
  /** When the current window ends (ms since the epoch); 0 while unknown. */
  resetAt: number;
  /** The longest window Discord has told (`Reset-After` at its start), to foresee the next one. */
  windowMs: number;
  /** Requests sent and not answered yet. */
  inFlight: number;
  /** When the in-flight requests stop holding the bucket (a worker that died mid-request). */
  leaseUntil: number;
}

export const EMPTY_BUCKET: Readonly<BucketState> = Object.freeze({
  limit: 0,
  remaining: 0,
  resetAt: 0,
  windowMs: 0,
  inFlight: 0,
  leaseUntil: 0,
});

/** Why a request must wait. */
export type WaitReason =
  /** The webhook's bucket is empty until its window resets. */
  | 'bucket'
  /** The bucket is not known yet and one request to it is already on its way. */
  | 'unknown-bucket'
  /** Discord answered a global 429: every webhook waits. */
  | 'global'
  /** The deployment's invalid requests reached DISCORD_INVALID_REQUEST_BUDGET (Cloudflare's ban). */
  | 'invalid-budget';

export type Decision = { go: true } | { go: false; waitMs: number; reason: WaitReason };

/** What one answer said of its bucket (from its headers; a 429 adds its retry_after). */
export interface BucketAnswer {
  limit: number;
  remaining: number;
  resetAfterMs: number;
}

/** While the bucket is unknown, how often a waiting request looks again. */
export const UNKNOWN_BUCKET_POLL_MS = 50;
/**
 * Two answers whose windows end within this of each other describe the same window: the end moves
 * with the answer's transit time, and with Discord's own rounding.
 */
export const SAME_WINDOW_TOLERANCE_MS = 250;
/** Cloudflare's window for invalid requests, and the slots it is counted in. */
export const INVALID_WINDOW_MS = 10 * 60 * 1000;
export const INVALID_SLOT_MS = 10_000;

/**
 * May a request to this webhook go now? Takes a place in the bucket when it may (the answer gives
 * it back through `settleBucket`), or says how long to wait.
 */
export function acquireBucket(
  state: BucketState,
  now: number,
  leaseMs: number,
): { state: BucketState; decision: Decision } {
  const s = { ...state };
  if (s.inFlight > 0 && now >= s.leaseUntil) s.inFlight = 0;
  if (s.limit === 0) {
    // A 429 without headers told when, though not how many.
    if (s.resetAt > now) {
      return { state: s, decision: { go: false, waitMs: s.resetAt - now, reason: 'bucket' } };
    }
    if (s.inFlight > 0) {
      return {
        state: s,
        decision: {
          go: false,
          waitMs: Math.max(1, Math.min(UNKNOWN_BUCKET_POLL_MS, s.leaseUntil - now)),
          reason: 'unknown-bucket',
        },
      };
    }
    s.inFlight = 1;
    s.leaseUntil = now + leaseMs;
    return { state: s, decision: { go: true } };
  }
  if (now >= s.resetAt) {
    // The window is over: Discord starts the next one with the next request it receives, no
    // earlier than now, so this estimate of its end errs early only by the request's transit,
    // which the answers correct.
    s.remaining = s.limit;
    s.resetAt = now + s.windowMs;
  }
  if (s.remaining > 0) {
    s.remaining -= 1;
    s.inFlight += 1;
    s.leaseUntil = now + leaseMs;
    return { state: s, decision: { go: true } };
  }
  return {
    state: s,
    decision: { go: false, waitMs: Math.max(1, s.resetAt - now), reason: 'bucket' },
  };
}

/**
 * An answer came back (or the request ended without one: `answer` null). Frees the place the
 * request held and takes in what Discord said of the window.
 */
export function settleBucket(
  state: BucketState,
  now: number,
  answer: BucketAnswer | null,
): BucketState {
  const s = { ...state };
  s.inFlight = Math.max(0, s.inFlight - 1);
  if (!answer) return s;
  const resetAt = now + answer.resetAfterMs;
  const firstAnswer = s.limit === 0;
  s.limit = answer.limit;
  s.windowMs = Math.max(s.windowMs, answer.resetAfterMs);
  if (firstAnswer || resetAt > s.resetAt + SAME_WINDOW_TOLERANCE_MS) {
    // A window we did not know of: Discord's count, less what we sent since that it may not hold.
    s.resetAt = resetAt;
    s.remaining = Math.max(0, answer.remaining - s.inFlight);
  } else if (resetAt >= s.resetAt - SAME_WINDOW_TOLERANCE_MS) {
    // The window we know: the lower count wins, whichever answer came first.
    s.resetAt = Math.max(s.resetAt, resetAt);
    s.remaining = Math.min(s.remaining, answer.remaining);
  }
  // Else an answer from an earlier window, delayed: it says nothing of this one.
  return s;
}

/** A 429: the bucket is empty until `retryAfterMs` from now, whatever the headers said. */
export function rateLimitBucket(
  state: BucketState,
  now: number,
  retryAfterMs: number,
): BucketState {
  return { ...state, remaining: 0, resetAt: Math.max(state.resetAt, now + retryAfterMs) };
}

/** The invalid requests counted per slot of INVALID_SLOT_MS: slot start (ms) -> count. */
export type InvalidCounts = Map<number, number>;

export function invalidSlot(now: number): number {
  return Math.floor(now / INVALID_SLOT_MS) * INVALID_SLOT_MS;
}

/** Invalid requests within the last 10 minutes; forgets older slots. */
export function countInvalid(counts: InvalidCounts, now: number): number {
  let total = 0;
  for (const [slot, count] of counts) {
    if (slot + INVALID_WINDOW_MS <= now) counts.delete(slot);
    else total += count;
  }
  return total;
}

/**
 * With `budget` invalid requests or more in the window: how long until enough of them are older
 * than 10 minutes for the count to drop below the budget. 0 when under the budget.
 */
export function invalidBudgetWaitMs(counts: InvalidCounts, now: number, budget: number): number {
  let total = countInvalid(counts, now);
  if (total < budget) return 0;
  for (const slot of [...counts.keys()].sort((a, b) => a - b)) {
    total -= counts.get(slot) ?? 0;
    if (total < budget) return Math.max(1, slot + INVALID_WINDOW_MS - now);
  }
  return INVALID_WINDOW_MS;
}

/** Discord's `X-RateLimit-*` headers of an answer, or null when it carried none. */
export function readBucketHeaders(
  headers: Record<string, unknown> | undefined,
): BucketAnswer | null {
  const get = (name: string) => Number(header(headers, name));
  const limit = get('x-ratelimit-limit');
  const remaining = get('x-ratelimit-remaining');
  const resetAfter = get('x-ratelimit-reset-after');
  if (![limit, remaining, resetAfter].every(Number.isFinite) || limit < 1) return null;
  return {
    limit: Math.floor(limit),
    remaining: Math.max(0, Math.floor(remaining)),
    resetAfterMs: Math.max(0, Math.ceil(resetAfter * 1000)),
  };
}

/**
 * Where Discord's rate-limit state lives: in the process, or in Redis so that every worker of a
 * deployment paces by the same buckets (REDIS_URL). The clock is the store's own.
 */
export interface RateLimitStore {
  /** Takes a place in the webhook's bucket, or says how long to wait (global pause and budget first). */
  acquire(
    webhookId: string,
    options: { leaseMs: number; invalidBudget: number },
  ): Promise<Decision>;
  /**
   * The request ended: frees its place and records what Discord said: its bucket headers, a 429's
   * delay (`retryAfterMs`, `global` for every webhook), and whether it was an invalid request.
   */
  settle(
    webhookId: string,
    result: {
      answer: BucketAnswer | null;
      retryAfterMs?: number;
      global?: boolean;
      invalid: boolean;
    },
  ): Promise<void>;
  /** Invalid requests counted in the last 10 minutes, deployment-wide. */
  invalidCount(): Promise<number>;
  close(): Promise<void>;
}

/** Forget a bucket this long after its window ended with nothing in flight (bounded memory). */
export const IDLE_BUCKET_MS = 60_000;
const SWEEP_EVERY = 1_000;

/** The state in this process: right for one worker; with several, use Redis (REDIS_URL). */
export function createMemoryRateLimitStore(clock: () => number = Date.now): RateLimitStore {
  const buckets = new Map<string, BucketState>();
  const invalid: InvalidCounts = new Map();
  let globalUntil = 0;
  let calls = 0;

  function sweep(now: number): void {
    for (const [id, bucket] of buckets) {
      if (bucket.inFlight === 0 && bucket.resetAt + IDLE_BUCKET_MS < now) buckets.delete(id);
    }
  }

  return {
    async acquire(webhookId, { leaseMs, invalidBudget }) {
      const now = clock();
      if ((calls += 1) % SWEEP_EVERY === 0) sweep(now);
      if (globalUntil > now) return { go: false, waitMs: globalUntil - now, reason: 'global' };
      const budgetWait = invalidBudgetWaitMs(invalid, now, invalidBudget);
      if (budgetWait > 0) return { go: false, waitMs: budgetWait, reason: 'invalid-budget' };
      const { state, decision } = acquireBucket(
        buckets.get(webhookId) ?? EMPTY_BUCKET,
        now,
        leaseMs,
      );
      buckets.set(webhookId, state);
      return decision;
    },
    async settle(webhookId, { answer, retryAfterMs, global, invalid: isInvalid }) {
      const now = clock();
      let state = settleBucket(buckets.get(webhookId) ?? EMPTY_BUCKET, now, answer);
      if (retryAfterMs !== undefined) {
        if (global) globalUntil = Math.max(globalUntil, now + retryAfterMs);
        else state = rateLimitBucket(state, now, retryAfterMs);
      }
      buckets.set(webhookId, state);
      if (isInvalid) {
        const slot = invalidSlot(now);
        invalid.set(slot, (invalid.get(slot) ?? 0) + 1);
      }
    },
    async invalidCount() {
      return countInvalid(invalid, clock());
    },
    async close() {
      buckets.clear();
    },
  };
}
