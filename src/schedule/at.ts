/**
 * One-off schedules (SPEC §14): `@at <date-time>`, a local date-time in the task's time zone
 * (`@at 2026-12-24T18:00`, seconds optional) or one with an offset (`@at 2026-12-24T17:00:00Z`,
 * `@at 2026-12-24T18:00+01:00`).
 *
 * The time is turned into one instant here and handed to Temporal as a calendar of that instant
 * in UTC (year included), so Temporal fires it exactly once and never has to decide what a local
 * time means on a daylight-saving change. A local time is read as RFC 5545 and the JavaScript
 * Temporal API's "compatible" rule do: one that a spring-forward gap skips is moved forward by the
 * gap (02:30 on the day New York skips 02:00-03:00 is 03:30 EDT); one that a fall-back overlap
 * repeats is the first of the two (01:30 EDT, not 01:30 EST).
 *
 * Pure: no clock. Whether the instant is still ahead is the caller's question.
 */
import { offsetFnFor } from './zone';

/** The date-time of an `@at` schedule as written. */
export interface AtTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** A fraction of the second, in ms: the run fires at the next whole second (never early). */
  millis?: number;
  /** The offset written with it, in seconds east of UTC; absent for a local time. */
  offsetSeconds?: number;
}

export type AtParseResult = { ok: true; at: AtTime } | { ok: false; reason: string };

const EXAMPLE = "e.g. @at 2026-12-24T18:00 (in the task's time zone) or @at 2026-12-24T17:00:00Z";

const AT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/i;

/** Reads what follows `@at` (the tokens after it, joined by one space). Never throws. */
export function parseAtTime(text: string): AtParseResult {
  if (text === '') return { ok: false, reason: `@at needs a date and time: ${EXAMPLE}` };
  const m = AT_PATTERN.exec(text);
  if (!m) return { ok: false, reason: `@at ${text}: expected a date and time, ${EXAMPLE}` };
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12) return { ok: false, reason: `@at ${text}: no month ${month}` };
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > days) {
    return { ok: false, reason: `@at ${text}: ${year}-${m[2]} has no day ${day}` };
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, reason: `@at ${text}: not a time of day (00:00:00 to 23:59:59)` };
  }
  // Temporal's calendars stop at 2100 (calendar.go maxCalendarYear).
  if (year < 1970 || year > 2100) {
    return { ok: false, reason: `@at ${text}: the year must be between 1970 and 2100` };
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  const at: AtTime = { year, month, day, hour, minute, second, ...(millis ? { millis } : {}) };
  if (m[8]) return { ok: true, at: { ...at, offsetSeconds: 0 } };
  if (m[9]) {
    const hours = Number(m[10]);
    const minutes = Number(m[11]);
    if (hours > 18 || minutes > 59) {
      return { ok: false, reason: `@at ${text}: an offset is at most ±18:00` };
    }
    const sign = m[9] === '-' ? -1 : 1;
    return { ok: true, at: { ...at, offsetSeconds: sign * (hours * 3600 + minutes * 60) } };
  }
  return { ok: true, at };
}

/** The instant an `@at` time names: with its own offset, or local to `timeZone` (see above). */
export function atInstant(at: AtTime, timeZone: string): Date {
  const seconds = wholeSecondsOf(at, timeZone);
  // A fraction moves it to the next whole second: Temporal's calendars have no finer unit.
  return new Date((seconds + (at.millis ? 1 : 0)) * 1000);
}

function wholeSecondsOf(at: AtTime, timeZone: string): number {
  const wall = Date.UTC(at.year, at.month - 1, at.day, at.hour, at.minute, at.second) / 1000;
  if (at.offsetSeconds !== undefined) return wall - at.offsetSeconds;
  const offset = offsetFnFor(timeZone);
  // The offsets in force half a day either side: a zone changes at most once in between.
  const before = offset(wall - 43_200);
  const after = offset(wall + 43_200);
  const readsAsWall = (t: number) => t + offset(t) === wall;
  const candidates = [wall - before, wall - after].filter(readsAsWall);
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap: the offset before the change, which reads later by the gap after it.
  return wall - before;
}

/** The `@at` part of a schedule, or undefined when the schedule is not one. */
export function atOf(expression: string): AtParseResult | undefined {
  const normalized = expression.trim().split(/\s+/).join(' ');
  if (!/^@at(\s|$)/i.test(normalized)) return undefined;
  return parseAtTime(normalized.slice(3).trim());
}

/** When a one-off schedule fires, or null for any other schedule (or an invalid one). */
export function oneOffInstant(expression: string, timeZone: string): Date | null {
  const parsed = atOf(expression);
  return parsed?.ok ? atInstant(parsed.at, timeZone) : null;
}
