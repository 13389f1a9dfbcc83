import { Router } from 'express';

export type HealthCheck = () => Promise<void>;

/** Each check must settle within this many ms or it counts as down. */
const CHECK_TIMEOUT_MS = 2_000;

async function probe(check: HealthCheck): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('health check timed out')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

export function createHealthRouter(checks: { database: HealthCheck; temporal: HealthCheck }): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const [database, temporal] = await Promise.all([probe(checks.database), probe(checks.temporal)]);
    const ok = database === 'up' && temporal === 'up';
    res
      .status(ok ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: ok ? 'ok' : 'error', checks: { database, temporal } });
  });
  return router;
}
