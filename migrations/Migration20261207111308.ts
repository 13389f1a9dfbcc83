import { Migration } from '@mikro-orm/migrations';

/**
 * One-off and bounded schedules (SPEC §14, issue 23): `start_at`, `end_at`, `max_runs` with the
 * scheduled runs left of it (and the scheduled time of the last one counted, so a run is counted
 * once), and the status COMPLETED for a task with no run ahead.
 */
export class Migration20261207111308 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "tasks" drop constraint if exists "tasks_status_check";`);

    this.addSql(
      `alter table "tasks" add column "start_at" timestamptz null, add column "end_at" timestamptz null, add column "max_runs" int null, add column "runs_left" int null, add column "runs_counted_through" timestamptz null;`,
    );
    this.addSql(
      `alter table "tasks" add constraint "tasks_status_check" check("status" in ('ACTIVE', 'INACTIVE', 'FAILED', 'COMPLETED'));`,
    );
    this.addSql(`alter table "tasks" add constraint tasks_max_runs_check check((max_runs >= 1));`);
    this.addSql(
      `alter table "tasks" add constraint tasks_runs_left_check check((runs_left >= 0));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "tasks" drop constraint if exists "tasks_status_check";`);
    // Nothing is left to run for a completed task: paused is the nearest older status.
    this.addSql(`update "tasks" set "status" = 'INACTIVE' where "status" = 'COMPLETED';`);

    this.addSql(`alter table "tasks" drop constraint tasks_max_runs_check;`);
    this.addSql(`alter table "tasks" drop constraint tasks_runs_left_check;`);
    this.addSql(
      `alter table "tasks" drop column "start_at", drop column "end_at", drop column "max_runs", drop column "runs_left", drop column "runs_counted_through";`,
    );

    this.addSql(
      `alter table "tasks" add constraint "tasks_status_check" check("status" in ('ACTIVE', 'INACTIVE', 'FAILED'));`,
    );
  }
}
