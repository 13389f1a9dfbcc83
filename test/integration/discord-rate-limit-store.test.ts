import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { createClient } from '@redis/client';
import { getFreePort } from '../../src/embedded/ports';
import { createLogger } from '../../src/logger';
import {
  createMemoryRateLimitStore,
  INVALID_SLOT_MS,
  INVALID_WINDOW_MS,
  type Decision,
  type RateLimitStore,
} from '../../src/discord/rate-limit';
import {
  BUCKET_IDLE_TTL_MS,
  bucketKey,
  createRedisRateLimitStore,
} from '../../src/discord/redis-rate-limit-store';
import { capturingLogger } from '../helpers/capturing-logger';
import { ensureRedisServer, startRedisServer, type RedisServer } from '../helpers/redis-server';

/**
 * Discord's rate-limit state (SPEC §13) in its two homes: the in-process store and the Redis store
 * whose Lua is a port of the same pure functions. One table of scenarios runs against both and
 * expects the same decisions; then what only Redis does: one bucket shared by two workers, keys
 * that expire, and pacing in the process while Redis is away. Waits are asserted as reasons and
 * wide ranges, not exact milliseconds: the machine is slow and Redis keeps its own clock.
 */

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const silent = createLogger({ level: 'silent' });
const BUDGET = 5_000;
const LEASE_MS = 10_000;
const acquireOptions = { leaseMs: LEASE_MS, invalidBudget: BUDGET };

function expectWait(decision: Decision, reason: string, min: number, max: number): void {
  expect(decision).toEqual({ go: false, waitMs: expect.any(Number), reason });
  if (decision.go) return;
  expect(decision.waitMs).toBeGreaterThanOrEqual(min);
  expect(decision.waitMs).toBeLessThanOrEqual(max);
}

interface Scenario {
  name: string;
  run(store: RateLimitStore, webhook: () => string): Promise<void>;
}

