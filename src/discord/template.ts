/**
 * Template variables in Discord payload strings (SPEC §5), rendered at delivery time.
 *
 * Syntax and the rules where SPEC is silent:
 *
 * - A tag is `{{ name }}`: two opening braces, optional whitespace, a dotted name, optional
 *   whitespace, two closing braces. Names are case-sensitive.
 * - Only tags naming one of {@link TEMPLATE_VARIABLES} are valid. An unknown name (`{{task.title}}`)
 *   is an error at create/update time ({@link findTemplateErrors}).
 * - `{{` directly followed (after optional whitespace) by a letter or `_` always starts a tag, so a
 *   tag that is not closed properly (`{{task.id`, `{{task.id}`, `{{ task-id }}`,
 *   `{{task.id. }}`) is reported as malformed instead of being delivered as literal text: that is
 *   almost always a typo the user wants to hear about before the first scheduled run.
 * - Any other `{{` (followed by a space and then nothing name-like, `{`, `"`, `.`, a digit, ...)
 *   and any lone `}}` are literal text, so JSON snippets or `{{ }}` in a message are kept as is.
 *   `{{{task.id}}}` renders as `{` + id + `}`. There is no escape syntax: to send a literal
 *   `{{word}}`, break the braces, e.g. with a zero-width space (`{\u200b{word}}`).
 * - Templates are only looked for in string values (never in object keys), anywhere in the
 *   payload, including URLs and `timestamp`.
 *
 * Rendering ({@link renderPayload}):
 *
 * - Dates render as ISO 8601 in UTC with milliseconds (`Date#toISOString`, e.g.
 *   `2025-01-31T09:00:00.000Z`), which Discord accepts as an embed `timestamp`.
 * - `execution.scheduledTime` is null for a manual trigger (`POST /tasks/:id/trigger`); it then
 *   renders as the execution time, so `"timestamp": "{{execution.scheduledTime}}"` stays a valid
 *   timestamp instead of becoming an empty string that Discord would reject.
 * - `execution.attempt` is the 1-based attempt number.
 * - Values are inserted verbatim, without any escaping (the payload is JSON for Discord, not HTML),
 *   and rendering is a single pass: a task name containing `{{task.id}}` is not expanded again.
 * - Unknown or malformed tags are left as literal text when rendering (validation rejects them at
 *   create/update time, so this only matters for payloads stored before a rule changed).
 * - The input is never mutated; the result is a deep copy (plain objects, arrays and primitives,
 *   i.e. JSON values).
 */
import type { FieldError } from './payload-schema';

export const TEMPLATE_VARIABLES = [
  'task.id',
  'task.name',
  'execution.scheduledTime',
  'execution.time',
  'execution.attempt',
] as const;

export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

export interface TemplateVars {
  task: { id: string; name: string };
  execution: {
    /** When the schedule meant to fire; null for a manual trigger. */
    scheduledTime: Date | null;
    /** When this attempt runs. */
    time: Date;
    /** 1-based attempt number. */
    attempt: number;
  };
}

const KNOWN = new Set<string>(TEMPLATE_VARIABLES);

/**
 * `{{`, optional whitespace, a dotted name, then (group 2) optional whitespace and `}}`. When
 * group 2 did not match, the tag is malformed.
 */
const TAG = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\s*\}\})?/g;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `payload`, `payload.embeds[0].fields[2].value`, `payload["odd key"]`. */
export function formatPath(path: readonly (string | number)[], root = 'payload'): string {
  let out = root;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function knownList(): string {
  return TEMPLATE_VARIABLES.join(', ');
}

function snippet(text: string, index: number): string {
  const rest = text.slice(index);
  return rest.length > 40 ? `${rest.slice(0, 40)}…` : rest;
}

/** The template errors of one string (messages only; the caller adds the path). */
export function findTemplateErrorsInString(text: string): string[] {
  const messages: string[] = [];
  for (const match of text.matchAll(TAG)) {
    const name = match[1] ?? '';
    if (match[2] === undefined) {
      messages.push(
        `malformed template tag "${snippet(text, match.index)}": write it as {{ name }}, ` +
          `with one of the variables ${knownList()}`,
      );
    } else if (!KNOWN.has(name)) {
      messages.push(`unknown template variable "${name}"; known variables: ${knownList()}`);
    }
  }
  return messages;
}

/**
 * Walks every string value of a payload (any JSON value) and reports unknown variables and
 * malformed tags, one error per problem, with the path of the string
 * (`payload.embeds[0].fields[2].value`).
 */
export function findTemplateErrors(payload: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      for (const message of findTemplateErrorsInString(value)) {
        errors.push({ path: formatPath(path), message });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, [...path, index]));
    } else if (isPlainObject(value)) {
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
    }
  };
  walk(payload, []);
  return errors;
}

/** The text each variable renders to. */
export function templateValues(vars: TemplateVars): Record<TemplateVariable, string> {
  const time = vars.execution.time.toISOString();
  return {
    'task.id': vars.task.id,
    'task.name': vars.task.name,
    'execution.scheduledTime': vars.execution.scheduledTime?.toISOString() ?? time,
    'execution.time': time,
    'execution.attempt': String(vars.execution.attempt),
  };
}

/** Renders one string; unknown and malformed tags stay literal. */
export function renderString(
  text: string,
  values: Readonly<Record<TemplateVariable, string>>,
): string {
  return text.replace(TAG, (whole: string, name: string, close: string | undefined) =>
    close !== undefined && KNOWN.has(name) ? values[name as TemplateVariable] : whole,
  );
}

function renderValue(value: unknown, values: Readonly<Record<TemplateVariable, string>>): unknown {
  if (typeof value === 'string') return renderString(value, values);
  if (Array.isArray(value)) return value.map((item) => renderValue(item, values));
  if (isPlainObject(value)) {
    // Object.fromEntries defines own properties, so even a `__proto__` key from JSON.parse is
    // copied as data rather than changing the copy's prototype.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, renderValue(item, values)]),
    );
  }
  return value;
}

/**
 * A deep copy of `payload` with every string rendered. Never mutates `payload`.
 * Throws a RangeError when a date in `vars` is invalid.
 */
export function renderPayload<T>(payload: T, vars: TemplateVars): T {
  return renderValue(payload, templateValues(vars)) as T;
}
