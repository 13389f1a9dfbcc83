import { type RefObject, useRef, useState } from 'react';
import type { InsertTarget } from './ComposerField';
import { TEMPLATE_VARIABLES } from './templates';

/**
 * Inserts `{{ variable }}` at the caret of the message field last focused (the content when
 * none was), then puts the focus back there, after the inserted tag.
 */
export function VariableMenu(props: {
  target: RefObject<InsertTarget | null>;
  fallback: () => InsertTarget | null;
}) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const insert = (name: string) => {
    const target = props.target.current ?? props.fallback();
    setOpen(false);
    if (!target) return;
    const { element } = target;
    const tag = `{{${name}}}`;
    const start = element.selectionStart ?? element.value.length;
    const end = element.selectionEnd ?? start;
    target.set(element.value.slice(0, start) + tag + element.value.slice(end));
    requestAnimationFrame(() => {
      element.focus();
      element.setSelectionRange(start + tag.length, start + tag.length);
    });
  };
  return (
    <div
      className="variable-menu"
      onKeyDown={(event) => {
        if (event.key === 'Escape' && open) {
          event.preventDefault();
          setOpen(false);
          button.current?.focus();
        }
      }}
    >
      <button
        ref={button}
        type="button"
        aria-expanded={open}
        aria-controls="variable-list"
        onClick={() => setOpen(!open)}
      >
        Insert variable
      </button>
      {open && (
        <ul id="variable-list" className="menu" aria-label="Template variables">
          {TEMPLATE_VARIABLES.map((v) => (
            <li key={v.name}>
              <button type="button" onClick={() => insert(v.name)}>
                {v.label} <code>{`{{${v.name}}}`}</code>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
