import { type ReactNode, useEffect, useState } from 'react';
import {
  DEFAULT_DISCORD_STYLE,
  DISCORD_TIMESTAMP_MARKUP,
  type DiscordTimestampStyle,
  formatDiscordTimestamp,
} from './templates';

/**
 * Discord's markdown basics, rendered as React elements (never as HTML, so nothing the user types
 * can inject markup): ```code blocks```, `inline code`, **bold**, __underline__, *italic* or
 * _italic_, ~~strike~~, [masked links](https://...) and bare https links, line breaks, and
 * timestamps (`<t:1798102860:R>`) shown in the reader's own language and time zone.
 */
const RULES: { re: RegExp; render: (m: RegExpExecArray, key: number) => ReactNode }[] = [
  {
    re: /```(?:[\w+-]*\n)?([\s\S]*?)```/,
    render: (m, key) => (
      <pre key={key}>
        <code>{m[1]}</code>
      </pre>
    ),
  },
  { re: /`([^`\n]+)`/, render: (m, key) => <code key={key}>{m[1]}</code> },
  {
    re: /\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/,
    render: (m, key) => (
      <a key={key} href={m[2]} target="_blank" rel="noreferrer noopener">
        {inline(m[1]!)}
      </a>
    ),
  },
  { re: /\*\*([\s\S]+?)\*\*/, render: (m, key) => <strong key={key}>{inline(m[1]!)}</strong> },
  { re: /__([\s\S]+?)__/, render: (m, key) => <u key={key}>{inline(m[1]!)}</u> },
  {
    re: /(?:\*([^*\s][^*]*?)\*|\b_([^_\s][^_]*?)_\b)/,
    render: (m, key) => <em key={key}>{inline((m[1] ?? m[2])!)}</em>,
  },
  { re: /~~([\s\S]+?)~~/, render: (m, key) => <s key={key}>{inline(m[1]!)}</s> },
  {
    re: DISCORD_TIMESTAMP_MARKUP,
    render: (m, key) => (
      <Timestamp
        key={key}
        markup={m[0]}
        seconds={Number(m[1])}
        style={(m[2] as DiscordTimestampStyle | undefined) ?? DEFAULT_DISCORD_STYLE}
      />
    ),
  },
  {
    re: /https?:\/\/[^\s<]+[^\s<.,:;"')\]]/,
    render: (m, key) => (
      <a key={key} href={m[0]} target="_blank" rel="noreferrer noopener">
        {m[0]}
      </a>
    ),
  },
];

/** As Discord shows one: formatted, highlighted, the full date and time in its tooltip. */
function Timestamp(props: { markup: string; seconds: number; style: DiscordTimestampStyle }) {
  const now = useNow(props.style === 'R' ? 30_000 : null);
  const date = new Date(props.seconds * 1000);
  // A time no Date can hold has no rendering to imitate: the markup stays as typed.
  if (Number.isNaN(date.getTime())) return <>{props.markup}</>;
  return (
    <time
      className="dc-timestamp"
      dateTime={date.toISOString()}
      title={formatDiscordTimestamp(date, 'F')}
    >
      {formatDiscordTimestamp(date, props.style, now)}
    </time>
  );
}

/** The current time, renewed every `every` ms (never when null): Discord's relative times tick. */
function useNow(every: number | null): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (every === null) return;
    const timer = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(timer);
  }, [every]);
  return now;
}

function inline(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let rest = text;
  let key = 0;
  while (rest.length > 0) {
    let best: { match: RegExpExecArray; rule: (typeof RULES)[number] } | undefined;
    for (const rule of RULES) {
      const match = rule.re.exec(rest);
      if (match && (!best || match.index < best.match.index)) best = { match, rule };
    }
    if (!best) {
      out.push(...lines(rest, key));
      break;
    }
    if (best.match.index > 0) out.push(...lines(rest.slice(0, best.match.index), key++));
    out.push(best.rule.render(best.match, key++));
    rest = rest.slice(best.match.index + best.match[0].length);
  }
  return out;
}

function lines(text: string, key: number): ReactNode[] {
  return text
    .split('\n')
    .flatMap((line, i) => (i === 0 ? [line] : [<br key={`${key}-${i}`} />, line]));
}

export function Markdown({ text }: { text: string }) {
  return <>{inline(text)}</>;
}
