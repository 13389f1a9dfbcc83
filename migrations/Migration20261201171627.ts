import { Migration } from '@mikro-orm/migrations';

/**
 * Logs at scale (SPEC §12, issue 14): newest-first indexes that carry the keyset cursor's tie
 * breakers, and attempt counters kept by triggers as rows are written, so that stats and the
 * hourly chart never scan task_logs.
 *
 * The counters are "attempts ever made": a prune or a task's deletion removes log rows but not
 * their counts (docs/decisions.md, "Attempt counters"). Each row is split over SHARDS rows picked
 * by the writing connection's backend pid, so that concurrent deliveries do not queue on one
 * counter row's lock until their commits; readers sum the shards. Tables outside the entities:
 * only these triggers write them and only raw SQL reads them.
 */
export class Migration20261201171627 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "log_counts_hourly" ("hour" timestamptz not null, "status" text not null, "shard" smallint not null, "attempts" bigint not null, constraint "log_counts_hourly_pkey" primary key ("hour", "status", "shard"));`,
    );
    this.addSql(
      `create table "log_counts_total" ("status" text not null, "shard" smallint not null, "attempts" bigint not null, constraint "log_counts_total_pkey" primary key ("status", "shard"));`,
    );
    // Statement-level with transition tables: a bulk insert costs one upsert per (hour, status),
    // a delivery's single-row insert one per counter. Sorted, so two bulk writers cannot deadlock.
    this.addSql(`create function "log_counts_add"() returns trigger language plpgsql as $$
begin
  insert into log_counts_hourly as c (hour, status, shard, attempts)
    select date_trunc('hour', execution_time, 'UTC'), status, pg_backend_pid() % 8, count(*)
    from new_rows group by 1, 2 order by 1, 2
    on conflict (hour, status, shard) do update set attempts = c.attempts + excluded.attempts;
  insert into log_counts_total as c (status, shard, attempts)
    select status, pg_backend_pid() % 8, count(*) from new_rows group by 1 order by 1
    on conflict (status, shard) do update set attempts = c.attempts + excluded.attempts;
  return null;
end $$;`);
    // Rows are never updated by the product; a manual fix of a status or time moves its count.
    this.addSql(`create function "log_counts_move"() returns trigger language plpgsql as $$
begin
  insert into log_counts_hourly as c (hour, status, shard, attempts)
    select hour, status, pg_backend_pid() % 8, sum(n) from (
      select date_trunc('hour', execution_time, 'UTC') as hour, status, -1 as n from old_rows
      union all
      select date_trunc('hour', execution_time, 'UTC'), status, 1 from new_rows
    ) moved group by 1, 2 having sum(n) <> 0 order by 1, 2
    on conflict (hour, status, shard) do update set attempts = c.attempts + excluded.attempts;
  insert into log_counts_total as c (status, shard, attempts)
    select status, pg_backend_pid() % 8, sum(n) from (
      select status, -1 as n from old_rows union all select status, 1 from new_rows
    ) moved group by 1 having sum(n) <> 0 order by 1
    on conflict (status, shard) do update set attempts = c.attempts + excluded.attempts;
  return null;
end $$;`);
    this.addSql(
      `create trigger "task_logs_count_insert" after insert on "task_logs" referencing new table as new_rows for each statement execute function "log_counts_add"();`,
    );
    this.addSql(
      `create trigger "task_logs_count_update" after update on "task_logs" referencing old table as old_rows new table as new_rows for each statement execute function "log_counts_move"();`,
    );
    // The rows written so far; the trigger's lock keeps writers out until this commits.
    this.addSql(
      `insert into "log_counts_hourly" ("hour", "status", "shard", "attempts") select date_trunc('hour', "execution_time", 'UTC'), "status", 0, count(*) from "task_logs" group by 1, 2;`,
    );
    this.addSql(
      `insert into "log_counts_total" ("status", "shard", "attempts") select "status", 0, count(*) from "task_logs" group by 1;`,
    );

    this.addSql(`drop index "task_logs_task_id_execution_time_index";`);
    this.addSql(`drop index "task_logs_status_execution_time_index";`);
    this.addSql(`drop index "task_logs_execution_time_index";`);

    this.addSql(
      `create index "task_logs_newest_first_index" on "task_logs" ("execution_time" desc, "attempt" desc, "id" desc);`,
    );
    this.addSql(
      `create index "task_logs_task_newest_first_index" on "task_logs" ("task_id", "execution_time" desc, "attempt" desc, "id" desc);`,
    );
    this.addSql(
      `create index "task_logs_status_newest_first_index" on "task_logs" ("status", "execution_time" desc, "attempt" desc, "id" desc);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "task_logs_count_insert" on "task_logs";`);
    this.addSql(`drop trigger if exists "task_logs_count_update" on "task_logs";`);
    this.addSql(`drop function if exists "log_counts_add"();`);
    this.addSql(`drop function if exists "log_counts_move"();`);
    this.addSql(`drop table if exists "log_counts_hourly";`);
    this.addSql(`drop table if exists "log_counts_total";`);

    this.addSql(`drop index "task_logs_newest_first_index";`);
    this.addSql(`drop index "task_logs_task_newest_first_index";`);
    this.addSql(`drop index "task_logs_status_newest_first_index";`);

    this.addSql(
      `create index "task_logs_task_id_execution_time_index" on "task_logs" ("task_id", "execution_time" desc);`,
    );
    this.addSql(
      `create index "task_logs_status_execution_time_index" on "task_logs" ("status", "execution_time" desc);`,
    );
    this.addSql(
      `create index "task_logs_execution_time_index" on "task_logs" ("execution_time" desc);`,
    );
  }
}
