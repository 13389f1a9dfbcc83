/**
 * Translates a task's `schedule` text (SPEC §5) into a Temporal ScheduleSpec.
 *
 * We never hand cron strings to Temporal (`cronExpressions`): Temporal reads a 6-field string as
 * "+ year" and ANDs day-of-month with day-of-week, while users expect standard (Vixie) cron. So
 * every expression is parsed here and emitted as structured CalendarSpecs (or an IntervalSpec for
 * `@every`), with every field spelled out as full `{ start, end, step }` ranges:
 *
 * - The TypeScript client encodes a range without `end` as `end: 1` (so `{ start: 0 }` in
 *   `second` would mean seconds 0 AND 1), so `end` is always explicit.
 * - The client only accepts names for `month` ('JANUARY'...) and `dayOfWeek` ('SUNDAY'...),
 *   numbers throw a TypeError, so those two fields use names.
 * - Calendar defaults are second/minute/hour = 0, so `*` is written as the full range.
 * - The output has the same shape `describe()` returns, which makes specs comparable when
 *   reconciling schedules.
 *
 * The module is pure: no I/O, no clock.
 */
import {
  DAYS_OF_WEEK,
  MONTHS,
  type CalendarSpec,
  type DayOfWeek,
  type IntervalSpec,
  type Month,
  type Range,
  type ScheduleSpec,
} from '@temporalio/client';
import { atInstant, type AtTime, parseAtTime } from './at';
import { ScheduleError } from './errors';
import { MACROS } from './macros';

export { ScheduleError };

export interface ParseOptions {
  /**
   * Accept a cron whose day-of-month no listed month has (`0 0 31 2 *`). New schedules are
   * rejected for it; a task stored before that rule still gets its (idle) Temporal Schedule.
   */
  allowNeverFiring?: boolean;
}

export type ScheduleParseResult =
  | {
      ok: true;
      spec: { calendars?: CalendarSpec[]; intervals?: IntervalSpec[] };
      kind: 'cron' | 'macro' | 'every';
    }
  /** A one-off (`@at`): its calendar depends on the time zone, so toScheduleSpec makes it. */
  | { ok: true; kind: 'at'; at: AtTime }
  | { ok: false; reason: string };

/** No run before `startAt` nor after `endAt` (SPEC §14); Temporal's own spec bounds. */
export interface ScheduleBounds {
  startAt?: Date | null;
  endAt?: Date | null;
}

/** Longer input is certainly not a schedule someone meant, and would make a huge spec. */
const MAX_EXPRESSION_LENGTH = 1000;

const FIELDS_HELP = 'minute hour day-of-month month day-of-week';

const MACRO_HELP =
  'supported: @yearly, @annually, @monthly, @weekly, @daily, @hourly, @every <n><s|m|h|d>, @at <date-time>, or 5 fields ' +
  FIELDS_HELP;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Ten years; longer intervals are mistakes and overflow what Temporal stores. */
const MAX_INTERVAL_MS = 3650 * UNIT_MS.d;

interface NumericRange {
  start: number;
  end: number;
  step: number;
}

interface FieldDef {
  name: 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week';
  min: number;
  /** Largest accepted value; day-of-week accepts 7 (Sunday again), as in Vixie cron. */
  max: number;
  /** Where `*` ends; day-of-week `*` is 0-6 (7 would only repeat Sunday). */
  starEnd: number;
  /** Three-letter names, case-insensitive; the value of names[i] is i + nameBase. */
  names?: readonly string[];
  nameBase?: number;
  hint: string;
}

const MINUTE: FieldDef = { name: 'minute', min: 0, max: 59, starEnd: 59, hint: '0-59' };
const HOUR: FieldDef = { name: 'hour', min: 0, max: 23, starEnd: 23, hint: '0-23' };
const DAY_OF_MONTH: FieldDef = { name: 'day-of-month', min: 1, max: 31, starEnd: 31, hint: '1-31' };
const MONTH: FieldDef = {
  name: 'month',
  min: 1,
  max: 12,
  starEnd: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  nameBase: 1,
  hint: '1-12 or JAN-DEC',
};
const DAY_OF_WEEK: FieldDef = {
  name: 'day-of-week',
  min: 0,
  max: 7,
  starEnd: 6,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  nameBase: 0,
  hint: '0-7 (0 and 7 are Sunday) or SUN-SAT',
};

