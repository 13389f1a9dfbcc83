import type { RequestHandler } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import type { Logger } from '../../logger';
import { TooManyRequestsError } from '../../errors';

export const RATE_LIMIT_WINDOW_MS = 60_000;
const STORE_ERROR_LOG_INTERVAL_MS = 30_000;

export interface RateLimitOptions {
  /** Requests each API key may make per minute; 0 turns the limit off. */
  perMinute: number;
  /** Where the counts live: in this process when omitted, or shared (redis-rate-limit-store.ts). */
  store?: Store;
  logger: Logger;
}

/**
 * Per-key rate limit (SPEC §7) for the authenticated API: a fixed one-minute window per API key,
 * counted after the key check (auth.ts leaves the key's digest id in `res.locals.apiKeyId`, so
 * the key itself is never a map or Redis key). Over the limit: 429 problem+json with Retry-After;
 * every response carries `RateLimit` and `RateLimit-Policy` (IETF draft 7). When the shared store
 * fails, requests pass rather than fail: the limit protects the service, it must not take it down.
 */
export function createRateLimit(options: RateLimitOptions): RequestHandler | undefined {
  if (options.perMinute <= 0) return undefined;
  const { logger } = options;
  // A failing store fails every request: say so once in a while, not once per request.
  let storeErrorLogged = 0;
  return rateLimit({
    windowMs: RATE_LIMIT_WINDOW_MS,
    limit: options.perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    store: options.store,
    passOnStoreError: true,
    keyGenerator: (_req, res) => String(res.locals.apiKeyId),
    handler: (_req, res, next) => {
      const retryAfter = Number(res.getHeader('Retry-After')) || RATE_LIMIT_WINDOW_MS / 1000;
      next(
        new TooManyRequestsError(
          `This API key made more than ${options.perMinute} requests this minute; retry in ${retryAfter} s.`,
        ),
      );
    },
    logger: {
      warn: (message: unknown) => logger.warn({ err: message }, 'rate limit'),
      error: (error: unknown, message?: string) => {
        if (Date.now() - storeErrorLogged < STORE_ERROR_LOG_INTERVAL_MS) return;
        storeErrorLogged = Date.now();
        logger.warn({ err: error }, message ?? 'rate limit store failed; request let through');
      },
    },
  });
}
