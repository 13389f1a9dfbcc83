/**
 * A task's schedule in words ("At 09:00, Monday through Friday"), for the schedule preview route
 * and the web console's task table, which imports this module too so both say the same thing.
 * Pure and browser-safe: no Node built-ins, no clock. It describes; parseSchedule (cron.ts)
 * decides what is valid, so call it on a schedule that parsed.
 */
import cronstrue from 'cronstrue';
import { MACROS } from './macros';

const UNITS = { s: 'second', m: 'minute', h: 'hour', d: 'day' } as const;

/** The schedule in English words, or the expression itself when it cannot be described. */
export function describeSchedule(expression: string): string {
  const normalized = expression.trim().split(/\s+/).join(' ');
  const lower = normalized.toLowerCase();
  const every = /^@every (\d+)([smhd])$/.exec(lower);
  if (every) {
    const n = Number(every[1]);
    const unit = UNITS[every[2] as keyof typeof UNITS];
    // Temporal counts intervals from the Unix epoch, so they line up with UTC, not the task's zone.
    return `${n === 1 ? `Every ${unit}` : `Every ${n} ${unit}s`} (counted from 00:00 UTC)`;
  }
  const at = /^@at (\d{4}-\d{2}-\d{2})[t ](\d{2}:\d{2}(?::\d{2})?)(.*)$/.exec(lower);
  if (at) {
    // A local time is the task's time zone's; an offset is said as written.
    const offset = (at[3] ?? '').toUpperCase();
    return `Once, on ${at[1]} at ${at[2]}${offset ? ` ${offset === 'Z' ? 'UTC' : `UTC${offset}`}` : ''}`;
  }
  const cron = MACROS[lower] ?? normalized;
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return normalized;
  }
}
