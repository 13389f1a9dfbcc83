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
 * - A time variable takes the filter `discord` (SPEC §13): `{{execution.scheduledTime|discord:R}}`
 *   renders Discord's timestamp markup `<t:<unix seconds>:R>`, which every reader sees in their own
 *   time zone and language. Styles {@link DISCORD_TIMESTAMP_STYLES}; `|discord` alone means `f`.
 *   A filter on another variable, an unknown filter or style is an error at create/update time.
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

/** The variables that hold a time, which the `discord` filter turns into Discord's markup. */
export const TIME_VARIABLES: readonly TemplateVariable[] = [
  'execution.scheduledTime',
  'execution.time',
];

/**
 * Discord's timestamp styles: short and long time, short and long date, short and long date-time,
 * relative. `<t:…:f>` is what Discord shows for `<t:…>`, hence the default.
 */
export const DISCORD_TIMESTAMP_STYLES = ['t', 'T', 'd', 'D', 'f', 'F', 'R'] as const;
export const DEFAULT_DISCORD_STYLE = 'f';

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
 * `{{`, optional whitespace, a dotted name (group 1), an optional filter `| name[:argument]`
 * (groups 2 and 3), then (group 4) optional whitespace and `}}`. When group 4 did not match, the
 * tag is malformed.
 */
const TAG =
  /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\s*\|\s*([A-Za-z_][A-Za-z0-9_]*)(?::([^\s{}|]*))?)?(\s*\}\})?/g;

const STYLES = new Set<string>(DISCORD_TIMESTAMP_STYLES);
const TIMES = new Set<string>(TIME_VARIABLES);

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
    const [, name = '', filter, argument, close] = match;
    if (close === undefined) {
      messages.push(
        `malformed template tag "${snippet(text, match.index)}": write it as {{ name }}, ` +
          `with one of the variables ${knownList()}`,
      );
    } else if (!KNOWN.has(name)) {
      messages.push(`unknown template variable "${name}"; known variables: ${knownList()}`);
    } else if (filter !== undefined) {
      const problem = filterProblem(name, filter, argument);
      if (problem) messages.push(problem);
    }
  }
  return messages;
}

/** Why a filter cannot apply, or undefined when it can. */
function filterProblem(
  name: string,
  filter: string,
  style: string | undefined,
): string | undefined {
  if (filter !== 'discord') {
    return `unknown template filter "${filter}" in {{${name}|${filter}}}; the one filter is discord, for time variables`;
  }
  if (!TIMES.has(name)) {
    return `the discord filter formats a time: use it on ${TIME_VARIABLES.join(' or ')}, not ${name}`;
  }
  if (style !== undefined && !STYLES.has(style)) {
    return `unknown Discord timestamp style "${style}" in {{${name}|discord:${style}}}; styles: ${DISCORD_TIMESTAMP_STYLES.join(' ')}`;
  }
  return undefined;
}

/** Discord's timestamp markup for an ISO time: `<t:<unix seconds>:<style>>`. */
export function discordTimestamp(iso: string, style: string = DEFAULT_DISCORD_STYLE): string {
  return `<t:${Math.floor(Date.parse(iso) / 1000)}:${style}>`;
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
  return text.replace(
    TAG,
    (
      whole: string,
      name: string,
      filter: string | undefined,
      style: string | undefined,
      close: string | undefined,
    ) => {
      if (close === undefined || !KNOWN.has(name)) return whole;
      const value = values[name as TemplateVariable];
      if (filter === undefined) return value;
      return filterProblem(name, filter, style) === undefined
        ? discordTimestamp(value, style)
        : whole;
    },
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
