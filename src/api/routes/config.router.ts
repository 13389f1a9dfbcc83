import { Router } from 'express';

/**
 * GET /api/config: what a client needs beyond the resources, today the Temporal Web UI to link
 * executions to (the web console's task page). Public API like every other route, no secret.
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
    });
  });
  return router;
}
