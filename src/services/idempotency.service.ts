import { createHash } from 'node:crypto';
import type { Circuit } from '../circuit';
import type { Orm } from '../db/orm';

/** How long a key is remembered (SPEC §14). */
export const IDEMPOTENCY_WINDOW_HOURS = 24;
/**
 * A claim older than this without an answer belongs to a request that died (its process killed
 * before it could give the key back): the key can be claimed again. A request takes seconds.
 */
const STALE_CLAIM = `interval '2 minutes'`;

/** What a request with an Idempotency-Key does (see begin). */
export type IdempotencyState =
  /** First of its key (or the first after 24 h): run it, then `finish` or `abandon`. */
  | { kind: 'new' }
  /** A repeat of a request that succeeded: answer what it answered. */
  | { kind: 'replay'; status: number; body: unknown }
  /** The key was used with another request: 422. */
  | { kind: 'mismatch' }
  /** The first request with the key has not answered yet: 409, try again. */
  | { kind: 'in-progress' };

/** A hash of what a request asks for: its method, route and body, keys in a stable order. */
export function requestHash(method: string, route: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${route}\n${stableJson(body)}`, 'utf8')
    .digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Idempotency keys in PostgreSQL (table idempotency_keys, SPEC §14): a key is claimed by one
 * insert, so two requests racing with one key cannot both run; a request that failed gives its
 * key back (`abandon`), so its repeat runs again (a trigger's repeat is then refused by Temporal,
 * whose workflow id derives from the key).
 */
export function createIdempotencyService(deps: { orm: Orm; database: Circuit }) {
  const sql = <T>(query: string, params: unknown[]) =>
    deps.database.run(() => deps.orm.em.getConnection().execute<T[]>(query, params));
  const window = `interval '${IDEMPOTENCY_WINDOW_HOURS} hours'`;

  return {
    async begin(apiKeyId: string, key: string, hash: string): Promise<IdempotencyState> {
      // Claim the key; an expired row of the same key is claimed again in the same statement.
      const claimed = await sql<{ claimed: boolean }>(
        `insert into idempotency_keys as i (api_key_id, key, request_hash) values (?, ?, ?)
         on conflict (api_key_id, key) do update
           set request_hash = excluded.request_hash, status = null, response = null,
               created_at = now()
           where i.created_at < now() - ${window}
              or (i.status is null and i.created_at < now() - ${STALE_CLAIM})
         returning true as claimed`,
        [apiKeyId, key, hash],
      );
      if (claimed.length > 0) return { kind: 'new' };
      const [row] = await sql<{ request_hash: string; status: number | null; response: unknown }>(
        'select request_hash, status, response from idempotency_keys where api_key_id = ? and key = ?',
        [apiKeyId, key],
      );
      // Abandoned between the two statements: claim it now.
      if (!row) return this.begin(apiKeyId, key, hash);
      if (row.request_hash !== hash) return { kind: 'mismatch' };
      if (row.status === null) return { kind: 'in-progress' };
      return { kind: 'replay', status: row.status, body: row.response };
    },

    /** The request succeeded: its answer (already masked) is what a repeat gets. */
    async finish(apiKeyId: string, key: string, status: number, body: unknown): Promise<void> {
      await sql(
        'update idempotency_keys set status = ?, response = ?::jsonb where api_key_id = ? and key = ?',
        [status, JSON.stringify(body), apiKeyId, key],
      );
    },

    /** The request failed: the key is free again, so a repeat runs (it may succeed then). */
    async abandon(apiKeyId: string, key: string): Promise<void> {
      await sql(
        'delete from idempotency_keys where api_key_id = ? and key = ? and status is null',
        [apiKeyId, key],
      );
    },
  };
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
