import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency-Key (SPEC §14, issue 23): what the first request with a key answered, per API key,
 * so that a repeat answers the same and creates or delivers nothing more. `request_hash` is a
 * SHA-256 of the method, route and body (never the body itself, which holds a webhook token);
 * `response` is the answer's body, which is masked like every answer. A row without `status` is a
 * request still in progress. Kept 24 hours, pruned with the logs. A table outside the entities:
 * only raw SQL (src/services/idempotency.service.ts) reads and writes it.
 */
export class Migration20261207082858 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "idempotency_keys" ("api_key_id" text not null, "key" text not null, "request_hash" text not null, "status" smallint null, "response" jsonb null, "created_at" timestamptz not null default now(), constraint "idempotency_keys_pkey" primary key ("api_key_id", "key"));`,
    );
    this.addSql(
      `create index "idempotency_keys_created_at_index" on "idempotency_keys" ("created_at");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "idempotency_keys";`);
  }
}
