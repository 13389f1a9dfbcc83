import { createClient } from '@redis/client';
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Logger } from '../logger';

const PREFIX = 'dts:rate-limit:';
/** How often a Redis outage is logged while it lasts. */
const ERROR_LOG_INTERVAL_MS = 30_000;

export interface RedisRateLimitStore extends Store {
  /** Ends the connection (API shutdown). */
  close(): Promise<void>;
}

/**
 * Rate-limit counts in Redis (REDIS_URL), so that every API replica counts against the same
 * per-key budget. Each hit is one MULTI: start the key's window if none runs (SET NX with the
 * window as expiry), INCR, read the remaining time. No Lua script, so nothing has to be loaded
 * before the first request and a Redis that comes back later just works again. While Redis is
 * unreachable, commands fail at once (no offline queue) and the limiter lets requests through.
 */
export function createRedisRateLimitStore(url: string, logger: Logger): RedisRateLimitStore {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries) => Math.min(retries * 200, 5_000),
    },
  });
  let lastLogged = 0;
  client.on('error', (error: unknown) => {
    if (Date.now() - lastLogged < ERROR_LOG_INTERVAL_MS) return;
    lastLogged = Date.now();
    logger.warn(
      { err: error },
      'rate limit store: Redis unreachable; requests are not limited meanwhile',
    );
  });
  client.on('ready', () => {
    if (lastLogged) logger.info('rate limit store: Redis reachable again');
    lastLogged = 0;
  });
  // Not awaited: the API starts without Redis, and the client keeps reconnecting.
  client.connect().catch(() => undefined);

  let windowMs = 60_000;
  const key = (name: string) => `${PREFIX}${name}`;

  return {
    localKeys: false,
    prefix: PREFIX,
    init(options: Options) {
      windowMs = options.windowMs;
    },
    async increment(name: string): Promise<ClientRateLimitInfo> {
      const k = key(name);
      const [, hits, ttl] = (await client
        .multi()
        .addCommand(['SET', k, '0', 'PX', String(windowMs), 'NX'])
        .addCommand(['INCR', k])
        .addCommand(['PTTL', k])
        .exec()) as [unknown, number, number];
      return {
        totalHits: Number(hits),
        resetTime: new Date(Date.now() + Math.max(0, Number(ttl))),
      };
    },
    async decrement(name: string) {
      // As in increment: a key whose window has ended gets a new one, never a key without expiry.
      const k = key(name);
      await client
        .multi()
        .addCommand(['SET', k, '1', 'PX', String(windowMs), 'NX'])
        .addCommand(['DECR', k])
        .exec();
    },
    async resetKey(name: string) {
      await client.sendCommand(['DEL', key(name)]);
    },
    async close() {
      if (client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    },
  };
}
