/**
 * Next fire times of a Temporal Schedule, computed locally, equal to what Temporal fires.
 *
 * SPEC §5 `nextRunAt` and the §10 schedule preview need the next fire times without asking the
 * server. Rather than a cron evaluator of our own (which would answer "what cron means", not
 * "what Temporal does"), this is a port of Temporal Server's own algorithm, applied to the exact
 * spec the client sends:
 *
 * - The ScheduleSpec goes through the TypeScript client's own encoder (`encodeScheduleSpec`, the
 *   function `client.schedule.create()` calls), so ranges, defaults and names are read exactly
 *   as the server receives them.
 * - Calendars follow `compiledCalendar.next` (service/worker/scheduler/calendar.go, server
 *   v1.30.4 and v1.32.0 alike), including its handling of daylight-saving changes, quirks and
 *   all: a wall-clock time skipped by a spring-forward gap does not fire that day; in a
 *   fall-back overlap a time can fire in both copies of the repeated hour, or only in one.
 *   Which one depends on how Go's `time.Date` resolves an ambiguous local time, so that is
 *   ported too (`goDate` below).
 * - Intervals are `epoch + phase + k * interval` in whole seconds (spec.go `nextIntervalTime`).
 * - The union of calendars and intervals, `skip`, `startAt`, `endAt` and the year-2100 limit
 *   follow `CompiledSpec.GetNextTime` / `rawNextTime` (spec.go).
 *
 * Time-zone offsets come from Intl (the tz database in Node's ICU), Temporal's from Go's copy of
 * the same database; they agree wherever both have the same tz release. Jitter is not supported
 * (Temporal derives it from a hash of the schedule's id); a spec with jitter is refused.
 *
 * The module is pure: no I/O, no clock. test/integration/next-fire.test.ts proves it equal to a
 * real server's `ListScheduleMatchingTimes` and `describe().info.nextActionTimes`.
 */
import { type ScheduleSpec } from '@temporalio/client';
// The client's own spec encoder: the calculator must read the spec exactly as it is sent. Its
// path is internal to the client, whose version is pinned exactly in package.json.
import { encodeScheduleSpec } from '@temporalio/client/lib/schedule-helpers';
import { toScheduleSpec } from './cron';
import { offsetFnFor, type OffsetFn } from './zone';

/** calendar.go maxCalendarYear: Temporal never fires after this year. */
const MAX_CALENDAR_YEAR = 2100;
/** workflow.go maxListMatchingTimesCount: ListScheduleMatchingTimes returns at most this many. */
export const MAX_MATCHING_TIMES = 1000;

const HOUR_SECONDS = 3600;

/** A compiled ScheduleSpec that answers "when does Temporal fire next?". */
export interface FireTimeCalculator {
  /** The first fire time strictly after `after` (whole seconds), or null if there is none. */
  next(after: Date): Date | null;
  /** The next `count` fire times after `after`, fewer if the schedule stops firing. */
  take(after: Date, count: number): Date[];
  /**
   * The fire times in (`start`, `end`], at most `limit`: what ListScheduleMatchingTimes returns
   * (whose own limit is MAX_MATCHING_TIMES).
   */
  between(start: Date, end: Date, limit?: number): Date[];
}

interface WireRange {
  start?: number | null;
  end?: number | null;
  step?: number | null;
}

interface WireCalendar {
  second?: WireRange[] | null;
  minute?: WireRange[] | null;
  hour?: WireRange[] | null;
  dayOfMonth?: WireRange[] | null;
  month?: WireRange[] | null;
  year?: WireRange[] | null;
  dayOfWeek?: WireRange[] | null;
}

/** A protobuf Timestamp or Duration as encoded by the client (seconds is a Long). */
interface WireTime {
  seconds?: number | { toNumber(): number } | null;
  nanos?: number | null;
}

/** Civil (wall-clock) fields in a time zone; month 1-12, weekday 0 = Sunday. */
interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

/** Seconds since the epoch of a wall-clock reading taken as if it were UTC (Go normalizes too). */
function civilSeconds(y: number, mo: number, d: number, h: number, m: number, s: number): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, m, s, 0);
  return date.getTime() / 1000;
}

/** Go's `time.Date` and `t.In(loc)` for one zone, on Unix seconds. */
class Zone {
  constructor(private readonly offset: OffsetFn) {}

  civil(unixSeconds: number): Civil {
    const local = new Date((unixSeconds + this.offset(unixSeconds)) * 1000);
    return {
      year: local.getUTCFullYear(),
      month: local.getUTCMonth() + 1,
      day: local.getUTCDate(),
      hour: local.getUTCHours(),
      minute: local.getUTCMinutes(),
      second: local.getUTCSeconds(),
      weekday: local.getUTCDay(),
    };
  }

