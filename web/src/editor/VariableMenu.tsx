import { type RefObject, useRef, useState } from 'react';
import type { InsertTarget } from './ComposerField';
import { DISCORD_TIMESTAMP_STYLES, TEMPLATE_VARIABLES, TIME_VARIABLES } from './templates';

/**
 * Inserts `{{ variable }}` (or, for a time, its Discord timestamp form
 * `{{ variable|discord:style }}`) at the caret of the message field last focused (the content when
 * none was), then puts the focus back there, after the inserted tag.
 */
export function VariableMenu(props: {
  target: RefObject<InsertTarget | null>;
  fallback: () => InsertTarget | null;
}) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const insert = (tag: string) => {
    const target = props.target.current ?? props.fallback();
    setOpen(false);
    if (!target) return;
    const { element } = target;
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
              <button type="button" onClick={() => insert(`{{${v.name}}}`)}>
                {v.label} <code>{`{{${v.name}}}`}</code>
              </button>
              {TIME_VARIABLES.includes(v.name) && (
                <TimestampStyles variable={v.name} label={v.label} onPick={(tag) => insert(tag)} />
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * One button per Discord timestamp style. Each is named in full ("Scheduled time, as a Discord
 * timestamp (relative)") because a screen reader or a voice command meets it out of its row; the
 * tag it inserts is its description.
 */
function TimestampStyles(props: {
  variable: string;
  label: string;
  onPick: (tag: string) => void;
}) {
  const group = `${props.label}, as a Discord timestamp`;
  return (
    <div className="menu-styles" role="group" aria-label={group}>
      <span className="menu-styles-head" aria-hidden="true">
        As a Discord timestamp:
      </span>
      {DISCORD_TIMESTAMP_STYLES.map(({ style, label }) => {
        const tag = `{{${props.variable}|discord:${style}}}`;
        return (
          <button
            key={style}
            type="button"
            aria-label={`${group} (${label})`}
            title={tag}
            onClick={() => props.onPick(tag)}
          >
            {label}
          </button>
        );
      })}
    </div>
  );
}
