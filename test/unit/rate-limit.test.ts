import {
  acquireBucket,
  type BucketState,
  createMemoryRateLimitStore,
  EMPTY_BUCKET,
  INVALID_WINDOW_MS,
  invalidBudgetWaitMs,
  type InvalidCounts,
  invalidSlot,
  readBucketHeaders,
  settleBucket,
} from '../../src/discord/rate-limit';
import { createDiscordPacer } from '../../src/discord/pacer';

const LEASE = 11_000;
const T0 = 1_800_000_000_000;

/** Sends `n` requests at `now`; returns how many went and the state after. */
function burst(state: BucketState, now: number, n: number) {
  let s = state;
  const decisions = [];
  for (let i = 0; i < n; i++) {
    const r = acquireBucket(s, now, LEASE);
    s = r.state;
    decisions.push(r.decision);
  }
  return { state: s, went: decisions.filter((d) => d.go).length, decisions };
}

describe("Discord's buckets as state (SPEC §13)", () => {
  it('when a webhook is unknown, then one request goes and the next waits for its answer', () => {
    const { went, decisions } = burst(EMPTY_BUCKET, T0, 3);
    expect(went).toBe(1);
    expect(decisions[1]).toMatchObject({ go: false, reason: 'unknown-bucket' });
  });

  it('when the first answer says 5 per 2 s with 4 left, then 4 more go and the 6th waits for the reset', () => {
    let s = burst(EMPTY_BUCKET, T0, 1).state;
    s = settleBucket(s, T0 + 100, { limit: 5, remaining: 4, resetAfterMs: 1_900 });
    const after = burst(s, T0 + 100, 5);
    expect(after.went).toBe(4);
    expect(after.decisions[4]).toEqual({ go: false, waitMs: 1_900, reason: 'bucket' });
  });

  it('when answers of one window arrive out of order, then remaining never goes back up', () => {
    let s = settleBucket(burst(EMPTY_BUCKET, T0, 1).state, T0, {
      limit: 5,
      remaining: 4,
      resetAfterMs: 2_000,
    });
    s = burst(s, T0 + 10, 4).state;
    expect(s.remaining).toBe(0);
    for (const remaining of [0, 3, 1, 2]) {
      s = settleBucket(s, T0 + 50, { limit: 5, remaining, resetAfterMs: 1_960 });
    }
    expect(s.remaining).toBe(0);
    expect(s.inFlight).toBe(0);
  });

  it('when the window has reset, then the bucket refills to its limit', () => {
    let s = settleBucket(burst(EMPTY_BUCKET, T0, 1).state, T0, {
      limit: 5,
      remaining: 0,
      resetAfterMs: 2_000,
    });
    expect(burst(s, T0 + 1_999, 1).went).toBe(0);
    s = burst(s, T0 + 2_000, 6).state;
    expect(s.remaining).toBe(0);
    expect(s.inFlight).toBe(5);
  });

  it('when a request never gets its answer, then its lease lapses and frees an unknown bucket', () => {
    const s = burst(EMPTY_BUCKET, T0, 1).state;
    expect(acquireBucket(s, T0 + LEASE - 1, LEASE).decision.go).toBe(false);
    expect(acquireBucket(s, T0 + LEASE, LEASE).decision.go).toBe(true);
  });

  it('when the headers are partial or absent, then nothing is read from them', () => {
    expect(readBucketHeaders(undefined)).toBeNull();
    expect(readBucketHeaders({ 'x-ratelimit-limit': '5' })).toBeNull();
    expect(
      readBucketHeaders({
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '4',
        'x-ratelimit-reset-after': '1.5005',
      }),
    ).toEqual({ limit: 5, remaining: 4, resetAfterMs: 1_501 });
  });

  it('when invalid requests reach the budget, then the wait lasts until enough of them are 10 minutes old', () => {
    const counts: InvalidCounts = new Map([
      [invalidSlot(T0), 3],
      [invalidSlot(T0 + 60_000), 2],
    ]);
    const now = T0 + 120_000;
    expect(invalidBudgetWaitMs(counts, now, 6)).toBe(0);
    expect(invalidBudgetWaitMs(counts, now, 5)).toBe(invalidSlot(T0) + INVALID_WINDOW_MS - now);
  });
});

describe('the in-process store and the pacer', () => {
  it('when 20 deliveries to one webhook ask at once, then the pacer lets them through at 5 per window', async () => {
    let now = T0;
    const store = createMemoryRateLimitStore(() => now);
    const pacer = createDiscordPacer({
      store,
      invalidBudget: 5_000,
      leaseMs: LEASE,
      inActivityWaitMaxMs: 0,
    });
    const first = await pacer.waitForTurn('1');
    expect(first.ok).toBe(true);
    await store.settle('1', {
      answer: { limit: 5, remaining: 4, resetAfterMs: 2_000 },
      invalid: false,
    });
    const turns = await Promise.all(Array.from({ length: 19 }, () => pacer.waitForTurn('1')));
    expect(turns.filter((t) => t.ok)).toHaveLength(4);
    expect(turns.find((t) => !t.ok)).toMatchObject({ ok: false, reason: 'bucket', waitMs: 2_000 });
    // Another webhook has its own bucket.
    expect((await pacer.waitForTurn('2')).ok).toBe(true);
    now += 2_000;
    for (let i = 0; i < 4; i++) await store.settle('1', { answer: null, invalid: false });
    const next = await Promise.all(Array.from({ length: 15 }, () => pacer.waitForTurn('1')));
    expect(next.filter((t) => t.ok)).toHaveLength(5);
  });

  it('when a global 429 is settled, then every webhook waits', async () => {
    const store = createMemoryRateLimitStore(() => T0);
    await store.settle('1', { answer: null, retryAfterMs: 5_000, global: true, invalid: true });
    expect(await store.acquire('2', { leaseMs: LEASE, invalidBudget: 100 })).toEqual({
      go: false,
      waitMs: 5_000,
      reason: 'global',
    });
  });

  it('when invalid answers reach the budget, then sending pauses, the error line is written once and the count is known', async () => {
    const store = createMemoryRateLimitStore(() => T0);
    for (let i = 0; i < 3; i++) await store.settle(`${i}`, { answer: null, invalid: true });
    const logged: number[] = [];
    const pacer = createDiscordPacer({
      store,
      invalidBudget: 3,
      leaseMs: LEASE,
      onBudgetExhausted: (count) => logged.push(count),
    });
    const turns = [await pacer.waitForTurn('9'), await pacer.waitForTurn('9')];
    expect(turns.map((t) => !t.ok && t.reason)).toEqual(['invalid-budget', 'invalid-budget']);
    expect(logged).toEqual([3]);
    expect(await store.invalidCount()).toBe(3);
  });
});