  /**
   * Go's `time.Date(y, mo, d, h, m, s, 0, loc)` (src/time/time.go, `Date`): it takes the offset
   * in force at the wall-clock reading read as UTC, and if the instant that gives lies outside
   * that offset's period, the offset in force at that instant instead. So a time in a
   * spring-forward gap maps to an instant whose wall clock reads another hour (which
   * calendar.go detects), and an ambiguous time maps to the first copy west of Greenwich (New
   * York) but to the second copy east of it (Berlin).
   */
  date(y: number, mo: number, d: number, h: number, m: number, s: number): number {
    const local = civilSeconds(y, mo, d, h, m, s);
    const guess = this.offset(local);
    if (guess === 0) return local;
    return local - this.offset(local - guess);
  }
}

type Matcher = (value: number) => boolean;

/** calendar.go `iterateRanges` + `makeBitMatcher`: step 0 means 1, end before start means start. */
function bitMatcher(ranges: readonly WireRange[] | null | undefined): Matcher {
  const values = new Set<number>();
  for (const r of ranges ?? []) {
    const start = r.start ?? 0;
    const step = r.step || 1;
    const end = Math.max(r.end ?? 0, start);
    for (let v = start; v <= end; v += step) values.add(v);
  }
  return (value) => values.has(value);
}

/** calendar.go `makeYearMatcher`: no ranges means every year. */
function yearMatcher(ranges: readonly WireRange[] | null | undefined): Matcher {
  if (!ranges || ranges.length === 0) return () => true;
  return bitMatcher(ranges);
}

