/**
 * A time zone's offset from UTC at an instant, from Intl (the tz database in Node's ICU). Shared
 * by the fire-time calculator (next-fire.ts) and the `@at` reader (at.ts). Pure: no clock.
 */
import { ScheduleError } from './errors';

/** Offset from UTC in seconds of a zone at a Unix time in seconds. */
export type OffsetFn = (unixSeconds: number) => number;

const offsetFns = new Map<string, OffsetFn>();

/** Go's LoadLocation: '' and 'UTC' are UTC; other names come from the tz database. */
export function offsetFnFor(timeZone: string): OffsetFn {
  if (timeZone === '' || timeZone === 'UTC') return () => 0;
  const cached = offsetFns.get(timeZone);
  if (cached) return cached;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new ScheduleError(`unknown time zone '${timeZone}'`, 'timezone');
  }
  const fn: OffsetFn = (unixSeconds) => {
    const whole = Math.floor(unixSeconds);
    const fields: Record<string, number> = {};
    for (const part of format.formatToParts(whole * 1000)) {
      if (part.type !== 'literal') fields[part.type] = Number(part.value);
    }
    const local = Date.UTC(
      fields.year ?? 1970,
      (fields.month ?? 1) - 1,
      fields.day ?? 1,
      fields.hour ?? 0,
      fields.minute ?? 0,
      fields.second ?? 0,
    );
    return local / 1000 - whole;
  };
  offsetFns.set(timeZone, fn);
  return fn;
}
