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
 * One page of `from` and the total number of rows `filter` matches, in one query: the total rides
 * on every row as an uncorrelated subquery, which PostgreSQL computes once. Only a page past the
 * end, which has no row to carry it, costs a second query. `countFrom` (default `from`) may drop
 * joins the count does not need; it must keep the aliases `filter` uses.
 */
export async function readPage<T>(
  rowsOf: QueryRows,
  page: {
    columns: string;
    from: string;
    countFrom?: string;
    filter: SqlFilter;
    orderBy: string;
    page: number;
    limit: number;
  },
): Promise<{ rows: T[]; total: number }> {
  const { filter } = page;
  const offset = (page.page - 1) * page.limit;
  // The API bounds page and limit (openapi.yaml); this keeps any other caller from sending
  // PostgreSQL a number it cannot read as a bigint (a 500), or one rounded on the way.
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!whole(page.page - 1) || !whole(page.limit - 1) || !whole(offset)) {
    throw new RangeError(
      `page ${page.page} of ${page.limit} rows is not a page PostgreSQL can read`,
    );
  }
  const countSql = `select count(*)::int as total from ${page.countFrom ?? page.from} ${filter.sql}`;
  const rows = await rowsOf<T & { total: number }>(
    `select ${page.columns}, (${countSql}) as total from ${page.from} ${filter.sql}
     order by ${page.orderBy} limit ? offset ?`,
    [...filter.params, ...filter.params, page.limit, offset],
  );
  const total =
    rows[0]?.total ?? (await rowsOf<{ total: number }>(countSql, filter.params))[0]?.total ?? 0;
  return { rows, total };
}

/** Runs one read query and returns its rows. `text` uses `?` placeholders, in order. */
export type QueryRows = <T>(text: string, values?: readonly unknown[]) => Promise<T[]>;

interface PgClient extends PooledConnection {
  query(config: {
    name: string;
    text: string;
    values: readonly unknown[];
  }): Promise<{ rows: unknown[] }>;
}

/**
 * Read queries as named prepared statements on the ORM's own connection pool: PostgreSQL parses
 * and plans each distinct query text once per connection instead of on every request, and the
 * values travel as bind parameters, never spliced into the text. The read routes' query texts are
 * a small fixed set (one per filter and sort combination), so the statements stay few.
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
  return async <T>(text: string, values: readonly unknown[] = []): Promise<T[]> => {
    const { name, text: numbered } = statement(text);
    const client = (await knex.client.acquireConnection()) as PgClient;
    try {
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