class FieldError extends Error {}

function range(start: number, end = start, step = 1): NumericRange {
  return { start, end, step };
}

function parseValue(text: string, field: FieldDef): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < field.min || value > field.max) {
      throw new FieldError(`${field.name} ${text} is out of range ${field.min}-${field.max}`);
    }
    return value;
  }
  if (field.names && /^[a-z]+$/i.test(text)) {
    const index = field.names.indexOf(text.toUpperCase());
    if (index >= 0) return index + (field.nameBase ?? 0);
    throw new FieldError(`unknown ${field.name} name '${text}' (use ${field.hint})`);
  }
  throw new FieldError(`${field.name} '${text}' is not a number (use ${field.hint})`);
}

/** Quartz-only syntax gets a reason of its own instead of "not a number". */
function quartzReason(item: string, field: FieldDef): string | undefined {
  if (/^L(W|-\d+)?$/i.test(item) || /^\d+L$/i.test(item)) {
    return `'${item}' in ${field.name}: 'L' (last) is Quartz syntax, not standard cron`;
  }
  if (/^\d+W$/i.test(item)) {
    return `'${item}' in ${field.name}: 'W' (nearest weekday) is Quartz syntax, not standard cron`;
  }
  return undefined;
}

function parseItem(item: string, field: FieldDef): NumericRange {
  if (item === '') throw new FieldError(`${field.name} has an empty list item`);
  const slash = item.split('/');
  if (slash.length > 2) throw new FieldError(`${field.name} '${item}' has more than one '/'`);
  const [base = '', stepText] = slash;
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) {
      throw new FieldError(`${field.name} step '${stepText}' is not a whole number`);
    }
    step = Number(stepText);
    // A step that can only ever select the start value is a mistake (usually "every 90
    // minutes", which cron cannot express), so it is rejected rather than silently truncated.
    const maxStep = field.max - field.min;
    if (step < 1 || step > maxStep) {
      throw new FieldError(
        `${field.name} step ${stepText} is out of range 1-${maxStep}` +
          (step === 0 ? ': a step must be at least 1' : '; for longer intervals use @every'),
      );
    }
  }
  if (base === '*') return range(field.min, field.starEnd, step);
  if (base === '') throw new FieldError(`${field.name} '${item}' has nothing before '/'`);

  const dash = base.split('-');
  if (dash.length > 2 || dash.some((part) => part === '' || part === '*')) {
    throw new FieldError(`${field.name} '${item}' is not a value, a range a-b, or '*'`);
  }
  const [startText = '', endText] = dash;
  let start: number;
  try {
    start = parseValue(startText, field);
  } catch (error) {
    throw new FieldError(quartzReason(item, field) ?? (error as Error).message);
  }
  if (endText === undefined) {
    // `a/n` means a to the field's maximum in steps of n (cronie's extension to Vixie cron).
    return stepText === undefined ? range(start) : range(start, field.max, step);
  }
  const end = parseValue(endText, field);
  if (start > end) {
    const max = field === DAY_OF_WEEK ? 6 : field.max;
    const head = start >= max ? `${start}` : `${start}-${max}`;
    const tail = end === field.min ? `${end}` : `${field.min}-${end}`;
    throw new FieldError(
      `${field.name} range ${base} is reversed; wrap-around ranges are not supported, use a list such as ${head},${tail}`,
    );
  }
  return range(start, end, step);
}

function parseField(text: string, field: FieldDef): NumericRange[] {
  if (text.includes('?')) {
    throw new FieldError(`'?' in ${field.name} is Quartz syntax, not standard cron; use '*'`);
  }
  if (text.includes('#')) {
    throw new FieldError(
      `'${text}' in ${field.name}: '#' (nth weekday of the month) is Quartz syntax, not standard cron`,
    );
  }
  return text.split(',').map((item) => parseItem(item, field));
}

function numbers(ranges: NumericRange[]): Range<number>[] {
  return ranges.map(({ start, end, step }) => ({ start, end, step }));
}

function monthNames(ranges: NumericRange[]): Range<Month>[] {
  const name = (value: number): Month => MONTHS[value - 1] as Month;
  return ranges.map(({ start, end, step }) => ({ start: name(start), end: name(end), step }));
}

