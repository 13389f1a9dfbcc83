/** The template variables of SPEC §5, with the sample values the preview shows for them. */
export const TEMPLATE_VARIABLES = [
  { name: 'task.name', label: 'Task name' },
  { name: 'task.id', label: 'Task id' },
  { name: 'execution.scheduledTime', label: 'Scheduled time' },
  { name: 'execution.time', label: 'Delivery time' },
  { name: 'execution.attempt', label: 'Attempt number' },
] as const;

/** The variables that hold a time: the ones the `discord` filter applies to (SPEC §13). */
export const TIME_VARIABLES: readonly string[] = ['execution.scheduledTime', 'execution.time'];

export type DiscordTimestampStyle = 't' | 'T' | 'd' | 'D' | 'f' | 'F' | 'R';

/**
 * Discord's timestamp styles, in the order the variable menu offers them (relative first: it is
 * what a reminder usually wants), named as Discord names them.
 */
export const DISCORD_TIMESTAMP_STYLES: readonly { style: DiscordTimestampStyle; label: string }[] =
  [
    { style: 'R', label: 'relative' },
    { style: 't', label: 'short time' },
    { style: 'T', label: 'long time' },
    { style: 'd', label: 'short date' },
    { style: 'D', label: 'long date' },
    { style: 'f', label: 'short date and time' },
    { style: 'F', label: 'long date and time' },
  ];

/** What `<t:…>` without a style means to Discord, and what `|discord` without one renders. */
export const DEFAULT_DISCORD_STYLE: DiscordTimestampStyle = 'f';

const STYLES = new Set<string>(DISCORD_TIMESTAMP_STYLES.map((s) => s.style));

export interface SampleValues {
  taskId: string;
  taskName: string;
  scheduledTime: string;
  time: string;
}

// The server's grammar (src/discord/template.ts), so the preview shows what a delivery sends: a
// tag whose closing braces do not follow the name and filter directly is malformed (group 4
// missing) and stays literal, as it does there.
const TAG =
  /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\s*\|\s*([A-Za-z_][A-Za-z0-9_]*)(?::([^\s{}|]*))?)?(\s*\}\})?/g;

/** Discord's timestamp markup for an ISO time, as the server renders `|discord:<style>`. */
export function discordTimestamp(iso: string, style: string = DEFAULT_DISCORD_STYLE): string {
  return `<t:${Math.floor(Date.parse(iso) / 1000)}:${style}>`;
}

/**
 * The text as a delivery would render it, with sample values. Unknown tags, malformed ones and
 * filters the server refuses stay as written: saving reports them at their field.
 */
export function renderSample(text: string, sample: SampleValues): string {
  const values: Record<string, string> = {
    'task.id': sample.taskId,
    'task.name': sample.taskName,
    'execution.scheduledTime': sample.scheduledTime,
    'execution.time': sample.time,
    'execution.attempt': '1',
  };
  return text.replace(
    TAG,
    (
      tag: string,
      name: string,
      filter: string | undefined,
      style: string | undefined,
      close: string | undefined,
    ) => {
      const value = values[name];
      if (close === undefined || value === undefined) return tag;
      if (filter === undefined) return value;
      const valid =
        filter === 'discord' &&
        TIME_VARIABLES.includes(name) &&
        (style === undefined || STYLES.has(style)) &&
        !Number.isNaN(Date.parse(value));
      return valid ? discordTimestamp(value, style) : tag;
    },
  );
}

/** Discord's markup `<t:<unix seconds>[:style]>`; the seconds' range is what a Date can hold. */
export const DISCORD_TIMESTAMP_MARKUP = /<t:(-?\d{1,13})(?::([tTdDfFR]))?>/;

const RELATIVE_UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/**
 * A timestamp as Discord shows it to this reader: in the browser's language and time zone. The
 * date and the time are formatted apart and joined by a space because Intl's combined styles add
 * words ("at") that Discord does not show.
 */
export function formatDiscordTimestamp(
  date: Date,
  style: DiscordTimestampStyle,
  now: number = Date.now(),
): string {
  const format = (options: Intl.DateTimeFormatOptions) =>
    new Intl.DateTimeFormat(undefined, options).format(date);
  const shortTime = () => format({ hour: 'numeric', minute: '2-digit' });
  const longDate = () => format({ year: 'numeric', month: 'long', day: 'numeric' });
  switch (style) {
    case 't':
      return shortTime();
    case 'T':
      return format({ hour: 'numeric', minute: '2-digit', second: '2-digit' });
    case 'd':
      return format({ year: 'numeric', month: '2-digit', day: '2-digit' });
    case 'D':
      return longDate();
    case 'f':
      return `${longDate()} ${shortTime()}`;
    case 'F':
      return `${format({ weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' })} ${shortTime()}`;
    case 'R': {
      const seconds = (date.getTime() - now) / 1000;
      const [unit, size] = RELATIVE_UNITS.find(([, s]) => Math.abs(seconds) >= s) ?? ['second', 1];
      // "always": Discord says "in 1 day", never "tomorrow".
      return new Intl.RelativeTimeFormat(undefined, { numeric: 'always' }).format(
        Math.round(seconds / size),
        unit,
      );
    }
  }
}
