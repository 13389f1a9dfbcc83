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
