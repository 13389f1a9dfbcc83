import { createHash } from 'node:crypto';
import type { PostgreSqlConnection } from '@mikro-orm/postgresql';
import { isDeadConnection, markDead, type PooledConnection } from './dead-connections';
import type { Orm } from './orm';

/**
 * SQL fragments shared by the read queries. The API's read routes query PostgreSQL directly
 * (no entity hydration, no unit of work), since they are the hot path (SPEC §9).
 */

/** A timestamptz as the API prints it: ISO 8601 in UTC with milliseconds, like Date#toISOString. */
export function isoTimestamp(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** `text` as a LIKE pattern matching itself literally (backslash is PostgreSQL's LIKE escape). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A filter as SQL text with its `?` parameters, in order. */
export interface SqlFilter {
  sql: string;
  params: unknown[];
}

/** `where a and b …` from the conditions that are set; an empty filter matches every row. */
export function whereAll(conditions: (SqlFilter | false | undefined)[]): SqlFilter {
  const set = conditions.filter((c): c is SqlFilter => Boolean(c));
  return {
    sql: set.length === 0 ? '' : `where ${set.map((c) => c.sql).join(' and ')}`,
    params: set.flatMap((c) => c.params),
  };
}

/**
 * Totals are counted exactly up to this many rows (an index-only range of at most this many
 * entries, about 0.25 ms; 10,000 took 2.4 ms, more than the page itself by fifty times); beyond it
 * they are PostgreSQL's estimate, flagged `totalIsEstimate`.
 */
export const EXACT_TOTAL_LIMIT = 1_000;

/**
 * An estimated total is reused for this long by pages with the same filters: it is an estimate
 * anyway, and so the next pages of a busy list cost only their rows.
 */
const ESTIMATE_TTL_MS = 10_000;
const ESTIMATES_KEPT = 500;

/** A page's total as its query selects it (see createPageTotals). */
export interface PlannedTotal extends SqlFilter {
  filter: SqlFilter;
  key: string;
  /** A recent estimate of the same filters: the query then selects null. */
  known?: number;
}

/**
 * The totals of a list's pages (`table` read as `alias` in the filters): counted exactly up to
 * EXACT_TOTAL_LIMIT, PostgreSQL's estimate beyond, so that a page of a table of millions (or of
 * 100,000 tasks) does not count it on every request.
 */
export function createPageTotals(table: string, alias: string) {
  const estimates = new Map<string, { total: number; at: number }>();
  const remember = (key: string, total: number) => {
    estimates.delete(key);
    estimates.set(key, { total, at: Date.now() });
    // A Map iterates in insertion order: the first key is the oldest.
    if (estimates.size > ESTIMATES_KEPT) estimates.delete(estimates.keys().next().value!);
  };

  /**
   * The matching rows counted up to one more than EXACT_TOTAL_LIMIT (so a count above the limit
   * means "more than that"). With no filter the table's size comes from the statistics instead
   * (pg_class.reltuples, which autovacuum keeps), and the count runs only while that says the
   * table is small: CASE evaluates its subquery only when it takes that branch.
   */
  function cappedCount(filter: SqlFilter): SqlFilter {
    const capped = `select count(*) as total from (select 1 from ${table} ${alias} ${filter.sql} limit ${EXACT_TOTAL_LIMIT + 1}) capped`;
    if (filter.sql !== '') return { sql: capped, params: filter.params };
    return {
      sql: `select case when reltuples > ${EXACT_TOTAL_LIMIT} then reltuples::bigint else (${capped}) end as total
            from pg_class where oid = '${table}'::regclass`,
      params: [],
    };
  }

  /** PostgreSQL's estimate of the rows `filter` matches (the planner's), at least `atLeast`. */
  async function planned(rowsOf: QueryRows, filter: SqlFilter, atLeast: number): Promise<number> {
    if (filter.sql === '') return atLeast;
    const [plan] = await rowsOf<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
      `explain (format json) select 1 from ${table} ${alias} ${filter.sql}`,
      filter.params,
      { customPlan: true },
    );
    const rows = Math.round(plan?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0);
    return Math.max(atLeast, rows);
  }

  return {
    /** What a page's query selects as its `total` for `filter`. */
    plan(filter: SqlFilter): PlannedTotal {
      const key = `${filter.sql} ${JSON.stringify(filter.params)}`;
      const known = estimates.get(key);
      if (known !== undefined && Date.now() - known.at < ESTIMATE_TTL_MS) {
        return { sql: 'select null', params: [], filter, key, known: known.total };
      }
      return { ...cappedCount(filter), filter, key };
    },

    /**
     * The total from what the page's first row carried (a page past the end has no row, and
     * counts on its own), and whether it is an estimate.
     */
    async settle(
      rowsOf: QueryRows,
      total: PlannedTotal,
      carried: string | number | null | undefined,
      plan: PlanOptions = {},
    ): Promise<{ total: number; estimated: boolean }> {
      if (total.known !== undefined) return { total: total.known, estimated: true };
      const counted = Number(
        carried ?? (await rowsOf<{ total: string }>(total.sql, total.params, plan))[0]?.total ?? 0,
      );
      if (counted <= EXACT_TOTAL_LIMIT) return { total: counted, estimated: false };
      const estimated = await planned(rowsOf, total.filter, counted);
      remember(total.key, estimated);
      return { total: estimated, estimated: true };
    },
  };
}

export type PageTotals = ReturnType<typeof createPageTotals>;

/**
 * One page of `from` and its total (see createPageTotals), in one query: the total rides on
 * every row as an uncorrelated subquery, which PostgreSQL computes once. `from` is the table of
 * `totals` under its alias; the filter uses that alias.
 */
export async function readPage<T>(
  rowsOf: QueryRows,
  page: {
    columns: string;
    from: string;
    totals: PageTotals;
    filter: SqlFilter;
    orderBy: string;
    page: number;
    limit: number;
    /** The filter usually matches few rows (a name search): try reading them all at once. */
    fewMatches?: boolean;
    /** Plan the page's queries for the filter's values (see createQueryRows). */
    customPlan?: boolean;
  },
): Promise<{ rows: T[]; total: number; estimated: boolean }> {
  const { filter } = page;
  const plan: PlanOptions = { customPlan: page.customPlan };
  const offset = (page.page - 1) * page.limit;
  // The API bounds page and limit (openapi.yaml); this keeps any other caller from sending
  // PostgreSQL a number it cannot read as a bigint (a 500), or one rounded on the way.
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!whole(page.page - 1) || !whole(page.limit - 1) || !whole(offset)) {
    throw new RangeError(
      `page ${page.page} of ${page.limit} rows is not a page PostgreSQL can read`,
    );
  }
  if (page.fewMatches && filter.sql !== '') {
    // Most searches match a few rows: read them once (at most EXACT_TOTAL_LIMIT + 1, by one scan
    // of their index), then count, sort and page those in the same statement. `t` is the CTE, so
    // `columns` and `orderBy` read its rows as they read the table's. Only more matches than that
    // take the two-part query below.
    const rows = await rowsOf<T & { total: string }>(
      `with t as materialized (select * from ${page.from} ${filter.sql} limit ${EXACT_TOTAL_LIMIT + 1})
       select ${page.columns}, (select count(*) from t) as total from t
       order by ${page.orderBy} limit ? offset ?`,
      [...filter.params, page.limit, offset],
      plan,
    );
    const counted = Number(
      rows[0]?.total ??
        (
          await rowsOf<{ total: string }>(
            `select count(*) as total from (select 1 from ${page.from} ${filter.sql} limit ${EXACT_TOTAL_LIMIT + 1}) capped`,
            filter.params,
            plan,
          )
        )[0]?.total ??
        0,
    );
    if (counted <= EXACT_TOTAL_LIMIT) return { rows, total: counted, estimated: false };
  }
  const total = page.totals.plan(filter);
  const rows = await rowsOf<T & { total: string | null }>(
    `select ${page.columns}, (${total.sql}) as total from ${page.from} ${filter.sql}
     order by ${page.orderBy} limit ? offset ?`,
    [...total.params, ...filter.params, page.limit, offset],
    plan,
  );
  return { rows, ...(await page.totals.settle(rowsOf, total, rows[0]?.total, plan)) };
}

