import { createContext, type RefObject, useContext } from 'react';
import { Field } from '../ui/Field';

/** The text control the "Insert variable" menu writes into: the last one focused. */
export interface InsertTarget {
  element: HTMLInputElement | HTMLTextAreaElement;
  set: (value: string) => void;
}

export const InsertTargetContext = createContext<RefObject<InsertTarget | null> | null>(null);

/** A composer text control: label, live count against Discord's limit, API error at its path. */
export function ComposerField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
  max?: number;
  multiline?: boolean;
  type?: 'text' | 'url';
  placeholder?: string;
  hint?: string;
  className?: string;
}) {
  const target = useContext(InsertTargetContext);
  const remember = (element: HTMLInputElement | HTMLTextAreaElement) => {
    if (target) target.current = { element, set: props.onChange };
  };
  return (
    <Field
      label={props.label}
      error={props.error}
      hint={props.hint}
      className={props.className}
      count={props.max ? { value: props.value.length, max: props.max } : undefined}
    >
      {(control) =>
        props.multiline ? (
          <textarea
            {...control}
            value={props.value}
            rows={4}
            placeholder={props.placeholder}
            onChange={(e) => props.onChange(e.target.value)}
            onFocus={(e) => remember(e.currentTarget)}
          />
        ) : (
          <input
            {...control}
            type={props.type ?? 'text'}
            value={props.value}
            placeholder={props.placeholder}
            onChange={(e) => props.onChange(e.target.value)}
            onFocus={(e) => remember(e.currentTarget)}
          />
        )
      }
    </Field>
  );
}
