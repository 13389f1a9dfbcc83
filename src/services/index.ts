import { type Circuit, createCircuit } from '../circuit';
import type { Config } from '../config';
import { secretBoxOf } from '../crypto/stored-secrets';
import { retryOnDeadConnection } from '../db/dead-connections';
import { isDatabaseUnavailable, type Orm } from '../db/orm';
import { DATABASE_UNAVAILABLE, TEMPORAL_UNAVAILABLE, UpstreamUnavailableError } from '../errors';
import type { Logger } from '../logger';
import { isTemporalUnavailable, pingTemporal, type TemporalClientHandle } from '../temporal/client';
import {
  createScheduleGateway,
  type ScheduleGateway,
  scheduleSettings,
} from '../temporal/schedules';
import { createIdempotencyService } from './idempotency.service';
import { createLogService } from './log.service';
import { createStatsService } from './stats.service';
import { createTaskService } from './task.service';

export type ServiceConfig = Pick<
  Config,
  'temporalTaskQueue' | 'scheduleCatchupWindowMs' | 'webhookAllowedOrigins' | 'encryptionKeys'
> &
  Partial<Pick<Config, 'publicUrl'>>;

export interface DependencyCircuits {
  database: Circuit;
  temporal: Circuit;
}

/** One circuit per dependency (see circuit.ts), probing it with its cheapest call. */
export function createDependencyCircuits(deps: {
  orm: Orm;
  temporal: TemporalClientHandle;
  logger: Logger;
}): DependencyCircuits {
  return {
    database: createCircuit({
      name: 'database',
      probe: () => deps.orm.em.getConnection().execute('select 1'),
      isOutage: isDatabaseUnavailable,
      unavailable: () => new UpstreamUnavailableError(DATABASE_UNAVAILABLE),
      logger: deps.logger,
    }),
    temporal: createCircuit({
      name: 'temporal',
      probe: () => pingTemporal(deps.temporal.connection, 1_000),
      isOutage: isTemporalUnavailable,
      unavailable: () => new UpstreamUnavailableError(TEMPORAL_UNAVAILABLE),
      logger: deps.logger,
    }),
  };
}

/** Wires the services the API routers call; shared by the API composition root and tests. */
export function createServices(deps: {
  config: ServiceConfig;
  orm: Orm;
  temporal: TemporalClientHandle;
  logger: Logger;
}) {
  const { config, orm, temporal, logger } = deps;
  const circuits = createDependencyCircuits({ orm, temporal, logger });
  const settings = scheduleSettings(config);
  const schedules = guardSchedules(
    createScheduleGateway({ client: temporal.client, settings }),
    circuits.temporal,
  );
  const tasks = createTaskService({
    orm,
    schedules,
    client: temporal.client,
    circuits,
    logger,
    settings: { taskQueue: config.temporalTaskQueue, allowedOrigins: config.webhookAllowedOrigins },
    secrets: secretBoxOf(config),
  });
  return {
    schedules,
    tasks,
    logs: guardReads(createLogService({ orm }), circuits.database),
    stats: guardReads(createStatsService({ orm }), circuits.database),
    idempotency: createIdempotencyService({ orm, database: circuits.database }),
  };
}

export type Services = ReturnType<typeof createServices>;

/**
 * The schedule calls behind Temporal's circuit: they fail at once while Temporal is known down,
 * and a call under which Temporal dies fails within about a second, not at its 5 s deadline.
 */
function guardSchedules(gateway: ScheduleGateway, circuit: Circuit): ScheduleGateway {
  return {
    create: (task) => circuit.run(() => gateway.create(task)),
    update: (task, options) => circuit.run(() => gateway.update(task, options)),
    delete: (taskId) => circuit.run(() => gateway.delete(taskId)),
    describe: (taskId) => circuit.run(() => gateway.describe(taskId)),
    // Computed here, without a call to Temporal.
    manualRunMetadata: (task) => gateway.manualRunMetadata(task),
  };
}

/**
 * Every method of a read-only service (closures over its deps), behind the database's circuit;
 * a call that met a dead pooled connection is made once more (reads only: see dead-connections.ts).
 */
function guardReads<S extends object>(service: S, circuit: Circuit): S {
  return Object.fromEntries(
    Object.entries(service).map(([name, member]) => [
      name,
      typeof member === 'function'
        ? (...args: unknown[]) =>
            circuit.run((signal) =>
              retryOnDeadConnection(
                () => (member as (...a: unknown[]) => Promise<unknown>)(...args),
                signal,
              ),
            )
        : member,
    ]),
  ) as S;
}
