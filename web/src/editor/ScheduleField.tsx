import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, type ApiError, call, type SchedulePreview } from '../api/client';
import { zonedTime } from '../ui/format';

/** The schedule in words and its next runs in the task's zone, from the API as the user types. */
export function useSchedulePreview(schedule: string, timezone: string, count = 5) {
  const [input, setInput] = useState({ schedule, timezone });
  useEffect(() => {
    const timer = setTimeout(() => setInput({ schedule, timezone }), 300);
    return () => clearTimeout(timer);
  }, [schedule, timezone]);
  return useQuery<SchedulePreview, ApiError>({
    queryKey: ['schedule-preview', input.schedule, input.timezone, count],
    queryFn: () =>
      call(
        api.POST('/api/schedules/preview', {
          body: { schedule: input.schedule, timezone: input.timezone, count },
        }),
      ),
    enabled: input.schedule.trim() !== '' && input.timezone !== '',
    placeholderData: (previous) => previous,
    retry: false,
    staleTime: 30_000,
  });
}

/** The preview's error for one field (`body.schedule`, `body.timezone`), if any. */
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
