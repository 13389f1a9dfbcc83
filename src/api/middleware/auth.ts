import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../../errors';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Checks `X-API-Key` against every configured key (several during a rotation). Comparing
 * fixed-length digests with timingSafeEqual, and always comparing against every key, keeps the
 * time independent of how much of a key matched and of which key it was. An accepted key is
 * known downstream by `res.locals.apiKeyId`, a prefix of its digest (the rate limit's key).
 */
export function createApiKeyAuth(keys: readonly string[]): RequestHandler {
  if (keys.length === 0) throw new Error('createApiKeyAuth needs at least one API key');
  const accepted = keys.map(digest);
  return (req, res, next) => {
    const given = req.get('x-api-key');
    if (!given) return next(new UnauthorizedError('The X-API-Key header is missing.'));
    const candidate = digest(given);
    let match = false;
    for (const key of accepted) match = timingSafeEqual(key, candidate) || match;
    if (!match) return next(new UnauthorizedError('The X-API-Key header is not a valid key.'));
    res.locals.apiKeyId = candidate.toString('hex', 0, 8);
    next();
  };
}
