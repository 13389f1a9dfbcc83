/**
 * `POST /api/schedules/preview` (SPEC §10): a schedule in words and its next fire times, as the
 * console's editor shows them while the user types. Validation is the task's own (parseSchedule,
 * isValidTimeZone, the same messages), and the times come from the calculator that `nextRunAt`
 * uses, proven equal to Temporal's answers by test/integration/next-fire.test.ts. Pure apart from
 * the `now` it is given.
 */
import { type FieldError, ValidationError } from '../errors';
import { isValidTimeZone, parseSchedule, toScheduleSpec } from './cron';
import { describeSchedule } from './describe';
import { compileFireTimes } from './next-fire';

export interface SchedulePreviewInput {
  schedule: string;
  timezone?: string;
  count?: number;
  /** Bounds as a task has them (SPEC §14): the runs listed are those Temporal fires. */
  startAt?: string | null;
  endAt?: string | null;
  maxRuns?: number | null;
}

export interface SchedulePreview {
  description: string;
  timezone: string;
  /** ISO 8601 UTC instants, soonest first; fewer than asked when the schedule stops firing. */
  nextRuns: string[];
}

export const DEFAULT_PREVIEW_COUNT = 5;

export function previewSchedule(input: SchedulePreviewInput, now: Date): SchedulePreview {
  const timezone = input.timezone ?? 'UTC';
  const errors: FieldError[] = [];
  const parsed = parseSchedule(input.schedule);
  if (!parsed.ok) errors.push({ path: 'body.schedule', message: parsed.reason });
  // The message task validation gives (task.service.ts), so the editor can show either verbatim.
  if (!isValidTimeZone(timezone)) {
    errors.push({ path: 'body.timezone', message: `unknown IANA time zone "${timezone}"` });
  }
  if (errors.length > 0) throw new ValidationError('The schedule is invalid; see errors.', errors);
  const calculator = compileFireTimes(
    toScheduleSpec(input.schedule, timezone, {
      startAt: input.startAt ? new Date(input.startAt) : null,
      endAt: input.endAt ? new Date(input.endAt) : null,
    }),
  );
  const count = Math.min(input.count ?? DEFAULT_PREVIEW_COUNT, input.maxRuns ?? Infinity);
  return {
    description: describeSchedule(input.schedule),
    timezone,
    nextRuns: calculator.take(now, count).map((at) => at.toISOString()),
  };
}
