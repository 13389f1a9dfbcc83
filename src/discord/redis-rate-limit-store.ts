import { createClient, defineScript, ErrorReply, type CommandParser } from '@redis/client';
import type { Logger } from '../logger';
import {
  createMemoryRateLimitStore,
  IDLE_BUCKET_MS,
  INVALID_SLOT_MS,
  INVALID_WINDOW_MS,
  SAME_WINDOW_TOLERANCE_MS,
  UNKNOWN_BUCKET_POLL_MS,
  type BucketAnswer,
  type Decision,
  type RateLimitStore,
  type WaitReason,
} from './rate-limit';

export const KEY_PREFIX = 'dts:discord:';
const GLOBAL_KEY = `${KEY_PREFIX}global`;
const INVALID_PREFIX = `${KEY_PREFIX}invalid:`;
export const bucketKey = (webhookId: string) => `${KEY_PREFIX}bucket:${webhookId}`;

/**
 * A bucket's hash outlives the later of its window's end and its lease by this, as the memory
 * store keeps an idle bucket (src/discord/rate-limit.ts, IDLE_BUCKET_MS): long enough that a
 * webhook sending every few seconds keeps what Discord told of it, short enough that thousands of
 * webhooks that fired once do not pile up in Redis.
 */
export const BUCKET_IDLE_TTL_MS = IDLE_BUCKET_MS;
/**
 * Redis is asked for at most this long per call; then this call paces in the process. A delivery
 * must never wait on the pacing state longer than it would on Discord's own jitter.
 */
export const REDIS_CALL_DEADLINE_MS = 500;
/** While Redis is known unreachable, how often a call checks (in the background) if it is back. */
const RECHECK_EVERY_MS = 1_000;
/** How often the outage is logged while it lasts. */
const WARN_INTERVAL_MS = 30_000;

/*
 * The Lua below is a faithful port of acquireBucket, settleBucket, rateLimitBucket, invalidSlot,
 * countInvalid and invalidBudgetWaitMs (src/discord/rate-limit.ts) and of the way
 * createMemoryRateLimitStore combines them: a change to one must be made to the other, and
 * test/integration/discord-rate-limit-store.test.ts runs one table of scenarios against both.
 * Constants come in as ARGV from the TS ones, so the two cannot drift apart there.
 *
 * The clock is the Redis server's (TIME), so that workers on hosts whose clocks differ agree on
 * when a window ends. Writing after TIME needs effects replication: the default since Redis 5
 * (and the only mode since 7); replicate_commands() turns it on for 3.2-4.x and is a no-op later.
 *
 * The invalid-count slots are named from the server's time inside the script, so those keys are
 * not declared in KEYS: fine for a single Redis (REDIS_URL), not for Redis Cluster.
 */
const LUA_PRELUDE = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(x) return string.format('%.17g', x) end

