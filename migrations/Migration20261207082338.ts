import { Migration } from '@mikro-orm/migrations';

/**
 * The dashboard agrees with the lists (SPEC §12, issue 23): the attempt counters now count the
 * rows that exist. A statement-level trigger subtracts deleted rows in the deleting transaction,
 * whether a prune deleted them or a task's deletion cascaded to them (PostgreSQL runs the cascade
 * as a statement on task_logs, which fires it). The counters, which counted attempts ever made,
 * are recounted from the rows, with writers of task_logs held off meanwhile (a share lock: reads go
 * on; at ten million rows the recount takes seconds, once).
 */
export class Migration20261207082338 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "log_counts_remove"() returns trigger language plpgsql as $$
begin
  insert into log_counts_hourly as c (hour, status, shard, attempts)
    select date_trunc('hour', execution_time, 'UTC'), status, pg_backend_pid() % 8, -count(*)
    from old_rows group by 1, 2 order by 1, 2
    on conflict (hour, status, shard) do update set attempts = c.attempts + excluded.attempts;
  insert into log_counts_total as c (status, shard, attempts)
    select status, pg_backend_pid() % 8, -count(*) from old_rows group by 1 order by 1
    on conflict (status, shard) do update set attempts = c.attempts + excluded.attempts;
  return null;
end $$;`);
    this.addSql(`lock table "task_logs" in share mode;`);
    this.addSql(
      `create trigger "task_logs_count_delete" after delete on "task_logs" referencing old table as old_rows for each statement execute function "log_counts_remove"();`,
    );
    this.addSql(`delete from "log_counts_hourly";`);
    this.addSql(`delete from "log_counts_total";`);
    this.addSql(
      `insert into "log_counts_hourly" ("hour", "status", "shard", "attempts") select date_trunc('hour', "execution_time", 'UTC'), "status", 0, count(*) from "task_logs" group by 1, 2;`,
    );
    this.addSql(
      `insert into "log_counts_total" ("status", "shard", "attempts") select "status", 0, count(*) from "task_logs" group by 1;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "task_logs_count_delete" on "task_logs";`);
    this.addSql(`drop function if exists "log_counts_remove"();`);
  }
}
