import type { PostgreSqlConnection } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EntitySchema } from '@mikro-orm/core';
import type * as Entities from '../../src/db/entities';
import { createMigration } from '../../src/db/migration-create.cli';
import { MIGRATIONS_DIR } from '../../src/db/mikro-orm.config';
import type * as OrmModule from '../../src/db/orm';
import { ensureDatabase, initOrm, migrateUp, type Orm } from '../../src/db/orm';
import { migrationsList } from '../../migrations';
import { testEnv } from '../helpers/app';

describe('database migrations', () => {
  let orm: Orm;
  /** Rows this file writes bypass the API (and its validation): remove them for the next files. */
  const inserted: string[] = [];
  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 2 });
  });
  afterAll(async () => {
    if (inserted.length > 0)
      await sql(`delete from tasks where id in (${inserted.map(() => '?').join(',')})`, inserted);
    await orm.close();
  });

  const sql = <T extends object>(query: string, params: unknown[] = []) =>
    orm.em.getConnection().execute<T[]>(query, params);

  async function insertTask(overrides: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    inserted.push(id);
    const row = { max_retry: 3, ...overrides };
    await sql(
      `insert into tasks (id, name, schedule, webhook_url, payload, max_retry, created_at, updated_at)
       values (?, 'm', '* * * * *', 'https://discord.com/api/webhooks/1/t', '{"content":"x"}', ?, now(), now())`,
      [id, row.max_retry],
    );
    return id;
  }

  async function insertLog(taskId: string, workflowId: string, attempt: number): Promise<void> {
    await sql(
      `insert into task_logs (id, task_id, execution_time, status, retry_count, attempt, workflow_id, run_id, created_at)
       values (?, ?, now(), 'SUCCESS', ?, ?, ?, 'run', now())`,
      [randomUUID(), taskId, attempt - 1, attempt, workflowId],
    );
  }

  it('when the global setup migrated, then every migration is recorded and a second run applies nothing', async () => {
    const rows = await sql<{ name: string }>('select name from mikro_orm_migrations order by id');
    expect(rows.map((r) => r.name)).toEqual(migrationsList.map((m) => m.name));
    await expect(migrateUp(orm)).resolves.toEqual([]);
  });

  it('when the schema is inspected, then the SPEC §4 columns, defaults and indexes exist', async () => {
    const columns = await sql<{ table_name: string; column_name: string; is_nullable: string }>(
      `select table_name, column_name, is_nullable from information_schema.columns
       where table_name in ('tasks', 'task_logs') order by table_name, ordinal_position`,
    );
    const byTable = (table: string) =>
      columns.filter((c) => c.table_name === table).map((c) => c.column_name);
    expect(byTable('tasks')).toEqual([
      'id',
      'name',
      'schedule',
      'timezone',
      'webhook_url',
      'payload',
      'max_retry',
      'status',
      'last_execution_at',
      'last_execution_status',
      'created_at',
      'updated_at',
      'message_mode',
      'delete_after',
      'last_message_id',
      'alert_webhook_url',
      'failure_alerted',
      'start_at',
      'end_at',
      'max_runs',
      'runs_left',
      'runs_counted_through',
    ]);
    expect(byTable('task_logs')).toEqual([
      'id',
      'task_id',
      'execution_time',
      'status',
      'retry_count',
      'message',
      'attempt',
      'http_status',
      'duration_ms',
      'scheduled_time',
      'workflow_id',
      'run_id',
      'created_at',
      'message_id',
      'replaced_message_id',
    ]);
    const indexes = await sql<{ indexdef: string }>(
      `select indexdef from pg_indexes where tablename = 'task_logs'`,
    );
    const defs = indexes.map((i) => i.indexdef);
    expect(defs).toEqual(
      expect.arrayContaining([
        expect.stringContaining('(execution_time DESC, attempt DESC, id DESC)'),
        expect.stringContaining('(task_id, execution_time DESC, attempt DESC, id DESC)'),
        expect.stringContaining('(status, execution_time DESC, attempt DESC, id DESC)'),
        expect.stringMatching(/UNIQUE INDEX .* \(workflow_id, attempt\)/),
      ]),
    );
  });

  it('when a name search is planned, then it can read the trigram index instead of every task', async () => {
    const [index] = await sql<{ indexdef: string }>(
      `select indexdef from pg_indexes where indexname = 'tasks_name_trgm_index'`,
    );
    expect(index?.indexdef).toMatch(/USING gin \(name gin_trgm_ops\)/);
    // The test table is small, so a scan is cheaper: with scans off the planner shows whether the
    // index can serve the search's `ilike '%…%'` at all.
    const knex = (orm.em.getConnection() as PostgreSqlConnection).getKnex();
    const plan = await knex.transaction(async (trx) => {
      await trx.raw('set local enable_seqscan = off');
      const result = await trx.raw<{ rows: { 'QUERY PLAN': string }[] }>(
        `explain select id from tasks t where t.name ilike '%fleet-1999%'`,
      );
      return result.rows;
    });
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toContain('tasks_name_trgm_index');
  });

  it('when a task is inserted with defaults, then timezone UTC, max_retry 3 and status ACTIVE', async () => {
    const id = randomUUID();
    inserted.push(id);
    await sql(
      `insert into tasks (id, name, schedule, webhook_url, payload, created_at, updated_at)
       values (?, 'd', '@daily', 'https://discord.com/api/webhooks/1/t', '{}', now(), now())`,
      [id],
    );
    const [row] = await sql<{ timezone: string; max_retry: number; status: string }>(
      'select timezone, max_retry, status from tasks where id = ?',
      [id],
    );
    expect(row).toEqual({ timezone: 'UTC', max_retry: 3, status: 'ACTIVE' });
  });

  it('when a second log for the same workflow attempt is written, then the unique key rejects it', async () => {
    const taskId = await insertTask();
    await insertLog(taskId, `task-${taskId}-wf`, 1);
    await insertLog(taskId, `task-${taskId}-wf`, 2);
    await expect(insertLog(taskId, `task-${taskId}-wf`, 1)).rejects.toThrow(/unique/i);
  });

  it('when a task is deleted, then its logs go with it', async () => {
    const taskId = await insertTask();
    await insertLog(taskId, `task-${taskId}-a`, 1);
    await sql('delete from tasks where id = ?', [taskId]);
    const [{ count }] = (await sql<{ count: string }>(
      'select count(*) from task_logs where task_id = ?',
      [taskId],
    )) as [{ count: string }];
    expect(Number(count)).toBe(0);
  });

  it('when max_retry or a status is out of range, then the database refuses it', async () => {
    await expect(insertTask({ max_retry: 11 })).rejects.toThrow(/tasks_max_retry_check/);
    const id = await insertTask();
    await expect(sql(`update tasks set status = 'PAUSED' where id = ?`, [id])).rejects.toThrow(
      /check/i,
    );
    // SPEC §14: COMPLETED is a status; maxRuns at least 1, runs left never below 0.
    await sql(`update tasks set status = 'COMPLETED' where id = ?`, [id]);
    await expect(sql(`update tasks set max_runs = 0 where id = ?`, [id])).rejects.toThrow(
      /tasks_max_runs_check/,
    );
    await expect(sql(`update tasks set runs_left = -1 where id = ?`, [id])).rejects.toThrow(
      /tasks_runs_left_check/,
    );
  });

  describe('migration:create', () => {
    /** A copy of migrations/ per test: migration:create writes there, never in the repository. */
    let dir: string;
    let creator: Orm | undefined;
    const repositoryBefore = readFolder(MIGRATIONS_DIR);
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dts-migrations-'));
      fs.cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    });
    afterEach(async () => {
      await creator?.close();
      creator = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
      expect(readFolder(MIGRATIONS_DIR)).toEqual(repositoryBefore);
    });

    /** The ORM migration:create uses (snapshot on), on the test database, migrated to the latest. */
    async function initCreator(init = initOrm): Promise<Orm> {
      creator = await init({
        databaseUrl: testEnv().databaseUrl,
        poolMax: 1,
        snapshot: true,
        migrationsDir: dir,
      });
      return creator;
    }

    it('when the entities are unchanged, then migration:create finds no changes and writes nothing', async () => {
      const before = readFolder(dir);
      await expect(createMigration(await initCreator())).resolves.toBeUndefined();
      expect(readFolder(dir)).toEqual(before);
    });

    it('when there is no snapshot, then migration:create diffs against the migrated database and finds no changes either', async () => {
      // The database's own form of every constraint (e.g. the max_retry check) must match the
      // entities, not just the snapshot that migration:create wrote from them.
      fs.rmSync(path.join(dir, '.snapshot.json'));
      const before = readFolder(dir);
      await expect(createMigration(await initCreator())).resolves.toBeUndefined();
      expect(readFolder(dir)).toEqual(before);
    });

    it('when a fresh database is migrated, then no snapshot is written', async () => {
      // MikroORM 6 rewrites the snapshot from database introspection after applying migrations,
      // in another shape and order: a test run or a new DATA_DIR would dirty migrations/.
      fs.rmSync(path.join(dir, '.snapshot.json'));
      const before = readFolder(dir);
      const url = new URL(testEnv().databaseUrl);
      const database = `migrations_fresh_${randomUUID().slice(0, 8)}`;
      url.pathname = `/${database}`;
      await ensureDatabase(url.toString());
      const fresh = await initOrm({ databaseUrl: url.toString(), poolMax: 2, migrationsDir: dir });
      try {
        await expect(migrateUp(fresh)).resolves.toEqual(migrationsList.map((m) => m.name));
      } finally {
        await fresh.close();
        await sql(`drop database if exists "${database}"`);
      }
      expect(readFolder(dir)).toEqual(before);
    });

    it('when the tests have migrated, then the committed snapshot is still the one migration:create writes from the entities', async () => {
      const committed = JSON.parse(
        fs.readFileSync(path.join(MIGRATIONS_DIR, '.snapshot.json'), 'utf8'),
      );
      const target = (await initCreator()).getSchemaGenerator().getTargetSchema();
      expect(committed).toEqual(JSON.parse(JSON.stringify(target)));
    });

    it('when an entity gains a column, then migration:create writes a migration that adds it, the snapshot and the index', async () => {
      // Fresh copies of the entity and ORM modules, so the extra column stays in this test.
      let init!: typeof initOrm;
      jest.isolateModules(() => {
        const { Task } = jest.requireActual<typeof Entities>('../../src/db/entities');
        (Task as EntitySchema).addProperty('note', 'text', { nullable: true });
        init = jest.requireActual<typeof OrmModule>('../../src/db/orm').initOrm;
      });
      const fileName = await createMigration(await initCreator(init));

      expect(fileName).toMatch(/^Migration\d{14}\.ts$/);
      const migration = fs.readFileSync(path.join(dir, fileName!), 'utf8');
      expect(migration).toContain('alter table "tasks" add column "note" text null;');
      expect(migration).toContain('alter table "tasks" drop column "note";');
      const snapshot = JSON.parse(fs.readFileSync(path.join(dir, '.snapshot.json'), 'utf8'));
      const tasks = snapshot.tables.find((t: { name: string }) => t.name === 'tasks');
      expect(tasks.columns.note).toMatchObject({ type: 'text', nullable: true });
      expect(fs.readFileSync(path.join(dir, 'index.ts'), 'utf8')).toContain(
        `{ name: '${path.basename(fileName!, '.ts')}', class: ${path.basename(fileName!, '.ts')} }`,
      );
      // The new snapshot is the baseline: asked again, migration:create finds nothing more.
      await expect(createMigration(creator!)).resolves.toBeUndefined();
    });
  });
});

/** File name -> contents of a folder (migration:create writes only at its top level). */
function readFolder(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((name) => [name, fs.readFileSync(path.join(dir, name), 'utf8')]),
  );
}
