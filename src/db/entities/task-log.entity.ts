import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { EXECUTION_STATUSES, type ExecutionStatus, Task } from './task.entity';

/** One row per delivery attempt; (workflow_id, attempt) is unique so a re-run never writes twice. */
export const TaskLog = defineEntity({
  name: 'TaskLog',
  tableName: 'task_logs',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    task: () => p.manyToOne(Task).fieldName('task_id').deleteRule('cascade'),
    executionTime: p.datetime().columnType('timestamptz').fieldName('execution_time'),
    status: p.enum(() => EXECUTION_STATUSES).$type<ExecutionStatus>(),
    retryCount: p.integer().fieldName('retry_count').default(0),
    message: p.text().nullable(),
    attempt: p.integer().default(1),
    httpStatus: p.integer().fieldName('http_status').nullable(),
    durationMs: p.integer().fieldName('duration_ms').nullable(),
    scheduledTime: p.datetime().columnType('timestamptz').fieldName('scheduled_time').nullable(),
    workflowId: p.string().length(255).fieldName('workflow_id'),
    runId: p.string().length(255).fieldName('run_id'),
    /**
     * A SUCCESS's Discord message, and the one it replaced (`replace`): what a run whose
     * completion was lost (a crash right after the post) still has to delete (SPEC §13).
     */
    messageId: p.string().length(20).fieldName('message_id').nullable(),
    replacedMessageId: p.string().length(20).fieldName('replaced_message_id').nullable(),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .fieldName('created_at')
      .onCreate(() => new Date()),
  },
  uniques: [
    { name: 'task_logs_workflow_id_attempt_unique', properties: ['workflowId', 'attempt'] },
  ],
  // Newest first is (execution_time desc, attempt desc, id desc), overall, per task and per
  // status: each list order and its keyset cursor is one index range scan, however deep.
  indexes: [
    {
      name: 'task_logs_newest_first_index',
      expression:
        'create index "task_logs_newest_first_index" on "task_logs" ("execution_time" desc, "attempt" desc, "id" desc)',
    },
    {
      name: 'task_logs_task_newest_first_index',
      expression:
        'create index "task_logs_task_newest_first_index" on "task_logs" ("task_id", "execution_time" desc, "attempt" desc, "id" desc)',
    },
    {
      name: 'task_logs_status_newest_first_index',
      expression:
        'create index "task_logs_status_newest_first_index" on "task_logs" ("status", "execution_time" desc, "attempt" desc, "id" desc)',
    },
  ],
});

export type ITaskLog = InferEntity<typeof TaskLog>;