/** Temporal's weekdays are 0-6: a range reaching 7 is cut at 6, plus Sunday if the steps hit 7. */
function weekdayNames(ranges: NumericRange[]): Range<DayOfWeek>[] {
  const name = (value: number): DayOfWeek => DAYS_OF_WEEK[value] as DayOfWeek;
  const sunday: Range<DayOfWeek> = { start: 'SUNDAY', end: 'SUNDAY', step: 1 };
  return ranges.flatMap(({ start, end, step }) => {
    if (end < 7) return [{ start: name(start), end: name(end), step }];
    if (start === 7) return [sunday];
    const head: Range<DayOfWeek> = { start: name(start), end: 'SATURDAY', step };
    const hitsSeven = (7 - start) % step === 0;
    return hitsSeven && start !== 0 ? [head, sunday] : [head];
  });
}

/** The longest each month can be (February: 29, in leap years). */
const LONGEST_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

function values(ranges: NumericRange[]): number[] {
  const out: number[] = [];
  for (const { start, end, step } of ranges) for (let v = start; v <= end; v += step) out.push(v);
  return out;
}

/**
 * A day-of-month that no listed month has (`0 0 31 2 *`, `0 0 30 2 *`, `0 0 31 4,6 *`) would never
 * fire: Temporal accepts such a spec and simply never runs it. Only checked where the days must
 * match (day-of-week `*`); with a day-of-week too, cron fires on either, so `0 0 31 2 MON` runs on
 * February's Mondays.
 */
function checkDaysExist(domText: string, dom: NumericRange[], month: NumericRange[]): void {
  const days = values(dom);
  const months = values(month);
  const smallest = Math.min(...days);
  if (months.some((m) => smallest <= (LONGEST_MONTH[m - 1] ?? 31))) return;
  const names = months.map((m) => MONTH_NAMES[m - 1] ?? String(m));
  const list =
    names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  const longest = Math.max(...months.map((m) => LONGEST_MONTH[m - 1] ?? 31));
  throw new FieldError(
    `day-of-month ${domText} never occurs in ${list} (at most ${longest} days), so this schedule would never fire`,
  );
}

function cronToCalendars(
  fields: string[],
  comment: string,
  options: ParseOptions = {},
): CalendarSpec[] {
  const [minuteText = '', hourText = '', domText = '', monthText = '', dowText = ''] = fields;
  const minute = numbers(parseField(minuteText, MINUTE));
  const hour = numbers(parseField(hourText, HOUR));
  const domRanges = parseField(domText, DAY_OF_MONTH);
  const monthRanges = parseField(monthText, MONTH);
  const dayOfMonth = numbers(domRanges);
  const month = monthNames(monthRanges);
  const dayOfWeek = weekdayNames(parseField(dowText, DAY_OF_WEEK));

  const calendar = (
    days: Pick<CalendarSpec, 'dayOfMonth' | 'dayOfWeek'>,
    note: string,
  ): CalendarSpec => ({
    second: [{ start: 0, end: 0, step: 1 }],
    minute,
    hour,
    dayOfMonth: days.dayOfMonth,
    month,
    dayOfWeek: days.dayOfWeek,
    comment: note,
  });
  // Vixie cron: load_entry() (entry.c) sets DOM_STAR/DOW_STAR when a day field's text starts
  // with '*', even '*/2', and find_jobs() (cron.c) fires when
  // (DOM_STAR || DOW_STAR) ? (dom AND dow) : (dom OR dow). Temporal
  // always ANDs within one calendar, so the OR case becomes two calendars whose union is it.
  const domStar = domText.startsWith('*');
  const dowStar = dowText.startsWith('*');
  if (domStar || dowStar) {
    if (!options.allowNeverFiring) checkDaysExist(domText, domRanges, monthRanges);
    return [calendar({ dayOfMonth, dayOfWeek }, comment)];
  }
  return [
    calendar(
      { dayOfMonth, dayOfWeek: weekdayNames([range(0, 6)]) },
      `${comment} (day-of-month part)`,
    ),
    calendar({ dayOfMonth: numbers([range(1, 31)]), dayOfWeek }, `${comment} (day-of-week part)`),
  ];
}

