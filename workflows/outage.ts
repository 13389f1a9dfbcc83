/** How long a run waits out an outage (ours or Discord's) before it gives up. */
export const OUTAGE_GIVE_UP_MS = 24 * 60 * 60 * 1000;

/** 1 s, 2 s, 4 s, 8 s, then every 10 s for about 5 minutes, then every minute. */
export function outageBackoffMs(interruptions: number): number {
  if (interruptions > 33) return 60_000;
  return Math.min(10_000, 1_000 * 2 ** interruptions);
}
