import { Router } from 'express';

/**
 * GET /api/config: what a client needs beyond the resources: the Temporal Web UI to link
 * executions to (the web console's task page), and what its key may do (a read-only key's console
 * shows no write actions). Public API like every other route, no secret.
 */
export function createConfigRouter(config: {
  temporalUiUrl?: string;
  temporalNamespace: string;
}): Router {
  const router = Router();
  router.get('/config', (_req, res) => {
    res.json({
      temporalUiUrl: config.temporalUiUrl ?? null,
      temporalNamespace: config.temporalNamespace,
      // What the caller's key may do, so that a client shows only what it can use.
      access: res.locals.access === 'read-only' ? 'read-only' : 'read-write',
    });
  });
  return router;
}
