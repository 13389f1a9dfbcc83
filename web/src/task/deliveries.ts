import type { TaskLog } from '../api/client';

export interface Execution {
  workflowId: string;
  runId: string;
  scheduledTime: string | null;
  /** Attempts, first first. */
  attempts: TaskLog[];
  /** The outcome so far: the latest attempt's status. */
  outcome: TaskLog['status'];
  lastAt: string;
}

/** Log rows (newest first) grouped by execution (workflow id), newest execution first. */
export function groupByExecution(logs: TaskLog[]): Execution[] {
  const byWorkflow = new Map<string, TaskLog[]>();
  for (const log of logs) {
    const list = byWorkflow.get(log.workflowId) ?? [];
    list.push(log);
    byWorkflow.set(log.workflowId, list);
  }
  return [...byWorkflow.entries()].map(([workflowId, rows]) => {
    const attempts = [...rows].sort((a, b) => a.attempt - b.attempt);
    const last = attempts[attempts.length - 1]!;
    return {
      workflowId,
      runId: last.runId,
      scheduledTime: last.scheduledTime,
      attempts,
      outcome: last.status,
      lastAt: last.executionTime,
    };
  });
}

/** The Temporal Web UI page of one workflow execution. */
export function temporalUrl(base: string, namespace: string, e: Execution): string {
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(
    e.workflowId,
  )}/${encodeURIComponent(e.runId)}/history`;
}

/**
 * The Temporal Web UI's workflow list filtered by the task's `TaskId` search attribute (SPEC
 * §15): every run of it, those made before a rename too (the `TaskName` of a run is the name it
 * started with).
 */
export function temporalTaskRunsUrl(base: string, namespace: string, taskId: string): string {
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(
    `TaskId = "${taskId}"`,
  )}`;
}
