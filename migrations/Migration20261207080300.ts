import { Migration } from '@mikro-orm/migrations';

/**
 * Discord messages, not only posts (SPEC §13, issue 22): what a run does with its message
 * (`message_mode`), when each posted message is deleted (`delete_after`, a duration), and the last
 * message a run posted or edited (`last_message_id`), which `edit` edits and `replace` deletes.
 * Existing tasks keep posting (the default) and keep their messages. A SUCCESS row keeps its
 * message and the one it replaced, so that a run whose completion was lost (a crash right after
 * the post) still starts its deletes. Nullable columns without a default: no table rewrite, even
 * with millions of log rows.
 */
export class Migration20261207080300 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "tasks" add column "message_mode" text check ("message_mode" in ('post', 'edit', 'replace')) not null default 'post', add column "delete_after" varchar(16) null, add column "last_message_id" varchar(20) null;`,
    );

    this.addSql(
      `alter table "task_logs" add column "message_id" varchar(20) null, add column "replaced_message_id" varchar(20) null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "tasks" drop column "message_mode", drop column "delete_after", drop column "last_message_id";`,
    );

    this.addSql(
      `alter table "task_logs" drop column "message_id", drop column "replaced_message_id";`,
    );
  }
}