function parseEvery(tokens: string[]): ScheduleParseResult {
  const example = 'a whole number followed by s, m, h or d, e.g. @every 15m';
  if (tokens.length === 1) return { ok: false, reason: `@every needs an interval: ${example}` };
  const value = tokens.slice(1).join(' ');
  if (/^\d+ms$/i.test(value)) {
    return {
      ok: false,
      reason: `@every ${value}: milliseconds are not supported; the interval must be at least 1s`,
    };
  }
  const match = /^(\d+)([smhd])$/i.exec(value);
  if (!match) return { ok: false, reason: `@every ${value}: expected ${example}` };
  const count = Number(match[1]);
  const unit = (match[2] ?? '').toLowerCase() as keyof typeof UNIT_MS;
  const every = count * UNIT_MS[unit];
  if (every < UNIT_MS.s) {
    return { ok: false, reason: `@every ${value}: the interval must be at least 1 second` };
  }
  if (every > MAX_INTERVAL_MS) {
    return { ok: false, reason: `@every ${value}: the interval must be at most 3650 days` };
  }
  return { ok: true, kind: 'every', spec: { intervals: [{ every }] } };
}

function parseAt(tokens: string[], expression: string): ScheduleParseResult {
  const name = (tokens[0] ?? '').toLowerCase();
  if (name === '@every') return parseEvery(tokens);
  if (name === '@at') {
    const parsed = parseAtTime(tokens.slice(1).join(' '));
    return parsed.ok ? { ok: true, kind: 'at', at: parsed.at } : parsed;
  }
  if (name === '@reboot') {
    return {
      ok: false,
      reason: '@reboot is not supported: tasks run on a schedule, not at start-up',
    };
  }
  const cron = MACROS[name];
  if (cron === undefined) {
    const hint = name === '@midnight' ? 'use @daily; ' : '';
    return { ok: false, reason: `unknown macro '${tokens[0] ?? ''}': ${hint}${MACRO_HELP}` };
  }
  if (tokens.length > 1) return { ok: false, reason: `${name} takes nothing after it` };
  return {
    ok: true,
    kind: 'macro',
    spec: { calendars: cronToCalendars(cron.split(' '), expression) },
  };
}

/**
 * Parses a task schedule (SPEC §5). Never throws; an invalid schedule yields `{ ok: false,
 * reason }` with a reason that says what is wrong. Accepted:
 * - 5 fields `minute hour day-of-month month day-of-week` with `*`, `a`, `a-b`, lists, steps
 *   (`*\/n`, `a-b/n`, `a/n` = a to the field's max), names JAN-DEC and SUN-SAT (any case),
 *   day-of-week 0-7 (7 = Sunday), any whitespace between fields. Day-of-month OR day-of-week
 *   when both are restricted (Vixie rules, see cronToCalendars). Rejected: a day-of-month no
 *   listed month has, where it must match (`0 0 31 2 *` never fires; `0 0 29 2 *` does, in leap
 *   years), unless `options.allowNeverFiring`.
 * - `@yearly @annually @monthly @weekly @daily @hourly` (any case); not `@midnight` or `@reboot`.
 * - `@every <n><s|m|h|d>`, 1 second to 3650 days. Temporal aligns intervals to the Unix epoch
 *   in UTC (`@every 1d` fires at 00:00 UTC whatever the task's time zone).
 */
export function parseSchedule(expression: string, options: ParseOptions = {}): ScheduleParseResult {
  if (typeof expression !== 'string') return { ok: false, reason: 'schedule must be a string' };
  const normalized = expression.trim().split(/\s+/).join(' ');
  if (normalized === '') return { ok: false, reason: 'schedule is empty' };
  if (normalized.length > MAX_EXPRESSION_LENGTH) {
    return { ok: false, reason: `schedule is longer than ${MAX_EXPRESSION_LENGTH} characters` };
  }
  const tokens = normalized.split(' ');
  if (normalized.startsWith('@')) return parseAt(tokens, normalized);
  if (/^(CRON_)?TZ=/i.test(normalized)) {
    return {
      ok: false,
      reason: "a time zone prefix (CRON_TZ=/TZ=) is not supported; set the task's timezone",
    };
  }
  if (tokens.length === 6 || tokens.length === 7) {
    const what = tokens.length === 6 ? 'seconds (or a year) are' : 'seconds and a year are';
    return {
      ok: false,
      reason: `${tokens.length} fields: ${what} not supported; use 5 fields ${FIELDS_HELP}`,
    };
  }
  if (tokens.length !== 5) {
    return { ok: false, reason: `expected 5 fields (${FIELDS_HELP}), got ${tokens.length}` };
  }
  try {
    return {
      ok: true,
      kind: 'cron',
      spec: { calendars: cronToCalendars(tokens, normalized, options) },
    };
  } catch (error) {
    if (error instanceof FieldError) return { ok: false, reason: error.message };
    throw error;
  }
}

