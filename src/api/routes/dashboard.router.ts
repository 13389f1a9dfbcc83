import { Router } from 'express';
import type { StatsService } from '../../services/stats.service';

export function createDashboardRouter(deps: { stats: StatsService }): Router {
  const { stats } = deps;
  const router = Router();

  router.get('/dashboard/stats', async (_req, res) => {
    res.json(await stats.get());
  });

  // `hours` is an integer from 1 to 168 (openapi.yaml; the validator coerces and checks it).
  router.get('/dashboard/timeseries', async (req, res) => {
    const hours = req.query.hours === undefined ? 24 : Number(req.query.hours);
    res.json({ data: await stats.timeseries(hours) });
  });

  return router;
}
