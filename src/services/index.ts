import type { Config } from '../config';
import type { Orm } from '../db/orm';
import type { Logger } from '../logger';
import type { TemporalClientHandle } from '../temporal/client';
import { createScheduleGateway } from '../temporal/schedules';
import { createLogService } from './log.service';
import { createNextRunCache } from './next-run-cache';
import { createStatsService } from './stats.service';
import { createTaskService } from './task.service';

export type ServiceConfig = Pick<
  Config,
  'temporalTaskQueue' | 'scheduleCatchupWindowMs' | 'webhookAllowedOrigins'
>;

/** Wires the services the API routers call; shared by the API composition root and tests. */
export function createServices(deps: {
  config: ServiceConfig;
  orm: Orm;
  temporal: TemporalClientHandle;
  logger: Logger;
}) {
  const { config, orm, temporal, logger } = deps;
  const schedules = createScheduleGateway({
    client: temporal.client,
    settings: { taskQueue: config.temporalTaskQueue, catchupWindowMs: config.scheduleCatchupWindowMs },
  });
  const nextRuns = createNextRunCache({ schedules, logger });
  const tasks = createTaskService({
    orm,
    schedules,
    client: temporal.client,
    nextRuns,
    logger,
    settings: { taskQueue: config.temporalTaskQueue, allowedOrigins: config.webhookAllowedOrigins },
  });
  return { schedules, tasks, logs: createLogService({ orm }), stats: createStatsService({ orm }) };
}

export type Services = ReturnType<typeof createServices>;