const scenarios: Scenario[] = [
  {
    name: "when a webhook's bucket is unknown, then exactly one request goes and the next waits with reason 'unknown-bucket'",
    async run(store, webhook) {
      const id = webhook();
      expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
      expectWait(await store.acquire(id, acquireOptions), 'unknown-bucket', 1, 50);
      // Another webhook is another bucket.
      expect(await store.acquire(webhook(), acquireOptions)).toEqual({ go: true });
    },
  },
  {
    name: "when an answer says limit 5, remaining 4, reset after 2 s, then four more go and the fifth waits about 2 s with reason 'bucket'",
    async run(store, webhook) {
      const id = webhook();
      expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
      await store.settle(id, {
        answer: { limit: 5, remaining: 4, resetAfterMs: 2_000 },
        invalid: false,
      });
      for (let i = 0; i < 4; i++)
        expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
      expectWait(await store.acquire(id, acquireOptions), 'bucket', 1_000, 2_000);
    },
  },
  {
    name: 'when answers arrive out of order or from an earlier window, then they never raise remaining',
    async run(store, webhook) {
      const id = webhook();
      await store.acquire(id, acquireOptions);
      await store.settle(id, {
        answer: { limit: 5, remaining: 4, resetAfterMs: 2_000 },
        invalid: false,
      });
      const windowStart = Date.now();
      const resetAfter = () => 2_000 - (Date.now() - windowStart);
      for (let i = 0; i < 3; i++)
        expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
      // The third request's answer first, then the first's, then one from the window before.
      await store.settle(id, {
        answer: { limit: 5, remaining: 1, resetAfterMs: resetAfter() },
        invalid: false,
      });
      await store.settle(id, {
        answer: { limit: 5, remaining: 3, resetAfterMs: resetAfter() },
        invalid: false,
      });
      await store.settle(id, {
        answer: { limit: 5, remaining: 4, resetAfterMs: Math.max(0, resetAfter() - 1_000) },
        invalid: false,
      });
      expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
      expectWait(await store.acquire(id, acquireOptions), 'bucket', 1, 2_000);
    },
  },
  {
    name: 'when a request is never answered, then its lease lapses and the bucket is free again',
    async run(store, webhook) {
      const id = webhook();
      const options = { leaseMs: 1_000, invalidBudget: BUDGET };
      expect(await store.acquire(id, options)).toEqual({ go: true });
      expectWait(await store.acquire(id, options), 'unknown-bucket', 1, 50);
      await sleep(1_500);
      expect(await store.acquire(id, options)).toEqual({ go: true });
    },
  },
  {
    name: "when Discord answers a 429 with retry after 5 s, then the bucket is empty until then (reason 'bucket')",
    async run(store, webhook) {
      const id = webhook();
      await store.acquire(id, acquireOptions);
      await store.settle(id, {
        answer: { limit: 5, remaining: 4, resetAfterMs: 2_000 },
        invalid: false,
      });
      expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
      await store.settle(id, {
        answer: { limit: 5, remaining: 3, resetAfterMs: 1_990 },
        retryAfterMs: 5_000,
        invalid: true,
      });
      expectWait(await store.acquire(id, acquireOptions), 'bucket', 3_000, 5_000);
      // Not a global 429: other webhooks still go.
      expect(await store.acquire(webhook(), acquireOptions)).toEqual({ go: true });
    },
  },
  {
    name: "when Discord answers a global 429, then every webhook waits with reason 'global'",
    async run(store, webhook) {
      const id = webhook();
      await store.acquire(id, acquireOptions);
      await store.settle(id, { answer: null, retryAfterMs: 3_000, global: true, invalid: true });
      expectWait(await store.acquire(id, acquireOptions), 'global', 1_000, 3_000);
      expectWait(await store.acquire(webhook(), acquireOptions), 'global', 1_000, 3_000);
    },
  },
  {
    name: "when the invalid requests reach the budget, then acquire waits with reason 'invalid-budget' and invalidCount() counts them",
    async run(store, webhook) {
      expect(await store.invalidCount()).toBe(0);
      const id = webhook();
      for (let i = 0; i < 5; i++) {
        await store.settle(id, { answer: null, invalid: true });
      }
      await store.settle(id, { answer: null, invalid: false });
      expect(await store.invalidCount()).toBe(5);
      expectWait(
        await store.acquire(webhook(), { leaseMs: LEASE_MS, invalidBudget: 5 }),
        'invalid-budget',
        INVALID_WINDOW_MS - 2 * INVALID_SLOT_MS,
        INVALID_WINDOW_MS,
      );
      expect(await store.acquire(webhook(), { leaseMs: LEASE_MS, invalidBudget: 6 })).toEqual({
        go: true,
      });
    },
  },
];

let binary: string;
let redis: RedisServer;
let admin: ReturnType<typeof createClient>;
const stores: RateLimitStore[] = [];

beforeAll(async () => {
  binary = await ensureRedisServer();
  redis = await startRedisServer(binary);
  admin = createClient({ url: redis.url });
  await admin.connect();
});

afterAll(async () => {
  for (const store of stores) await store.close();
  await admin?.close();
  await redis?.stop();
});

/** A Redis store that has connected (its first calls would otherwise wait for the connection). */
async function redisStore(url = redis.url, logger = silent): Promise<RateLimitStore> {
  const store = createRedisRateLimitStore(url, logger);
  stores.push(store);
  await store.invalidCount();
  return store;
}

describe.each([
  ['in memory', async () => createMemoryRateLimitStore(Date.now)],
  [
    'in Redis',
    async () => {
      // The global pause and the invalid count are deployment-wide: each scenario starts clean.
      await admin.flushAll();
      const { logger, lines } = capturingLogger();
      const store = await redisStore(redis.url, logger);
      // The in-process fallback decides alike, so a scenario passing proves nothing unless
      // every call reached Redis.
      const reachedRedis = () => expect(lines).toEqual([]);
      return Object.assign(store, { reachedRedis });
    },
  ],
])('Discord rate-limit store %s', (_name, createStore) => {
  it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))(
    '%s',
    async (_title, scenario) => {
      const store: RateLimitStore & { reachedRedis?: () => void } = await createStore();
      try {
        await scenario.run(store, () => `webhook-${randomUUID()}`);
        store.reachedRedis?.();
      } finally {
        await store.close();
      }
    },
  );
});