/** With `customPlan`, PostgreSQL plans a read for its values each time (see createQueryRows). */
export interface PlanOptions {
  customPlan?: boolean;
}

/** Runs one read query and returns its rows. `text` uses `?` placeholders, in order. */
export type QueryRows = <T>(
  text: string,
  values?: readonly unknown[],
  options?: PlanOptions,
) => Promise<T[]>;

interface PgClient extends PooledConnection {
  query(config: {
    name?: string;
    text: string;
    values?: readonly unknown[];
  }): Promise<{ rows: unknown[] }>;
}

/** The pooled connections whose session already plans prepared statements once. */
const genericSessions = new WeakSet<object>();

/**
 * Read queries as named prepared statements on the ORM's own connection pool: PostgreSQL parses
 * and plans each distinct query text once per connection instead of on every request, and the
 * values travel as bind parameters, never spliced into the text. The read routes' query texts are
 * a small fixed set (one per filter and sort combination), so the statements stay few.
 *
 * "Plans once" needs `plan_cache_mode = force_generic_plan` on the session: by default PostgreSQL
 * plans a prepared statement again for every execution as long as a plan for the values looks
 * cheaper than the generic one, which for `limit ? offset ?` it always does, so a page of tasks
 * was planned on every request (0.39-0.45 ms per round trip, 0.25-0.32 with the generic plan,
 * 2026-12-08). A connection gets the setting the first time it serves a read; it touches only
 * prepared statements (and PL/pgSQL's), which the ORM's own queries are not. Queries whose plan
 * depends on their values ask for `customPlan` and go as unnamed statements, planned for their
 * values each time: a name search (a trigram index scan or not depends on the pattern), a list of
 * tasks by status (a rare one is read by its index, a common one in creation order) and the
 * planner's row estimate for a total (which must be for these values, not an average).
 */
