import { useQuery } from '@tanstack/react-query';
import { useEffect, useId, useState } from 'react';
import { api, type ApiError, call, type SchedulePreview } from '../api/client';
import { Field } from '../ui/Field';
import { zonedTime } from '../ui/format';
import { DEFAULT_SCHEDULE } from './model';
import { atSchedule, isOneOff, wallOfAt, wallTime } from './wall-time';

/** A task's bounds (SPEC §14) as the preview takes them, and the runs already made of maxRuns. */
export interface PreviewBounds {
  startAt?: string | null;
  endAt?: string | null;
  maxRuns?: number | null;
  /** Scheduled runs made so far: they count against maxRuns, so fewer are listed. */
  runsMade?: number;
}

/**
 * The schedule in words and its next runs in the task's zone, within its bounds, from the API as
 * the user types.
 */
export function useSchedulePreview(
  schedule: string,
  timezone: string,
  bounds: PreviewBounds = {},
  count = 5,
) {
  const wanted = {
    schedule,
    timezone,
    startAt: bounds.startAt ?? null,
    endAt: bounds.endAt ?? null,
    maxRuns: bounds.maxRuns ?? null,
  };
  // One string for the effect to depend on: the bounds object is new on every render.
  const key = JSON.stringify(wanted);
  const [input, setInput] = useState(key);
  useEffect(() => {
    const timer = setTimeout(() => setInput(key), 300);
    return () => clearTimeout(timer);
  }, [key]);
  const sent = JSON.parse(input) as typeof wanted;
  const left = sent.maxRuns === null ? Infinity : sent.maxRuns - (bounds.runsMade ?? 0);
  return useQuery<SchedulePreview, ApiError>({
    queryKey: ['schedule-preview', input, count],
    queryFn: () =>
      call(
        api.POST('/api/schedules/preview', {
          body: {
            schedule: sent.schedule,
            timezone: sent.timezone,
            count,
            ...(sent.startAt ? { startAt: sent.startAt } : {}),
            ...(sent.endAt ? { endAt: sent.endAt } : {}),
            ...(sent.maxRuns !== null ? { maxRuns: sent.maxRuns } : {}),
          },
        }),
      ),
    select: (preview) => ({ ...preview, nextRuns: preview.nextRuns.slice(0, Math.max(0, left)) }),
    enabled: sent.schedule.trim() !== '' && sent.timezone !== '',
    placeholderData: (previous) => previous,
    retry: false,
    staleTime: 30_000,
  });
}

/** The preview's error for one field (`body.schedule`, `body.timezone`, ...), if any. */
export function previewError(error: ApiError | null, field: string): string | undefined {
  return error?.errors.find((e) => e.path === `body.${field}`)?.message;
}

export function NextRuns(props: {
  preview?: SchedulePreview;
  timezone: string;
  loading?: boolean;
}) {
  if (!props.preview) return props.loading ? <p className="muted">Computing…</p> : null;
  return (
    <div className="next-runs">
      <p className="schedule-words">{props.preview.description}</p>
      {props.preview.nextRuns.length === 0 ? (
        <p className="muted">This schedule never fires again.</p>
      ) : (
        <ol aria-label="Next runs">
          {props.preview.nextRuns.map((at) => (
            <li key={at}>
              <time dateTime={at}>{zonedTime(at, props.timezone)}</time>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

/** Tomorrow at 09:00 in `timeZone`: where the "Once" picker starts. */
const tomorrowMorning = (timeZone: string) =>
  `${wallTime(new Date(Date.now() + 86_400_000), timeZone).slice(0, 10)}T09:00`;

/**
 * How a task runs: repeatedly, on a schedule typed as cron or a macro, or once, at a date and
 * time picked in the task's time zone (written into the schedule as a local `@at`, SPEC §14).
 */
export function ScheduleField(props: {
  schedule: string;
  timezone: string;
  error?: string;
  onChange: (schedule: string) => void;
}) {
  const id = useId();
  const [once, setOnce] = useState(() => isOneOff(props.schedule));
  // What "On a schedule" brings back after a look at "Once".
  const [repeating, setRepeating] = useState(() =>
    isOneOff(props.schedule) ? DEFAULT_SCHEDULE : props.schedule,
  );
  const choose = (toOnce: boolean) => {
    setOnce(toOnce);
    if (!toOnce) {
      props.onChange(repeating);
    } else if (!isOneOff(props.schedule)) {
      // Kept for the way back; a one-off typed into the schedule is shown in the picker as it is.
      setRepeating(props.schedule);
      props.onChange(atSchedule(tomorrowMorning(props.timezone)));
    }
  };
  const choices = [
    { once: false, label: 'On a schedule' },
    { once: true, label: 'Once, at a date and time' },
  ];

  return (
    <>
      <fieldset className="field choices inline">
        <legend>Runs</legend>
        {choices.map((choice) => (
          <label className="choice" key={choice.label}>
            <input
              type="radio"
              name={`${id}-runs`}
              checked={once === choice.once}
              onChange={() => choose(choice.once)}
            />
            {choice.label}
          </label>
        ))}
      </fieldset>
      {once ? (
        <Field
          label="Run once at"
          error={props.error}
          hint={
            <>
              In the task's time zone, {props.timezone}. It must lie in the future; the task is
              completed after its run.
            </>
          }
        >
          {(control) => (
            <input
              {...control}
              type="datetime-local"
              value={wallOfAt(props.schedule, props.timezone)}
              required
              onChange={(e) => props.onChange(atSchedule(e.target.value))}
            />
          )}
        </Field>
      ) : (
        <Field
          label="Schedule"
          error={props.error}
          hint={
            <>
              5-field cron (minute hour day-of-month month day-of-week), a macro such as{' '}
              <code>@daily</code>, or <code>@every 15m</code>.
            </>
          }
        >
          {(control) => (
            <input
              {...control}
              value={props.schedule}
              required
              spellCheck={false}
              autoComplete="off"
              onChange={(e) => props.onChange(e.target.value)}
            />
          )}
        </Field>
      )}
    </>
  );
}
