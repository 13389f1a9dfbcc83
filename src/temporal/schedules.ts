import {
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import type { TaskStatus } from '../db/entities';
import { toScheduleSpec } from '../schedule/cron';
import {
  scheduleIdForTask,
  SEND_WEBHOOK_WORKFLOW,
  type SendWebhookInput,
  type TaskMemo,
} from './contracts';

/** What a schedule is derived from: the task row's scheduling fields. */
export interface SchedulableTask {
  id: string;
  name: string;
  schedule: string;
  timezone: string;
  maxRetry: number;
  status: TaskStatus;
}

export interface ScheduleSettings {
  taskQueue: string;
  catchupWindowMs: number;
}

/**
 * The one mapping from a task row to its Temporal Schedule (SPEC §6): id `task-<taskId>`, action
 * `sendWebhook` with `{ taskId, maxRetry }` only (no URL, no payload: secrets stay out of
 * history), memo `{ taskName }`, overlap SKIP, the configured catch-up window, pause on failure,
 * paused exactly when the task is not ACTIVE.
 */
export function buildScheduleOptions(task: SchedulableTask, settings: ScheduleSettings): ScheduleOptions {
  const { scheduleId, ...update } = buildScheduleUpdate(task, settings);
  return { scheduleId, ...update, memo: memoFor(task) };
}

function buildScheduleUpdate(
  task: SchedulableTask,
  settings: ScheduleSettings,
): ScheduleUpdateOptions & { scheduleId: string } {
  const input: SendWebhookInput = { taskId: task.id, maxRetry: task.maxRetry };
  return {
    scheduleId: scheduleIdForTask(task.id),
    spec: toScheduleSpec(task.schedule, task.timezone),
    action: {
      type: 'startWorkflow',
      workflowType: SEND_WEBHOOK_WORKFLOW,
      // Temporal appends the scheduled time, so every run's id starts with task-<taskId>.
      workflowId: scheduleIdForTask(task.id),
      taskQueue: settings.taskQueue,
      args: [input],
      memo: memoFor(task),
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: settings.catchupWindowMs,
      pauseOnFailure: true,
    },
    state: {
      paused: task.status !== 'ACTIVE',
      note: noteFor(task.status),
    },
  };
}

function memoFor(task: SchedulableTask): TaskMemo & Record<string, unknown> {
  return { taskName: task.name };
}

function noteFor(status: TaskStatus): string {
  switch (status) {
    case 'ACTIVE':
      return 'active';
    case 'INACTIVE':
      return 'paused: task toggled off';
    case 'FAILED':
      return 'paused: the last delivery failed permanently; toggle the task to resume';
  }
}

/** Schedule operations, each bounded by a deadline so that an unreachable Temporal is a fast 503. */
export function createScheduleGateway(deps: {
  client: Client;
  settings: ScheduleSettings;
  deadlineMs?: number;
}) {
  const { client, settings } = deps;
  const deadlineMs = deps.deadlineMs ?? 5_000;
  const withDeadline = <T>(fn: () => Promise<T>) =>
    client.connection.withDeadline(Date.now() + deadlineMs, fn);
  const handle = (taskId: string) => client.schedule.getHandle(scheduleIdForTask(taskId));

  return {
    async create(task: SchedulableTask): Promise<void> {
      const options = buildScheduleOptions(task, settings);
      await withDeadline(() => client.schedule.create(options));
    },

    /** Replaces spec, action (argument, memo), policies and paused state with the row's. */
    async update(task: SchedulableTask): Promise<void> {
      const { scheduleId: _id, ...update } = buildScheduleUpdate(task, settings);
      await withDeadline(() => handle(task.id).update(() => update));
    },

    async delete(taskId: string): Promise<void> {
      await withDeadline(() => handle(taskId).delete());
    },

    async describe(taskId: string): Promise<ScheduleDescription> {
      return withDeadline(() => handle(taskId).describe());
    },
  };
}

export type ScheduleGateway = ReturnType<typeof createScheduleGateway>;

export type { ScheduleSpec };
