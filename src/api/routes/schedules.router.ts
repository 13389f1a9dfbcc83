import { Router } from 'express';
import { previewSchedule, type SchedulePreviewInput } from '../../schedule/preview';

/** Schedule tools for clients such as the web console; nothing here touches a task. */
export function createSchedulesRouter(): Router {
  const router = Router();

  router.post('/schedules/preview', (req, res) => {
    res.json(previewSchedule(req.body as SchedulePreviewInput, new Date()));
  });

  return router;
}
