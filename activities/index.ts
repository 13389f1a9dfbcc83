import type { Client } from '@temporalio/client';
import type { Orm } from '../src/db/orm';
import type { DeliveryMetrics } from '../src/metrics';
import { createDiscordActivities, type DiscordActivityDeps } from './discord.activities';
import { createRetentionActivities } from './retention.activities';

export interface ActivityDeps {
  orm: Orm;
  config: DiscordActivityDeps['config'];
  temporal?: Pick<Client, 'schedule'>;
  /** Opens the webhook URLs sealed at rest (SPEC §15). */
  secrets: DiscordActivityDeps['secrets'];
  metrics?: DeliveryMetrics;
  /** Discord's buckets, shared by the worker's activities (and its pool, through Redis). */
  pacer?: DiscordActivityDeps['pacer'];
  /** Where alerts link to (PUBLIC_URL, the Temporal Web UI). */
  links?: DiscordActivityDeps['links'];
}

/** The worker's activities, built from their dependencies (no module-level state). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiscordActivities(deps),
    ...createRetentionActivities({ orm: deps.orm, metrics: deps.metrics?.logPrune }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