/**
 * Whether `name` is an IANA time zone both Node (Intl) and Temporal Server (Go's tz database,
 * case-sensitive) understand: 'UTC', 'Europe/Berlin', links such as 'Asia/Kolkata' or
 * 'US/Eastern', and the POSIX-style IANA zones such as 'EST5EDT' (real tz database entries that
 * Go loads too). Rejected: '', unknown names, UTC offsets like '+05:00' (newer Node accepts them
 * in Intl, Temporal does not), and wrong case ('utc', 'america/new_york': Intl accepts any case,
 * Temporal on Linux does not).
 */
export function isValidTimeZone(name: string): boolean {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name))
    return false;
  // Asked for every task a reconciliation compares and every schedule compiled: a formatter per
  // call cost about 0.1 ms each (100k tasks: 10 s of a reconcile). Bounded: names come from clients.
  let known = knownTimeZones.get(name);
  if (known === undefined) {
    known = checkTimeZone(name);
    if (knownTimeZones.size >= KNOWN_TIME_ZONES_SIZE) knownTimeZones.clear();
    knownTimeZones.set(name, known);
  }
  return known;
}

const KNOWN_TIME_ZONES_SIZE = 1_000;
const knownTimeZones = new Map<string, boolean>();

function checkTimeZone(name: string): boolean {
  // ICU still knows the SystemV/* zones that the tz database (and so Temporal) dropped in 2020.
  if (name.startsWith('SystemV/')) return false;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return false;
  }
  // A canonical name must match Intl's spelling exactly. A link ('Asia/Kolkata' may resolve to
  // 'Asia/Calcutta') cannot be checked that way; IANA names start every part with a capital.
  if (resolved.toLowerCase() === name.toLowerCase()) return resolved === name;
  return name.split('/').every((part) => /^[A-Z]/.test(part));
}

/**
 * The ScheduleSpec for a task, or a ScheduleError saying what is wrong with it. A one-off (`@at`)
 * becomes one calendar of its instant in UTC, year included (see at.ts); `bounds` become the
 * spec's `startAt` and `endAt`.
 */
export function toScheduleSpec(
  expression: string,
  timezone: string,
  bounds: ScheduleBounds = {},
): ScheduleSpec {
  // Stored schedules were validated when they were saved; one saved before a rule was added must
  // still reconcile and update (it is idle, not invalid, to Temporal).
  const parsed = parseSchedule(expression, { allowNeverFiring: true });
  if (!parsed.ok) throw new ScheduleError(parsed.reason, 'schedule');
  if (!isValidTimeZone(timezone)) {
    throw new ScheduleError(
      `unknown time zone '${timezone}': use an IANA name such as UTC or Europe/Berlin`,
      'timezone',
    );
  }
  const spec: ScheduleSpec =
    parsed.kind === 'at'
      ? { calendars: [instantCalendar(atInstant(parsed.at, timezone))], timezone: 'UTC' }
      : { ...parsed.spec, timezone };
  if (bounds.startAt) spec.startAt = bounds.startAt;
  if (bounds.endAt) spec.endAt = bounds.endAt;
  return spec;
}

/** A calendar that matches one instant (whole seconds) in UTC, and so fires once. */
function instantCalendar(instant: Date): CalendarSpec {
  const one = (value: number) => [{ start: value, end: value, step: 1 }];
  const month = MONTHS[instant.getUTCMonth()] as Month;
  return {
    second: one(instant.getUTCSeconds()),
    minute: one(instant.getUTCMinutes()),
    hour: one(instant.getUTCHours()),
    dayOfMonth: one(instant.getUTCDate()),
    month: [{ start: month, end: month, step: 1 }],
    year: one(instant.getUTCFullYear()),
    dayOfWeek: [{ start: 'SUNDAY', end: 'SATURDAY', step: 1 }],
    comment: `@at ${instant.toISOString()}`,
  };
}
