import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { NotFoundError } from '../api/errors';
import { type ExecutionStatus, type ITaskLog, Task, TaskLog } from '../db/entities';
import type { Orm } from '../db/orm';
import { type LogResource, toLogResource } from './log.mapper';
import { type Page, pageMeta } from './task.service';

export interface LogQuery {
  page: number;
  limit: number;
  status?: ExecutionStatus;
  /** Inclusive lower bound on the execution time. */
  from?: Date;
  /** Inclusive upper bound on the execution time (the contract says "at or before"). */
  to?: Date;
}

/**
 * Newest first. `execution_time desc` is served by the (…, execution_time desc) indexes; attempt
 * and id only break ties, so that pages neither repeat nor skip rows with equal times.
 */
const NEWEST_FIRST = { executionTime: 'desc', attempt: 'desc', id: 'desc' } as const;

/** The log columns plus the task's name, read with one left join (no query per row). */
const LOG_FIELDS = [
  'id',
  'executionTime',
  'status',
  'retryCount',
  'message',
  'attempt',
  'httpStatus',
  'durationMs',
  'scheduledTime',
  'workflowId',
  'runId',
  'createdAt',
  'task.name',
] as const;

/** Execution logs, read side: one query for the page (logs joined to their task) and one count. */
export function createLogService(deps: { orm: Orm }) {
  const { orm } = deps;

  async function findPage(
    em: EntityManager,
    query: LogQuery & { taskId?: string },
  ): Promise<Page<LogResource>> {
    const where: FilterQuery<ITaskLog> = {};
    if (query.taskId !== undefined) where.task = query.taskId;
    if (query.status !== undefined) where.status = query.status;
    if (query.from !== undefined || query.to !== undefined) {
      where.executionTime = {
        ...(query.from !== undefined ? { $gte: query.from } : {}),
        ...(query.to !== undefined ? { $lte: query.to } : {}),
      };
    }
    // Not findAndCount: its count would carry the join to tasks, which the count does not need.
    const [logs, total] = await Promise.all([
      em.find(TaskLog, where, {
        fields: LOG_FIELDS,
        populate: ['task'],
        strategy: 'joined',
        orderBy: NEWEST_FIRST,
        limit: query.limit,
        offset: (query.page - 1) * query.limit,
      }),
      em.count(TaskLog, where),
    ]);
    return {
      // The cast only widens the partially loaded task (id and name) that the mapper reads.
      data: logs.map((log) => toLogResource(log as ITaskLog, log.task.name)),
      meta: pageMeta(query, total),
    };
  }

  return {
    /** A task's logs; 404 when the task does not exist. */
    async listForTask(taskId: string, query: LogQuery): Promise<Page<LogResource>> {
      const em = orm.em.fork();
      const page = await findPage(em, { ...query, taskId });
      // A matching log proves the task exists (foreign key); only an empty result needs a look.
      if (page.meta.total === 0 && (await em.count(Task, { id: taskId })) === 0) {
        throw new NotFoundError(`Task ${taskId} does not exist.`);
      }
      return page;
    },

    /** All logs, optionally of one task (an unknown task id gives an empty page). */
    async list(query: LogQuery & { taskId?: string }): Promise<Page<LogResource>> {
      return findPage(orm.em.fork(), query);
    },
  };
}

export type LogService = ReturnType<typeof createLogService>;
