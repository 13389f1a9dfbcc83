import type { Client } from '@temporalio/client';
import type { Config } from '../src/config';
import type { Orm } from '../src/db/orm';
import type { DeliveryMetrics } from '../src/metrics';
import { createDiscordActivities } from './discord.activities';
import { createRetentionActivities } from './retention.activities';

export interface ActivityDeps {
  orm: Orm;
  config: Pick<Config, 'webhookTimeoutMs' | 'webhookAllowedOrigins' | 'retry'>;
  temporal?: Pick<Client, 'schedule'>;
  metrics?: DeliveryMetrics;
}

/** The worker's activities, built from their dependencies (no module-level state). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiscordActivities(deps),
    ...createRetentionActivities({ orm: deps.orm, metrics: deps.metrics?.logPrune }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
