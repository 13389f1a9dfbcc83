import { Migration } from '@mikro-orm/migrations';

/**
 * A trigram index on the task's name (issue 25): `?search=` is `name ilike '%…%'`, which no
 * b-tree serves, so at 100,000 tasks every search read every row. pg_trgm ships with PostgreSQL
 * (contrib) and is a trusted extension: a role with CREATE on the database may add it. Where it
 * cannot be added, the migration says so in a notice and goes on without the index: the search
 * still answers, by scanning.
 */
export class Migration20261207143956 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`do $$
begin
  create extension if not exists pg_trgm;
exception when others then
  raise notice 'pg_trgm cannot be added (%): a name search scans the tasks table', sqlerrm;
end $$;`);
    this.addSql(`do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_trgm') then
    create index if not exists "tasks_name_trgm_index" on "tasks" using gin ("name" gin_trgm_ops);
  end if;
end $$;`);
  }

  override async down(): Promise<void> {
    // The extension stays: something else in the database may use it.
    this.addSql(`drop index if exists "tasks_name_trgm_index";`);
  }
}
