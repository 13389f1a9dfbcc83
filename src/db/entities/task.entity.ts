import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { MESSAGE_MODES, type MessageMode } from '../../discord/messages';

export const TASK_STATUSES = ['ACTIVE', 'INACTIVE', 'FAILED', 'COMPLETED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const EXECUTION_STATUSES = ['SUCCESS', 'FAILED', 'RETRYING'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** A Discord execute-webhook body, validated by the payload schema before it is stored. */
export type DiscordPayload = Record<string, unknown>;

export const Task = defineEntity({
  name: 'Task',
  tableName: 'tasks',
  // Written as PostgreSQL stores it (pg_get_constraintdef): it rewrites `between 0 and 10`, the
  // form the initial migration uses, into this. MikroORM compares check expressions as text, so
  // any other spelling reads as a change and makes migration:create drop and re-add the check.
  checks: [
    { name: 'tasks_max_retry_check', expression: '(max_retry >= 0) AND (max_retry <= 10)' },
    { name: 'tasks_max_runs_check', expression: '(max_runs >= 1)' },
    { name: 'tasks_runs_left_check', expression: '(runs_left >= 0)' },
  ],
  // A name search (`?search=`, `name ilike '%…%'`) reads this trigram index instead of every row
  // (pg_trgm; fragments of three characters or more). Its migration skips it, with a notice, on a
  // database where the extension cannot be created: search then scans, and still answers.
  indexes: [
    {
      name: 'tasks_name_trgm_index',
      expression: 'create index "tasks_name_trgm_index" on "tasks" using gin ("name" gin_trgm_ops)',
    },
  ],
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    name: p.string().length(100),
    schedule: p.text(),
    timezone: p.string().length(64).default('UTC'),
    /** Secret: holds the Discord webhook token. Masked in every response (SPEC §7). */
    webhookUrl: p.text().fieldName('webhook_url'),
    payload: p.json<DiscordPayload>().columnType('jsonb'),
    maxRetry: p.integer().fieldName('max_retry').default(3),
    /** post | edit | replace (SPEC §13). */
    messageMode: p
      .enum(() => MESSAGE_MODES)
      .$type<MessageMode>()
      .fieldName('message_mode')
      .default('post'),
    /** A duration (`10s`, `1h`, `7d`) after which each posted message is deleted, or null. */
    deleteAfter: p.string().length(16).fieldName('delete_after').nullable(),
    /** The Discord message the last successful run posted or edited (written by deliveries). */
    lastMessageId: p.string().length(20).fieldName('last_message_id').nullable(),
    /** Secret like webhookUrl: where this task's failure and recovery alerts go (SPEC §14). */
    alertWebhookUrl: p.text().fieldName('alert_webhook_url').nullable(),
    /** A failure alert was sent and no success came since: the next success sends "recovered". */
    failureAlerted: p.boolean().fieldName('failure_alerted').default(false),
    /** No scheduled run before this instant (SPEC §14), or null. */
    startAt: p.datetime().columnType('timestamptz').fieldName('start_at').nullable(),
    /** No scheduled run after this instant (SPEC §14), or null. */
    endAt: p.datetime().columnType('timestamptz').fieldName('end_at').nullable(),
    /** At most this many scheduled runs (manual ones do not count), or null for no limit. */
    maxRuns: p.integer().fieldName('max_runs').nullable(),
    /** Scheduled runs left of maxRuns (null without it); counted down by the runs themselves. */
    runsLeft: p.integer().fieldName('runs_left').nullable(),
    /** The scheduled time of the last run counted against maxRuns: a run is counted once. */
    runsCountedThrough: p
      .datetime()
      .columnType('timestamptz')
      .fieldName('runs_counted_through')
      .nullable(),
    status: p
      .enum(() => TASK_STATUSES)
      .$type<TaskStatus>()
      .default('ACTIVE')
      .index('tasks_status_index'),
    lastExecutionAt: p
      .datetime()
      .columnType('timestamptz')
      .fieldName('last_execution_at')
      .nullable(),
    lastExecutionStatus: p
      .enum(() => EXECUTION_STATUSES)
      .$type<ExecutionStatus>()
      .fieldName('last_execution_status')
      .nullable(),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .fieldName('created_at')
      .onCreate(() => new Date())
      .index('tasks_created_at_index'),
    updatedAt: p
      .datetime()
      .columnType('timestamptz')
      .fieldName('updated_at')
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export type ITask = InferEntity<typeof Task>;
