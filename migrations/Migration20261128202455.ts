import { Migration } from '@mikro-orm/migrations';

/** Initial schema: tasks and their per-attempt delivery logs (SPEC §4). */
export class Migration20261128202455 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "tasks" ("id" uuid not null, "name" varchar(100) not null, "schedule" text not null, "timezone" varchar(64) not null default 'UTC', "webhook_url" text not null, "payload" jsonb not null, "max_retry" int not null default 3, "status" text check ("status" in ('ACTIVE', 'INACTIVE', 'FAILED')) not null default 'ACTIVE', "last_execution_at" timestamptz null, "last_execution_status" text check ("last_execution_status" in ('SUCCESS', 'FAILED', 'RETRYING')) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "tasks_pkey" primary key ("id"), constraint tasks_max_retry_check check (max_retry between 0 and 10));`,
    );
    this.addSql(`create index "tasks_status_index" on "tasks" ("status");`);
    this.addSql(`create index "tasks_created_at_index" on "tasks" ("created_at");`);

    this.addSql(
      `create table "task_logs" ("id" uuid not null, "task_id" uuid not null, "execution_time" timestamptz not null, "status" text check ("status" in ('SUCCESS', 'FAILED', 'RETRYING')) not null, "retry_count" int not null default 0, "message" text null, "attempt" int not null default 1, "http_status" int null, "duration_ms" int null, "scheduled_time" timestamptz null, "workflow_id" varchar(255) not null, "run_id" varchar(255) not null, "created_at" timestamptz not null, constraint "task_logs_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "task_logs_task_id_execution_time_index" on "task_logs" ("task_id", "execution_time" desc);`,
    );
    this.addSql(
      `create index "task_logs_status_execution_time_index" on "task_logs" ("status", "execution_time" desc);`,
    );
    this.addSql(
      `create index "task_logs_execution_time_index" on "task_logs" ("execution_time" desc);`,
    );
    this.addSql(
      `alter table "task_logs" add constraint "task_logs_workflow_id_attempt_unique" unique ("workflow_id", "attempt");`,
    );

    this.addSql(
      `alter table "task_logs" add constraint "task_logs_task_id_foreign" foreign key ("task_id") references "tasks" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "task_logs" cascade;`);
    this.addSql(`drop table if exists "tasks" cascade;`);
  }
}