function isLeapYear(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

/** calendar.go `daysInMonth`, bit trick included (month 13 has 30 days there, harmlessly). */
function daysInMonth(mo: number, y: number): number {
  if (mo === 2) return isLeapYear(y) ? 29 : 28;
  return 30 + ((0b1010110101010 >> mo) & 1);
}

/** calendar.go `compiledCalendar`. */
class CompiledCalendar {
  private readonly year: Matcher;
  private readonly month: Matcher;
  private readonly dayOfMonth: Matcher;
  private readonly dayOfWeek: Matcher;
  private readonly hour: Matcher;
  private readonly minute: Matcher;
  private readonly second: Matcher;

  constructor(
    calendar: WireCalendar,
    private readonly zone: Zone,
  ) {
    this.year = yearMatcher(calendar.year);
    this.month = bitMatcher(calendar.month);
    this.dayOfMonth = bitMatcher(calendar.dayOfMonth);
    this.dayOfWeek = bitMatcher(calendar.dayOfWeek);
    this.hour = bitMatcher(calendar.hour);
    this.minute = bitMatcher(calendar.minute);
    this.second = bitMatcher(calendar.second);
  }

  matches(unixSeconds: number): boolean {
    const c = this.zone.civil(unixSeconds);
    return (
      this.year(c.year) &&
      this.month(c.month) &&
      this.dayOfMonth(c.day) &&
      this.dayOfWeek(c.weekday) &&
      this.hour(c.hour) &&
      this.minute(c.minute) &&
      this.second(c.second)
    );
  }

  /**
   * calendar.go `compiledCalendar.next`, statement for statement: the earliest matching time
   * after `after` (Unix seconds), or null. Kept in Go's shape on purpose, so that it can be
   * compared line by line with the original; its daylight-saving handling is what Temporal does,
   * not what cron would.
   */
  next(after: number): number | null {
    const zone = this.zone;
    const start = zone.civil(after);
    let { year: y, month: mo, day: d, hour: h, minute: m, second: s } = start;
    let dstOffset = 0;
    if (zone.civil(after - HOUR_SECONDS).hour === h) {
      // we're in the second copy of a dst repeated hour
      dstOffset = HOUR_SECONDS;
    }
    s++;

    outer: for (;;) {
      if (s >= 60) {
        m++;
        s = 0;
      }
      if (m >= 60) {
        const prev = zone.date(y, mo, d, h, 0, 0);
        h++;
        m = 0;
        const following = zone.date(y, mo, d, h, 0, 0);
        // moved to the next hour but it is more than an hour later: a repeated hour was skipped
        if (dstOffset === 0 && following - prev > HOUR_SECONDS) {
          h--;
          dstOffset = HOUR_SECONDS;
        } else {
          dstOffset = 0;
        }
      }
      if (h >= 24) {
        d++;
        h = 0;
      }
      if (d > daysInMonth(mo, y)) {
        mo++;
        d = 1;
      }
      if (mo > 12) {
        y++;
        mo = 1;
      }
      if (y > MAX_CALENDAR_YEAR) return null;
      if (!this.year(y)) {
        [y, mo, d, h, m, s] = [y + 1, 1, 1, 0, 0, 0];
        dstOffset = 0;
        continue outer;
      }
      while (!this.month(mo)) {
        [mo, d, h, m, s] = [mo + 1, 1, 0, 0, 0];
        dstOffset = 0;
        if (mo > 12) continue outer;
      }
      while (
        !this.dayOfMonth(d) ||
        !this.dayOfWeek(zone.civil(zone.date(y, mo, d, h, m, s)).weekday)
      ) {
        [d, h, m, s] = [d + 1, 0, 0, 0];
        dstOffset = 0;
        if (d > daysInMonth(mo, y)) continue outer;
      }
      while (!this.hour(h)) {
        [h, m, s] = [h + 1, 0, 0];
        dstOffset = 0;
        if (h >= 24) continue outer;
      }
      while (!this.minute(m)) {
        [m, s] = [m + 1, 0];
        if (m >= 60) continue outer;
      }
      while (!this.second(s)) {
        s++;
        if (s >= 60) continue outer;
      }
      const found = zone.date(y, mo, d, h, m, s);
      // a nonexistent time, jumped over by a dst transition, reads as another hour
      if (zone.civil(found).hour !== h) {
        [h, m, s] = [h + 1, 0, 0];
        continue outer;
      }
      return found + dstOffset;
    }
  }
}

function wireSeconds(value: WireTime | null | undefined): number {
  if (!value) return 0;
  const seconds = value.seconds;
  const whole = typeof seconds === 'number' ? seconds : seconds ? seconds.toNumber() : 0;
  return whole + (value.nanos ?? 0) / 1e9;
}

interface Interval {
  every: number;
  phase: number;
}

/** spec.go `nextIntervalTime`: whole seconds, Go's truncating division. */
function nextIntervalTime({ every, phase }: Interval, ts: number): number {
  return (Math.trunc((ts - phase) / every) + 1) * every + phase;
}

/**
 * Compiles a ScheduleSpec (as given to `client.schedule.create`) into a calculator of the times
 * Temporal fires it. Throws for what it cannot predict: `cronExpressions` (parsed by the server,
 * never sent by this project) and `jitter`.
 */
export function compileFireTimes(spec: ScheduleSpec): FireTimeCalculator {
  const wire = encodeScheduleSpec(spec);
  if (wire.cronString && wire.cronString.length > 0) {
    throw new TypeError('cronExpressions are not supported: use toScheduleSpec calendars');
  }
  if (wireSeconds(wire.jitter) > 0) {
    throw new TypeError('jitter is not supported: Temporal derives it from the schedule id');
  }
  const zone = new Zone(offsetFnFor(wire.timezoneName ?? ''));
  const calendars = (wire.structuredCalendar ?? []).map((c) => new CompiledCalendar(c, zone));
  const excludes = (wire.excludeStructuredCalendar ?? []).map((c) => new CompiledCalendar(c, zone));
  const intervals: Interval[] = (wire.interval ?? []).map((iv) => ({
    every: Math.max(Math.trunc(wireSeconds(iv.interval)), 1),
    phase: Math.max(Math.trunc(wireSeconds(iv.phase)), 0),
  }));
  const startTime = wire.startTime ? wireSeconds(wire.startTime) : 0;
  const endTime = wire.endTime ? wireSeconds(wire.endTime) : undefined;

  /** spec.go `rawNextTime`, on Unix seconds (Go's `Unix()` floors). */
  const rawNextTime = (after: number): number | null => {
    let min = Infinity;
    for (const calendar of calendars) {
      const next = calendar.next(after);
      if (next !== null && next < min) min = next;
    }
    const ts = Math.floor(after);
    for (const interval of intervals) {
      const next = nextIntervalTime(interval, ts);
      if (next < min) min = next;
    }
    return min === Infinity ? null : min;
  };

  const pastEnd = (t: number): boolean =>
    (endTime !== undefined && t > endTime) ||
    new Date(t * 1000).getUTCFullYear() > MAX_CALENDAR_YEAR;

  /** spec.go `GetNextTime` without jitter. */
  const nextSeconds = (afterSeconds: number): number | null => {
    let after = Math.max(afterSeconds, startTime - 1);
    for (;;) {
      const nominal = rawNextTime(after);
      if (nominal === null || pastEnd(nominal)) return null;
      if (!excludes.some((exclude) => exclude.matches(nominal))) return nominal;
      after = nominal;
    }
  };

  const next = (after: Date): Date | null => {
    const found = nextSeconds(after.getTime() / 1000);
    if (found === null) return null;
    // Temporal's own loop has the same invariant; a breach must fail, not spin a request.
    if (found * 1000 <= after.getTime()) {
      throw new Error(`fire time ${found} is not after ${after.toISOString()}`);
    }
    return new Date(found * 1000);
  };

  return {
    next,
    take(after, count) {
      const out: Date[] = [];
      let t: Date | null = after;
      while (out.length < count && (t = next(t)) !== null) out.push(t);
      return out;
    },
    between(start, end, limit = Infinity) {
      // workflow.go handleListMatchingTimesQuery: after start, up to and including end.
      const out: Date[] = [];
      let t: Date | null = start;
      while (out.length < limit && (t = next(t)) !== null && t <= end) out.push(t);
      return out;
    },
  };
}

/**
 * The next `count` times Temporal fires a task's schedule after `after`: the same inputs as
 * `toScheduleSpec`, whose ScheduleError it throws for an invalid schedule or time zone.
 */
export function nextFireTimes(
  schedule: string,
  timezone: string,
  after: Date,
  count: number,
): Date[] {
  return compileFireTimes(toScheduleSpec(schedule, timezone)).take(after, count);
}
