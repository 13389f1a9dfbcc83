import type { ReactNode } from 'react';
import type { Task } from '../api/client';
import { Field } from '../ui/Field';
import type { Draft } from './model';

type BoundKey = 'startAt' | 'endAt' | 'maxRuns';

/**
 * When a task may run (SPEC §14): a start, an end and the most scheduled runs, all optional and
 * each clearable. The times are wall-clock times in the task's zone, like the "Once" picker.
 */
export function BoundsFields(props: {
  draft: Draft;
  errors: Partial<Record<BoundKey, string>>;
  set: (patch: Partial<Draft>) => void;
  /** The saved task, when editing: its runs left are shown. */
  saved?: Task;
}) {
  const { draft, errors, set, saved } = props;
  const zone = draft.timezone;
  return (
    <>
      <h3>Start and end</h3>
      <DateTimeField
        label="Start at"
        value={draft.startAt}
        error={errors.startAt}
        hint={`Optional: no run before this time, in the task's time zone (${zone}).`}
        onChange={(startAt) => set({ startAt })}
      />
      <DateTimeField
        label="End at"
        value={draft.endAt}
        error={errors.endAt}
        hint={`Optional: no run after this time (${zone}); the task is completed after its last run.`}
        onChange={(endAt) => set({ endAt })}
      />
      <Field
        label="Max runs"
        error={errors.maxRuns}
        hint={
          <>
            Optional: at most this many scheduled runs (“Run now” does not count); the task is
            completed after the last. Empty: no limit.
            {saved && saved.maxRuns !== null && saved.runsLeft !== null && (
              <>
                {' '}
                Now {saved.runsLeft} of {saved.maxRuns} left: the runs made count against a new
                limit.
              </>
            )}
          </>
        }
      >
        {(control) => (
          <input
            {...control}
            type="number"
            className="short"
            min={1}
            step={1}
            inputMode="numeric"
            placeholder="no limit"
            value={draft.maxRuns}
            onChange={(e) => set({ maxRuns: e.target.value })}
          />
        )}
      </Field>
    </>
  );
}

/** A date and time in the task's zone, with a button that empties it (a picker alone cannot). */
function DateTimeField(props: {
  label: string;
  value: string;
  error?: string;
  hint: ReactNode;
  onChange: (value: string) => void;
}) {
  return (
    <Field label={props.label} error={props.error} hint={props.hint}>
      {(control) => (
        <div className="inline-control">
          <input
            {...control}
            type="datetime-local"
            value={props.value}
            onChange={(e) => props.onChange(e.target.value)}
          />
          {props.value && (
            <button
              type="button"
              onClick={() => {
                props.onChange('');
                // The button goes with the value: keep the keyboard where it was.
                document.getElementById(control.id)?.focus();
              }}
            >
              Clear<span className="visually-hidden"> {props.label.toLowerCase()}</span>
            </button>
          )}
        </div>
      )}
    </Field>
  );
}
