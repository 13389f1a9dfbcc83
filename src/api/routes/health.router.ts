import { Router } from 'express';
import { createSharedProbe, type SharedProbe } from '../../circuit';
import { RETRY_AFTER_SECONDS } from '../error-handler';

export type HealthCheck = () => Promise<void>;

export interface HealthOptions {
  /** A check that has not answered within this many ms counts as down. */
  timeoutMs?: number;
  /** How long one check's answer is given to every caller (SPEC §5: about a second). */
  reuseMs?: number;
}

/**
 * `GET /health` (readiness) and `GET /health/live` (liveness). Readiness does not check each
 * dependency per request: one check per dependency is shared by the callers that arrive while it
 * runs, and its answer is reused for about a second, so that load neither slows the answer nor
 * makes it lie (32 clients once made Temporal's own probe time out). Liveness asks nothing: it
 * answers while the process serves.
 */
export function createHealthRouter(
  checks: { database: HealthCheck; temporal: HealthCheck },
  options: HealthOptions = {},
): Router {
  const probeOptions = { timeoutMs: options.timeoutMs ?? 1_000, reuseMs: options.reuseMs ?? 1_000 };
  const probes: Record<'database' | 'temporal', SharedProbe> = {
    database: createSharedProbe(checks.database, probeOptions),
    temporal: createSharedProbe(checks.temporal, probeOptions),
  };
  const router = Router();
  router.get('/health', async (_req, res) => {
    const [database, temporal] = await Promise.all([
      probes.database.status(),
      probes.temporal.status(),
    ]);
    const ok = database === 'up' && temporal === 'up';
    res.status(ok ? 200 : 503).set('Cache-Control', 'no-store');
    if (!ok) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.json({ status: ok ? 'ok' : 'error', checks: { database, temporal } });
  });
  router.get('/health/live', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  return router;
}
