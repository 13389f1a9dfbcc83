import type { ErrorRequestHandler, RequestHandler } from 'express';
import { type FieldError, ValidationError } from '../errors';

/**
 * Text that PostgreSQL cannot store, found anywhere in a request, is a 400 naming the field
 * (SPEC §5: "never a 500 for anything a client sent"):
 *
 * - U+0000 (NUL): `text` columns reject it ("invalid byte sequence for encoding UTF8: 0x00") and so
 *   does `jsonb` (`\u0000` "cannot be converted to text"), also in a LIKE pattern (`?search=`).
 * - An unpaired UTF-16 surrogate (`"\ud800"` in JSON): `jsonb` rejects its `\ud800` escape, and in
 *   a `text` column it would silently become U+FFFD, storing something other than what was sent.
 *
 * JSON Schema cannot say "no NUL" short of a `pattern` on every string, so this check runs beside
 * the OpenAPI validator, over the body (string values and object keys) and the query. Path
 * parameters need no check: the only one, `id`, is a UUID by its schema.
 */
const NUL = '\u0000';
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function problemOf(text: string): string | undefined {
  if (text.includes(NUL)) return 'must not contain the NUL character (U+0000)';
  if (UNPAIRED_SURROGATE.test(text))
    return 'must be well-formed Unicode (an unpaired surrogate such as \\ud800 cannot be stored)';
  return undefined;
}

/** Every string (and object key) in a parsed JSON value or query that cannot be stored. */
export function findUnstorableText(value: unknown, at: string): FieldError[] {
  const errors: FieldError[] = [];
  const visit = (item: unknown, path: string): void => {
    if (typeof item === 'string') {
      const message = problemOf(item);
      if (message) errors.push({ path, message });
    } else if (Array.isArray(item)) {
      item.forEach((element, index) => visit(element, `${path}.${index}`));
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        const keyProblem = problemOf(key);
        // A key that cannot be stored cannot be shown either: name its parent.
        if (keyProblem) errors.push({ path, message: `has a key that ${keyProblem}` });
        else visit(child, `${path}.${key}`);
      }
    }
  };
  visit(value, at);
  return errors;
}

/** Rejects a request whose body or query holds text PostgreSQL cannot store (see above). */
export const rejectUnstorableText: RequestHandler = (req, _res, next) => {
  const errors = [
    ...findUnstorableText(req.query, 'query'),
    ...(req.body === undefined ? [] : findUnstorableText(req.body, 'body')),
  ];
  if (errors.length > 0) next(new ValidationError('The request is invalid; see errors.', errors));
  else next();
};

/**
 * The `uuid` format as PostgreSQL's `uuid` type and JSON Schema tools read it: 32 hex digits in
 * the 8-4-4-4-12 form. ajv-formats also accepts a `urn:uuid:` prefix, which reached PostgreSQL
 * as an invalid uuid (a 500).
 */
export const UUID_FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `pattern` -> `x-pattern-message` for every schema of `doc` that has both: what a client should
 * read instead of ajv's `must match pattern "<regexp>"`.
 */
export function patternMessages(doc: object): Map<string, string> {
  const messages = new Map<string, string>();
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    const schema = node as { pattern?: unknown; 'x-pattern-message'?: unknown };
    if (typeof schema.pattern === 'string' && typeof schema['x-pattern-message'] === 'string') {
      messages.set(schema.pattern, schema['x-pattern-message']);
    }
    for (const child of Object.values(node)) visit(child);
  };
  visit(doc);
  return messages;
}

/** Rewrites the validator's pattern errors with the document's `x-pattern-message`, if any. */
export function createPatternMessages(doc: object): ErrorRequestHandler {
  const messages = patternMessages(doc);
  return (err: unknown, _req, _res, next) => {
    const errors = (err as { errors?: unknown } | null)?.errors;
    if (Array.isArray(errors)) {
      for (const error of errors as { message?: unknown }[]) {
        const pattern =
          typeof error?.message === 'string'
            ? /^must match pattern "(.*)"$/s.exec(error.message)?.[1]
            : undefined;
        const message = pattern === undefined ? undefined : messages.get(pattern);
        if (message !== undefined) error.message = message;
      }
    }
    next(err);
  };
}
