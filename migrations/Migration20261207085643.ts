import { Migration } from '@mikro-orm/migrations';

/**
 * Failure and recovery alerts (SPEC §14, issue 23): a task's own alert webhook (a secret like
 * `webhook_url`, masked in answers), and whether a failure alert went out without a success since,
 * so that the next success sends one "recovered" message.
 */
export class Migration20261207085643 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "tasks" add column "alert_webhook_url" text null, add column "failure_alerted" boolean not null default false;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "tasks" drop column "alert_webhook_url", drop column "failure_alerted";`,
    );
  }
}
