import type { DiscordMetrics } from '../metrics';
import type { RateLimitStore, WaitReason } from './rate-limit';

/**
 * How long a delivery may wait for its turn inside the activity, in all. A bucket of 5 per 2 s
 * resets within this; a longer wait goes back to the workflow as a durable timer (SPEC §13), so
 * that a queue of deliveries on one webhook does not hold the worker's activity slots asleep.
 */
export const IN_ACTIVITY_WAIT_MAX_MS = 3_000;
/** Spreads the requests that wake at one window's reset over a moment. */
const WAKE_JITTER_MS = 30;
/** How often the invalid-request budget's pause is logged at error level while it lasts. */
const BUDGET_LOG_INTERVAL_MS = 30_000;

export type Turn =
  { ok: true; waitedMs: number } | { ok: false; waitMs: number; reason: WaitReason };

export interface DiscordPacer {
  /** Waits (a short while at most) until a request to this webhook may go. */
  waitForTurn(webhookId: string): Promise<Turn>;
  store: RateLimitStore;
}

/** Sends by Discord's buckets: in-activity for short waits, the rest handed to the workflow. */
export function createDiscordPacer(deps: {
  store: RateLimitStore;
  /** DISCORD_INVALID_REQUEST_BUDGET */
  invalidBudget: number;
  /** How long a request holds its place in a bucket when its answer never comes. */
  leaseMs: number;
  metrics?: DiscordMetrics;
  /** Logs the budget's pause (an error: the deployment is close to a Cloudflare ban). */
  onBudgetExhausted?: (count: number, waitMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  inActivityWaitMaxMs?: number;
}): DiscordPacer {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxWait = deps.inActivityWaitMaxMs ?? IN_ACTIVITY_WAIT_MAX_MS;
  let budgetLoggedAt = 0;

  return {
    store: deps.store,
    async waitForTurn(webhookId) {
      const started = Date.now();
      for (;;) {
        const decision = await deps.store.acquire(webhookId, {
          leaseMs: deps.leaseMs,
          invalidBudget: deps.invalidBudget,
        });
        const waited = Date.now() - started;
        if (decision.go) {
          deps.metrics?.budgetPaused.set(0);
          if (waited > 0) deps.metrics?.bucketWait.observe(waited / 1000);
          return { ok: true, waitedMs: waited };
        }
        if (decision.reason === 'invalid-budget') {
          deps.metrics?.budgetPaused.set(1);
          if (Date.now() - budgetLoggedAt > BUDGET_LOG_INTERVAL_MS) {
            budgetLoggedAt = Date.now();
            deps.onBudgetExhausted?.(await deps.store.invalidCount(), decision.waitMs);
          }
          return { ok: false, waitMs: decision.waitMs, reason: decision.reason };
        }
        if (waited + decision.waitMs > maxWait) {
          deps.metrics?.bucketWait.observe((waited + decision.waitMs) / 1000);
          return { ok: false, waitMs: decision.waitMs, reason: decision.reason };
        }
        await sleep(decision.waitMs + Math.floor(Math.random() * WAKE_JITTER_MS));
      }
    },
  };
}