describe('Discord rate-limit store in Redis', () => {
  it('when two workers share one Redis, then 10 concurrent acquires across both let exactly `remaining` through', async () => {
    const [a, b] = [await redisStore(), await redisStore()];
    const id = `webhook-${randomUUID()}`;
    expect(await a.acquire(id, acquireOptions)).toEqual({ go: true });
    // The other worker sees the first request on its way.
    expect(await b.acquire(id, acquireOptions)).toMatchObject({ reason: 'unknown-bucket' });
    await a.settle(id, { answer: { limit: 5, remaining: 4, resetAfterMs: 5_000 }, invalid: false });

    const decisions = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).acquire(id, acquireOptions)),
    );
    expect(decisions.filter((decision) => decision.go)).toHaveLength(4);
    for (const decision of decisions.filter((d) => !d.go)) {
      expectWait(decision, 'bucket', 1_000, 5_000);
    }
  });

  it('when the store writes its state, then every key it writes expires', async () => {
    await admin.flushAll();
    const store = await redisStore();
    const id = `webhook-${randomUUID()}`;
    await store.acquire(id, acquireOptions);
    await store.settle(id, {
      answer: { limit: 5, remaining: 4, resetAfterMs: 2_000 },
      retryAfterMs: 1_000,
      global: true,
      invalid: true,
    });
    const keys = (await admin.keys('dts:discord:*')).sort();
    expect(keys).toEqual([
      bucketKey(id),
      'dts:discord:global',
      expect.stringMatching(/^dts:discord:invalid:\d+0000$/),
    ]);
    const bucketTtl = await admin.pTTL(bucketKey(id));
    // The later of the window's end (2 s) and the lease (10 s), plus the idle time.
    expect(bucketTtl).toBeGreaterThan(LEASE_MS + BUCKET_IDLE_TTL_MS - 5_000);
    expect(bucketTtl).toBeLessThanOrEqual(LEASE_MS + BUCKET_IDLE_TTL_MS);
    const globalTtl = await admin.pTTL('dts:discord:global');
    expect(globalTtl).toBeGreaterThan(0);
    expect(globalTtl).toBeLessThanOrEqual(1_000);
    const slotTtl = await admin.pTTL(keys[2]!);
    expect(slotTtl).toBeGreaterThan(INVALID_WINDOW_MS);
    expect(slotTtl).toBeLessThanOrEqual(INVALID_WINDOW_MS + INVALID_SLOT_MS);
  });

  it('when Redis was never reachable, then acquire still answers within a second from the process, and a warning says why', async () => {
    const { logger, lines } = capturingLogger();
    const port = await getFreePort();
    const store = createRedisRateLimitStore(`redis://127.0.0.1:${port}`, logger);
    stores.push(store);
    const id = `webhook-${randomUUID()}`;
    const started = Date.now();
    expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
    expectWait(await store.acquire(id, acquireOptions), 'unknown-bucket', 1, 50);
    await store.settle(id, {
      answer: { limit: 5, remaining: 4, resetAfterMs: 2_000 },
      invalid: true,
    });
    expect(await store.invalidCount()).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
    const warnings = lines.filter((line) => String(line.msg).includes('Redis unreachable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40 });
  });

  it('when Redis accepts connections but never answers, then the first call is given up on within a second and later calls pace in the process at once', async () => {
    const sockets = new Set<net.Socket>();
    const blackHole = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as net.AddressInfo;
    const { logger, lines } = capturingLogger();
    const store = createRedisRateLimitStore(`redis://127.0.0.1:${port}`, logger);
    try {
      const id = `webhook-${randomUUID()}`;
      let started = Date.now();
      expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
      expect(Date.now() - started).toBeLessThan(1_000);
      started = Date.now();
      expectWait(await store.acquire(id, acquireOptions), 'unknown-bucket', 1, 50);
      expect(Date.now() - started).toBeLessThan(250);
      expect(lines.filter((line) => String(line.msg).includes('Redis unreachable'))).toHaveLength(
        1,
      );
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
    }
  });

  it('when Redis stalls, then calls pace in the process within a second, and once it answers a background check the shared state is used again', async () => {
    const { logger, lines } = capturingLogger();
    const store = await redisStore(redis.url, logger);
    // CLIENT PAUSE holds every client's commands, as a Redis stuck on a slow disk or a full CPU.
    await admin.sendCommand(['CLIENT', 'PAUSE', '2000', 'ALL']);
    const id = `webhook-${randomUUID()}`;
    const started = Date.now();
    expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(lines.filter((line) => String(line.msg).includes('Redis unreachable'))).toHaveLength(1);

    const deadline = Date.now() + 15_000;
    const back = () => lines.some((line) => String(line.msg).includes('Redis reachable again'));
    while (Date.now() < deadline && !back()) {
      await store.invalidCount();
      await sleep(200);
    }
    expect(back()).toBe(true);
    const other = `webhook-${randomUUID()}`;
    expect(await store.acquire(other, acquireOptions)).toEqual({ go: true });
    expect(await admin.exists(bucketKey(other))).toBe(1);
  });

  it('when Redis answers but refuses the scripts, then acquire answers from the process and a warning says so', async () => {
    const user = `no-scripts-${randomUUID()}`;
    await admin.sendCommand(['ACL', 'SETUSER', user, 'on', 'nopass', '~*', '+@all', '-@scripting']);
    const { logger, lines } = capturingLogger();
    const store = createRedisRateLimitStore(
      `redis://${user}:unused@127.0.0.1:${redis.port}`,
      logger,
    );
    stores.push(store);
    const id = `webhook-${randomUUID()}`;
    expect(await store.acquire(id, acquireOptions)).toEqual({ go: true });
    expectWait(await store.acquire(id, acquireOptions), 'unknown-bucket', 1, 50);
    expect(await admin.exists(bucketKey(id))).toBe(0);
    const warnings = lines.filter((line) => String(line.msg).includes('Redis refused the call'));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain('NOPERM');
    expect(lines.some((line) => String(line.msg).includes('unreachable'))).toBe(false);
  });

  it('when Redis stops, then calls are answered in the process at once, and when it is back the shared state is used again', async () => {
    const own = await startRedisServer(binary);
    const { logger, lines } = capturingLogger();
    const store = await redisStore(own.url, logger);
    const shared = `webhook-${randomUUID()}`;
    expect(await store.acquire(shared, acquireOptions)).toEqual({ go: true });

    await own.stop();
    const id = `webhook-${randomUUID()}`;
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const decision = await store.acquire(id, acquireOptions);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(decision).toEqual(i === 0 ? { go: true } : expect.objectContaining({ go: false }));
    }
    expect(lines.filter((line) => String(line.msg).includes('Redis unreachable'))).toHaveLength(1);

    const again = await startRedisServer(binary, own.port);
    try {
      const deadline = Date.now() + 20_000;
      while (
        Date.now() < deadline &&
        !lines.some((line) => String(line.msg).includes('Redis reachable again'))
      ) {
        await store.invalidCount();
        await sleep(200);
      }
      expect(lines.some((line) => String(line.msg).includes('Redis reachable again'))).toBe(true);
      // The restarted Redis is empty: the state the process held meanwhile is not in it.
      expect(await store.acquire(`webhook-${randomUUID()}`, acquireOptions)).toEqual({ go: true });
      const client = createClient({ url: again.url });
      await client.connect();
      try {
        expect((await client.keys('dts:discord:bucket:*')).length).toBe(1);
      } finally {
        await client.close();
      }
    } finally {
      await store.close();
      await again.stop();
    }
  });
});