-- countInvalid's slots: those with slot + window > now, oldest first, with their counts.
local function invalidSlots(prefix, windowMs, slotMs)
  local slots, names = {}, {}
  local slot = math.floor((now - windowMs) / slotMs) * slotMs + slotMs
  local last = math.floor(now / slotMs) * slotMs
  while slot <= last do
    slots[#slots + 1] = slot
    names[#names + 1] = prefix .. num(slot)
    slot = slot + slotMs
  end
  local counts, total = {}, 0
  if #names > 0 then
    local values = redis.call('MGET', unpack(names))
    for i = 1, #names do
      counts[i] = tonumber(values[i]) or 0
      total = total + counts[i]
    end
  end
  return slots, counts, total
end

local FIELDS = {'limit', 'remaining', 'resetAt', 'windowMs', 'inFlight', 'leaseUntil'}
local function loadBucket(key)
  local v = redis.call('HMGET', key, unpack(FIELDS))
  local s = {}
  for i, f in ipairs(FIELDS) do s[f] = tonumber(v[i]) or 0 end
  return s
end
local function saveBucket(key, s, idleMs)
  redis.call('HSET', key, 'limit', num(s.limit), 'remaining', num(s.remaining),
    'resetAt', num(s.resetAt), 'windowMs', num(s.windowMs), 'inFlight', num(s.inFlight),
    'leaseUntil', num(s.leaseUntil))
  local ttl = math.max(s.resetAt, s.leaseUntil, now) - now + idleMs
  redis.call('PEXPIRE', key, num(math.ceil(ttl)))
end
`;

/**
 * KEYS: bucket, global. ARGV: leaseMs, invalidBudget, invalid prefix, UNKNOWN_BUCKET_POLL_MS,
 * INVALID_WINDOW_MS, INVALID_SLOT_MS, bucket idle ttl. Returns {go 0|1, waitMs (string), reason}.
 */
const ACQUIRE_LUA = `${LUA_PRELUDE}
local leaseMs = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local pollMs = tonumber(ARGV[4])
local windowMs = tonumber(ARGV[5])

local globalUntil = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if globalUntil > now then return {0, num(globalUntil - now), 'global'} end

-- invalidBudgetWaitMs
local slots, counts, total = invalidSlots(ARGV[3], windowMs, tonumber(ARGV[6]))
if total >= budget then
  local waitMs = windowMs
  for i = 1, #slots do
    total = total - counts[i]
    if total < budget then
      waitMs = math.max(1, slots[i] + windowMs - now)
      break
    end
  end
  return {0, num(waitMs), 'invalid-budget'}
end

-- acquireBucket
local s = loadBucket(KEYS[1])
local go, waitMs, reason = 0, 0, ''
if s.inFlight > 0 and now >= s.leaseUntil then s.inFlight = 0 end
if s.limit == 0 then
  if s.resetAt > now then
    waitMs, reason = s.resetAt - now, 'bucket'
  elseif s.inFlight > 0 then
    waitMs, reason = math.max(1, math.min(pollMs, s.leaseUntil - now)), 'unknown-bucket'
  else
    s.inFlight = 1
    s.leaseUntil = now + leaseMs
    go = 1
  end
else
  if now >= s.resetAt then
    s.remaining = s.limit
    s.resetAt = now + s.windowMs
  end
  if s.remaining > 0 then
    s.remaining = s.remaining - 1
    s.inFlight = s.inFlight + 1
    s.leaseUntil = now + leaseMs
    go = 1
  else
    waitMs, reason = math.max(1, s.resetAt - now), 'bucket'
  end
end
saveBucket(KEYS[1], s, tonumber(ARGV[7]))
return {go, num(waitMs), reason}
`;

/**
 * KEYS: bucket, global. ARGV: has answer 0|1, limit, remaining, resetAfterMs, retryAfterMs ('' for
 * none), global 0|1, invalid 0|1, invalid prefix, SAME_WINDOW_TOLERANCE_MS, INVALID_WINDOW_MS,
 * INVALID_SLOT_MS, bucket idle ttl.
 */
const SETTLE_LUA = `${LUA_PRELUDE}
local toleranceMs = tonumber(ARGV[9])
local s = loadBucket(KEYS[1])

-- settleBucket
s.inFlight = math.max(0, s.inFlight - 1)
if ARGV[1] == '1' then
  local limit, remaining, resetAfterMs = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  local resetAt = now + resetAfterMs
  local firstAnswer = s.limit == 0
  s.limit = limit
  s.windowMs = math.max(s.windowMs, resetAfterMs)
  if firstAnswer or resetAt > s.resetAt + toleranceMs then
    s.resetAt = resetAt
    s.remaining = math.max(0, remaining - s.inFlight)
  elseif resetAt >= s.resetAt - toleranceMs then
    s.resetAt = math.max(s.resetAt, resetAt)
    s.remaining = math.min(s.remaining, remaining)
  end
end

local retryAfterMs = tonumber(ARGV[5])
if retryAfterMs then
  if ARGV[6] == '1' then
    local globalUntil = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
    globalUntil = math.max(globalUntil, now + retryAfterMs)
    redis.call('SET', KEYS[2], num(globalUntil), 'PX', num(math.max(1, math.ceil(globalUntil - now))))
  else
    -- rateLimitBucket
    s.remaining = 0
    s.resetAt = math.max(s.resetAt, now + retryAfterMs)
  end
end
saveBucket(KEYS[1], s, tonumber(ARGV[12]))

if ARGV[7] == '1' then
  local slotMs = tonumber(ARGV[11])
  local key = ARGV[8] .. num(math.floor(now / slotMs) * slotMs)
  redis.call('INCR', key)
  -- The slot counts until slot + window; a slot more covers the time since its start.
  redis.call('PEXPIRE', key, num(tonumber(ARGV[10]) + slotMs))
end
return 1
`;

/** ARGV: invalid prefix, INVALID_WINDOW_MS, INVALID_SLOT_MS. Returns countInvalid's total. */
const COUNT_LUA = `${LUA_PRELUDE}
local _, _, total = invalidSlots(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return total
`;

const scripts = {
  discordAcquire: defineScript({
    SCRIPT: ACQUIRE_LUA,
    NUMBER_OF_KEYS: 2,
    parseCommand(parser: CommandParser, webhookId: string, leaseMs: number, budget: number) {
      parser.pushKey(bucketKey(webhookId));
      parser.pushKey(GLOBAL_KEY);
      parser.push(
        String(leaseMs),
        String(budget),
        INVALID_PREFIX,
        String(UNKNOWN_BUCKET_POLL_MS),
        String(INVALID_WINDOW_MS),
        String(INVALID_SLOT_MS),
        String(BUCKET_IDLE_TTL_MS),
      );
    },
    transformReply: (reply: unknown) => reply as [number, string, string],
  }),
  discordSettle: defineScript({
    SCRIPT: SETTLE_LUA,
    NUMBER_OF_KEYS: 2,
    parseCommand(
      parser: CommandParser,
      webhookId: string,
      answer: BucketAnswer | null,
      retryAfterMs: number | undefined,
      global: boolean,
      invalid: boolean,
    ) {
      parser.pushKey(bucketKey(webhookId));
      parser.pushKey(GLOBAL_KEY);
      parser.push(
        answer ? '1' : '0',
        String(answer?.limit ?? 0),
        String(answer?.remaining ?? 0),
        String(answer?.resetAfterMs ?? 0),
        retryAfterMs === undefined ? '' : String(retryAfterMs),
        global ? '1' : '0',
        invalid ? '1' : '0',
        INVALID_PREFIX,
        String(SAME_WINDOW_TOLERANCE_MS),
        String(INVALID_WINDOW_MS),
        String(INVALID_SLOT_MS),
        String(BUCKET_IDLE_TTL_MS),
      );
    },
    transformReply: (reply: unknown) => reply as number,
  }),
  discordInvalidCount: defineScript({
    SCRIPT: COUNT_LUA,
    NUMBER_OF_KEYS: 0,
    parseCommand(parser: CommandParser) {
      parser.push(INVALID_PREFIX, String(INVALID_WINDOW_MS), String(INVALID_SLOT_MS));
    },
    transformReply: (reply: unknown) => reply as number,
  }),
};

const TIMED_OUT = Symbol('timed out');

/**
 * Discord's rate-limit state in Redis (REDIS_URL), shared by every worker of the deployment
 * (SPEC §13): each acquire and each settle is one Lua script, atomic across workers, on the Redis
 * server's clock. Scripts go as EVALSHA and fall back to EVAL on NOSCRIPT (the client's
 * `scripts` option), so a Redis that restarted empty just works again.
 *
 * While Redis is unreachable (a call fails or takes over REDIS_CALL_DEADLINE_MS), calls are
 * answered by an in-process store instead: this worker then paces alone, which risks a few 429s
 * across workers but never holds a delivery up on Redis. Calls go straight to it until Redis
 * answers a background check again. A place taken on one side and given back on the other is
 * released by its lease.
 */
export function createRedisRateLimitStore(url: string, logger: Logger): RateLimitStore {
  const client = createClient({
    url,
    scripts,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries) => Math.min(retries * 200, 5_000),
    },
  });
  const local = createMemoryRateLimitStore();
  let downSince: number | undefined;
  let warnedAt = 0;
  // Whether this outage was logged: a Redis that flaps within WARN_INTERVAL_MS logs one warning
  // and one recovery, not a recovery per flap.
  let announced = false;
  let refusedAt = 0;
  let checkedAt = 0;
  let checking = false;
  let closed = false;

  function markDown(error: unknown): void {
    downSince ??= Date.now();
    if (Date.now() - warnedAt < WARN_INTERVAL_MS) return;
    warnedAt = Date.now();
    announced = true;
    logger.warn(
      { err: error },
      'Discord rate-limit state: Redis unreachable; pacing in this process meanwhile',
    );
  }

  function markUp(): void {
    if (downSince === undefined) return;
    if (announced) {
      logger.info(
        { downForMs: Date.now() - downSince },
        'Discord rate-limit state: Redis reachable again; pacing by the shared state',
      );
    }
    downSince = undefined;
    announced = false;
  }

  /**
   * Redis answered, with an error (a script refused by an ACL, Redis Cluster, a Redis still
   * loading): it is reachable, so calls keep asking it, and each such call paces in the process.
   */
  function refused(error: ErrorReply): void {
    if (Date.now() - refusedAt < WARN_INTERVAL_MS) return;
    refusedAt = Date.now();
    logger.warn(
      { err: error },
      'Discord rate-limit state: Redis refused the call; pacing in this process meanwhile',
    );
  }

  // Every socket error of a reconnecting client lands here (an 'error' without a listener would
  // crash the worker).
  client.on('error', markDown);
  client.on('ready', markUp);
  // The first calls after start wait (within the deadline) for the first connection, rather than
  // pacing alone while the workers boot together.
  let starting = true;
  const started = new Promise<void>((resolve) => {
    client.once('ready', resolve);
    client.once('error', resolve);
  }).then(() => {
    starting = false;
  });
  // Not awaited: the worker starts without Redis, and the client keeps reconnecting.
  client.connect().catch(() => undefined);

  /**
   * In the background, at most once a second: is Redis back? A hung check blocks no caller. A
   * client without a connection has nothing to check: its 'ready' tells when it has one again.
   */
  function recheck(): void {
    if (checking || closed || !client.isReady || Date.now() - checkedAt < RECHECK_EVERY_MS) return;
    checking = true;
    checkedAt = Date.now();
    void withinDeadline(() => client.ping())
      .then((result) => {
        if (result !== TIMED_OUT) markUp();
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  }

  async function withinDeadline<T>(work: () => Promise<T>): Promise<T | typeof TIMED_OUT> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), REDIS_CALL_DEADLINE_MS);
    });
    const call = (async () => {
      if (starting && !client.isReady) await started;
      return work();
    })();
    // A call given up on may still fail later; nobody is listening by then.
    call.catch(() => undefined);
    try {
      return await Promise.race([call, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `work` against Redis, or `fallback` in the process when Redis is down, failing or slow. */
  async function shared<T>(work: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (downSince !== undefined || closed) {
      recheck();
      return fallback();
    }
    try {
      const result = await withinDeadline(work);
      if (result !== TIMED_OUT) return result;
      markDown(new Error(`no answer within ${REDIS_CALL_DEADLINE_MS} ms`));
    } catch (error) {
      if (error instanceof ErrorReply) refused(error);
      else markDown(error);
    }
    return fallback();
  }

  return {
    acquire(webhookId, options) {
      return shared(
        async (): Promise<Decision> => {
          const [go, waitMs, reason] = await client.discordAcquire(
            webhookId,
            options.leaseMs,
            options.invalidBudget,
          );
          if (Number(go) === 1) return { go: true };
          return { go: false, waitMs: Number(waitMs), reason: reason as WaitReason };
        },
        () => local.acquire(webhookId, options),
      );
    },
    settle(webhookId, result) {
      return shared(
        async () => {
          await client.discordSettle(
            webhookId,
            result.answer,
            result.retryAfterMs,
            result.global === true,
            result.invalid,
          );
        },
        () => local.settle(webhookId, result),
      );
    },
    invalidCount() {
      return shared(
        async () => Number(await client.discordInvalidCount()),
        () => local.invalidCount(),
      );
    },
    async close() {
      closed = true;
      await local.close();
      if (client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    },
  };
}
