import type { AxiosInstance } from 'axios';
import type { DiscordHealth } from './classify';

/** How long one probe's answer stands for every delivery to the same origin. */
export const PROBE_CACHE_MS = 5_000;

export interface DiscordHealthProbe {
  /**
   * Whether Discord's API at `origin` answers, as seen after `failedAt` (ms since the epoch: when
   * the failure to classify came back). A recent "down" stands for everyone; an "up" only when its
   * probe started after the failure, since Discord may have gone down in between.
   */
  check(origin: string, failedAt?: number): Promise<Exclude<DiscordHealth, 'unknown'>>;
  /** The last answer per origin, for the outage gauge. */
  last(origin: string): DiscordHealth;
  /**
   * A webhook at `origin` answered below 500: the outage (if one was seen) is over, for the gauge.
   * Not for classifying: a success seconds before an outage began must not make its first failures
   * count against maxRetry, so only a probe made after the failure decides.
   */
  noteAnswered(origin: string): void;
}

/**
 * Tells "this webhook fails" from "Discord fails" (SPEC §13): after a 5xx or a failed connection,
 * `GET /api/v10/gateway` on the same origin, which needs no token and is what every Discord client
 * calls first. Any HTTP answer below 500 (a 429 included) means Discord is there; a 5xx, a refused
 * or reset connection, a DNS failure or a timeout means it is not, or our network is not.
 * docs/decisions.md says why this probe and not the other webhooks' answers.
 *
 * Only "down" is remembered (PROBE_CACHE_MS), which keeps an outage to one probe per origin every
 * few seconds. An "up" from before a failure would count that failure against maxRetry at the
 * very start of an outage, so a failure shares a probe only when it started after the failure.
 */
export function createDiscordHealthProbe(deps: {
  http: AxiosInstance;
  timeoutMs: number;
  cacheMs?: number;
  clock?: () => number;
  onChange?: (origin: string, health: Exclude<DiscordHealth, 'unknown'>) => void;
}): DiscordHealthProbe {
  const cacheMs = deps.cacheMs ?? PROBE_CACHE_MS;
  const clock = deps.clock ?? Date.now;
  const known = new Map<string, { health: Exclude<DiscordHealth, 'unknown'>; at: number }>();
  const pending = new Map<
    string,
    { startedAt: number; result: Promise<Exclude<DiscordHealth, 'unknown'>> }
  >();

  async function probe(origin: string): Promise<Exclude<DiscordHealth, 'unknown'>> {
    let health: Exclude<DiscordHealth, 'unknown'>;
    try {
      const response = await deps.http.get(`${origin}/api/v10/gateway`, {
        timeout: deps.timeoutMs,
        maxRedirects: 0,
        validateStatus: () => true,
      });
      health = response.status < 500 ? 'up' : 'down';
    } catch {
      health = 'down';
    }
    const before = known.get(origin)?.health;
    known.set(origin, { health, at: clock() });
    if (before !== health) deps.onChange?.(origin, health);
    return health;
  }

  return {
    async check(origin, failedAt = clock()) {
      const cached = known.get(origin);
      if (cached?.health === 'down' && clock() - cached.at < cacheMs) return 'down';
      const running = pending.get(origin);
      if (running && running.startedAt >= failedAt) return running.result;
      const started = { startedAt: clock(), result: probe(origin) };
      pending.set(origin, started);
      void started.result.finally(() => {
        if (pending.get(origin) === started) pending.delete(origin);
      });
      return started.result;
    },
    last(origin) {
      return known.get(origin)?.health ?? 'unknown';
    },
    noteAnswered(origin) {
      const cached = known.get(origin);
      if (cached?.health !== 'down') return;
      // Forgotten rather than marked up: the next failure probes afresh.
      known.delete(origin);
      deps.onChange?.(origin, 'up');
    },
  };
}
