import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ForbiddenError, UnauthorizedError } from '../../errors';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** What a key may do: `read-only` keys (API_KEYS_READ_ONLY, SPEC §14) may only read. */
export type ApiAccess = 'read-write' | 'read-only';

/**
 * Checks `X-API-Key` against every configured key (several during a rotation), full and
 * read-only. Comparing fixed-length digests with timingSafeEqual, and always comparing against
 * every key, keeps the time independent of how much of a key matched, of which key it was and of
 * its kind. An accepted key is known downstream by `res.locals.apiKeyId`, a prefix of its digest
 * (the rate limit's key), and `res.locals.access`.
 */
export function createApiKeyAuth(
  keys: readonly string[],
  readOnlyKeys: readonly string[] = [],
): RequestHandler {
  if (keys.length === 0) throw new Error('createApiKeyAuth needs at least one API key');
  const accepted = [
    ...keys.map((key) => ({ digest: digest(key), access: 'read-write' as ApiAccess })),
    ...readOnlyKeys.map((key) => ({ digest: digest(key), access: 'read-only' as ApiAccess })),
  ];
  return (req, res, next) => {
    const given = req.get('x-api-key');
    if (!given) return next(new UnauthorizedError('The X-API-Key header is missing.'));
    const candidate = digest(given);
    let access: ApiAccess | undefined;
    for (const key of accepted) {
      if (timingSafeEqual(key.digest, candidate)) access ??= key.access;
    }
    if (!access) return next(new UnauthorizedError('The X-API-Key header is not a valid key.'));
    res.locals.apiKeyId = candidate.toString('hex', 0, 8);
    res.locals.access = access;
    next();
  };
}

/** Reads, and a schedule preview (it creates nothing): what a read-only key may call. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WRITES_THAT_ONLY_READ = new Set(['/schedules/preview']);

/**
 * After the key check: a read-only key asking to change anything is a 403, before its body is
 * read or validated, so nothing it sends can change anything.
 */
export const refuseWritesOfReadOnlyKeys: RequestHandler = (req, res, next) => {
  if (res.locals.access !== 'read-only') return next();
  if (READS.has(req.method) || WRITES_THAT_ONLY_READ.has(req.path)) return next();
  next(
    new ForbiddenError(
      'This API key is read-only (API_KEYS_READ_ONLY): it may read, not create, change, run or delete.',
    ),
  );
};
