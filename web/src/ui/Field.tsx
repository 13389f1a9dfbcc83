import { type ReactNode, useId } from 'react';

/**
 * A labelled form control with its hint, its API error (the 400's `errors` entry for its path)
 * and, for text with a Discord limit, a live count. The error is tied to the control with
 * aria-describedby and aria-invalid, so a screen reader announces it with the field.
 */
export function Field(props: {
  label: string;
  error?: string;
  hint?: ReactNode;
  count?: { value: number; max: number };
  children: (control: {
    id: string;
    'aria-describedby'?: string;
    'aria-invalid'?: boolean;
  }) => ReactNode;
  className?: string;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const countId = `${id}-count`;
  const describedBy =
    [props.error && errorId, props.hint && hintId, props.count && countId]
      .filter(Boolean)
      .join(' ') || undefined;
  const over = props.count && props.count.value > props.count.max;
  return (
    <div className={`field ${props.className ?? ''}`}>
      <div className="field-head">
        <label htmlFor={id}>{props.label}</label>
        {props.count && (
          <span id={countId} className={over ? 'count over' : 'count'}>
            {props.count.value}/{props.count.max}
            <span className="visually-hidden"> characters</span>
          </span>
        )}
      </div>
      {props.children({
        id,
        'aria-describedby': describedBy,
        'aria-invalid': props.error ? true : undefined,
      })}
      {props.hint && (
        <div id={hintId} className="hint">
          {props.hint}
        </div>
      )}
      {props.error && (
        <div id={errorId} className="field-error">
          {props.error}
        </div>
      )}
    </div>
  );
}
