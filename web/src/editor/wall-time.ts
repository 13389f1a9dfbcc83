import { atInstant, atOf, parseAtTime } from '../../../src/schedule/at';

/**
 * Wall-clock times in the task's time zone, as `<input type="datetime-local">` holds them
 * (`YYYY-MM-DDTHH:MM`, `:SS` when the seconds are not zero). The editor's date-time fields mean
 * the task's zone, not the browser's, so the API's own reading of a local `@at` (src/schedule/at.ts:
 * a time a daylight-saving change skips moves forward, a repeated one is the first) turns them
 * into instants: what the picker shows is what the server runs.
 */

/** The wall-clock time of an instant in `timeZone`; '' for a zone this browser does not know. */
export function wallTime(instant: Date, timeZone: string): string {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).formatToParts(instant);
  } catch {
    return '';
  }
  const f = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  const seconds = f.second === '00' ? '' : `:${f.second}`;
  return `${f.year}-${f.month}-${f.day}T${f.hour}:${f.minute}${seconds}`;
}

/** The instant (ISO 8601 UTC) a wall-clock time names in `timeZone`, or null for '' or nonsense. */
export function instantOf(wall: string, timeZone: string): string | null {
  const parsed = parseAtTime(wall);
  if (!parsed.ok || parsed.at.offsetSeconds !== undefined) return null;
  try {
    return atInstant(parsed.at, timeZone).toISOString();
  } catch {
    // An unknown zone: the API says so at the time zone field.
    return null;
  }
}

/** An ISO instant from the API as the wall-clock time the editor shows; '' for none. */
export function wallOfInstant(iso: string | null | undefined, timeZone: string): string {
  return iso ? wallTime(new Date(iso), timeZone) : '';
}

/**
 * What the "Once at" picker shows for a schedule: the `@at` time as written when it is local, or
 * converted to `timeZone` when it carries an offset; '' for any other schedule.
 */
export function wallOfAt(schedule: string, timeZone: string): string {
  const parsed = atOf(schedule);
  if (!parsed?.ok) return '';
  const { at } = parsed;
  if (at.offsetSeconds !== undefined) return wallTime(atInstant(at, timeZone), timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  const seconds = at.second === 0 ? '' : `:${two(at.second)}`;
  return `${at.year}-${two(at.month)}-${two(at.day)}T${two(at.hour)}:${two(at.minute)}${seconds}`;
}

/** The schedule a picked wall-clock time makes: a one-off local to the task's zone. */
export const atSchedule = (wall: string): string => `@at ${wall}`.trim();

/** Whether a schedule is a one-off the picker can show. */
export const isOneOff = (schedule: string): boolean => atOf(schedule)?.ok === true;
