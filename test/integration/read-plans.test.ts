import { createPageTotals, createQueryRows, type QueryRows, readPage } from '../../src/db/sql';
import { initOrm, type Orm } from '../../src/db/orm';
import { testEnv } from '../helpers/app';

/**
 * The read routes' prepared statements are planned once per connection, not on every request
 * (src/db/sql.ts, createQueryRows); a name search and a total's estimate are planned for their
 * values. One pooled connection, so that every query below runs in the same session and
 * pg_prepared_statements shows what PostgreSQL did with each statement.
 */
describe('read query plans on real PostgreSQL', () => {
  let orm: Orm;
  let rowsOf: QueryRows;

  beforeAll(async () => {
    orm = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 1 });
    rowsOf = createQueryRows(orm);
  });
  afterAll(() => orm.close());

  /** How PostgreSQL has planned the session's prepared statement of `text` (`$n` placeholders). */
  async function plansOf(text: string) {
    const rows = await rowsOf<{ generic_plans: string; custom_plans: string }>(
      'select generic_plans, custom_plans from pg_prepared_statements where statement = ?',
      [text],
      { customPlan: true },
    );
    return rows.map((r) => ({ generic: Number(r.generic_plans), custom: Number(r.custom_plans) }));
  }

  it('when a read runs again and again, then PostgreSQL reuses one generic plan for it', async () => {
    const page = `select id from tasks where status = ? order by created_at desc limit ? offset ?`;
    for (let i = 0; i < 7; i++) await rowsOf(page, ['ACTIVE', 20, 0]);
    const [mode] = await rowsOf<{ mode: string }>('select current_setting(?) as mode', [
      'plan_cache_mode',
    ]);
    expect(mode?.mode).toBe('force_generic_plan');
    // By default the first five would be custom plans and later ones, for `limit`, custom too.
    expect(
      await plansOf(
        'select id from tasks where status = $1 order by created_at desc limit $2 offset $3',
      ),
    ).toEqual([{ generic: 7, custom: 0 }]);
  });

  it('when a page is read with customPlan, then none of its queries keeps a generic plan', async () => {
    const totals = createPageTotals('tasks', 't');
    const page = (customPlan: boolean) =>
      readPage(rowsOf, {
        columns: 't.id',
        from: 'tasks t',
        totals,
        filter: { sql: 'where t.status = ?', params: [customPlan ? 'FAILED' : 'COMPLETED'] },
        orderBy: 't.created_at desc, t.id desc',
        page: 1,
        limit: 20,
        customPlan,
      });
    const before = await rowsOf<{ n: string }>(
      'select count(*) as n from pg_prepared_statements',
      [],
      { customPlan: true },
    );
    await page(true);
    const after = await rowsOf<{ n: string }>(
      'select count(*) as n from pg_prepared_statements',
      [],
      { customPlan: true },
    );
    expect(after[0]?.n).toBe(before[0]?.n);
    await page(false);
    const generic = await rowsOf<{ n: string }>(
      'select count(*) as n from pg_prepared_statements',
      [],
      { customPlan: true },
    );
    expect(Number(generic[0]?.n)).toBeGreaterThan(Number(before[0]?.n));
  });

  it('when a query asks for a custom plan, then it is planned for its values and not kept', async () => {
    const search = 'select count(*) as n from tasks where name ilike ?';
    for (let i = 0; i < 3; i++) await rowsOf(search, ['%plan%'], { customPlan: true });
    expect(await plansOf('select count(*) as n from tasks where name ilike $1')).toEqual([]);
  });
});
