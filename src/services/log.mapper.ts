import type { ITaskLog } from '../db/entities';
import { isoTimestamp } from '../db/sql';

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

/** A task_logs row as LOG_COLUMNS selects it (times already ISO text). */
export interface LogRow {
  id: string;
  task_id: string;
  execution_time: string;
  status: ITaskLog['status'];
  retry_count: number;
  attempt: number;
  http_status: number | null;
  duration_ms: number | null;
  scheduled_time: string | null;
  workflow_id: string;
  run_id: string;
  message: string | null;
  created_at: string;
}

/** The select list for a LogRow from `task_logs` aliased as `alias`. */
export function logColumns(alias: string): string {
  const c = (column: string) => `${alias}.${column}`;
  return [
    c('id'),
    c('task_id'),
    `${isoTimestamp(c('execution_time'))} as execution_time`,
    c('status'),
    c('retry_count'),
    c('attempt'),
    c('http_status'),
    c('duration_ms'),
    `${isoTimestamp(c('scheduled_time'))} as scheduled_time`,
    c('workflow_id'),
    c('run_id'),
    c('message'),
    `${isoTimestamp(c('created_at'))} as created_at`,
  ].join(', ');
}

export function toLogResource(row: LogRow, taskName: string | null): LogResource {
  return {
    id: row.id,
    taskId: row.task_id,
    taskName,
    executionTime: row.execution_time,
    status: row.status,
    retryCount: row.retry_count,
    attempt: row.attempt,
    httpStatus: row.http_status,
    durationMs: row.duration_ms,
    scheduledTime: row.scheduled_time,
    workflowId: row.workflow_id,
    runId: row.run_id,
    message: row.message,
    createdAt: row.created_at,
  };
}
