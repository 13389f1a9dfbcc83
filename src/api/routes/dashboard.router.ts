import { Router } from 'express';
import type { StatsService } from '../../services/stats.service';

export function createDashboardRouter(deps: { stats: StatsService }): Router {
  const { stats } = deps;
  const router = Router();

  router.get('/dashboard/stats', async (_req, res) => {
    res.json(await stats.get());
  });

  return router;
}