export function createQueryRows(orm: Orm): QueryRows {
  const knex = (orm.em.getConnection() as PostgreSqlConnection).getKnex();
  const statements = new Map<string, { name: string; text: string }>();
  const statement = (text: string) => {
    let found = statements.get(text);
    if (!found) {
      let n = 0;
      const numbered = text.replace(/\?/g, () => `$${++n}`);
      found = {
        name: `read_${createHash('sha1').update(numbered).digest('hex').slice(0, 24)}`,
        text: numbered,
      };
      statements.set(text, found);
    }
    return found;
  };
  return async <T>(
    text: string,
    values: readonly unknown[] = [],
    options: PlanOptions = {},
  ): Promise<T[]> => {
    const { name, text: numbered } = statement(text);
    const client = (await knex.client.acquireConnection()) as PgClient;
    try {
      if (options.customPlan) return (await client.query({ text: numbered, values })).rows as T[];
      if (!genericSessions.has(client)) {
        await client.query({ text: 'set plan_cache_mode = force_generic_plan' });
        genericSessions.add(client);
      }
      return (await client.query({ name, text: numbered, values })).rows as T[];
    } catch (error) {
      // Before it goes back: pg reports the death of a session the server ended under a query
      // only when the socket closes, and a waiting query could be handed it meanwhile.
      if (isDeadConnection(error)) markDead(client, error);
      throw error;
    } finally {
      await knex.client.releaseConnection(client);
    }
  };
}
