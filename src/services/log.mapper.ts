import type { ITaskLog } from '../db/entities';

export interface LogResource {
  id: string;
  taskId: string;
  taskName: string | null;
  executionTime: string;
  status: ITaskLog['status'];
  retryCount: number;
  attempt: number;
  httpStatus: number | null;
  durationMs: number | null;
  scheduledTime: string | null;
  workflowId: string;
  runId: string;
  message: string | null;
  createdAt: string;
}

export function toLogResource(log: ITaskLog, taskName: string | null): LogResource {
  return {
    id: log.id,
    taskId: typeof log.task === 'string' ? log.task : log.task.id,
    taskName,
    executionTime: log.executionTime.toISOString(),
    status: log.status,
    retryCount: log.retryCount,
    attempt: log.attempt,
    httpStatus: log.httpStatus ?? null,
    durationMs: log.durationMs ?? null,
    scheduledTime: log.scheduledTime ? log.scheduledTime.toISOString() : null,
    workflowId: log.workflowId,
    runId: log.runId,
    message: log.message ?? null,
    createdAt: log.createdAt.toISOString(),
  };
}
