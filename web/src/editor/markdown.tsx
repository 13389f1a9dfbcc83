import type { ReactNode } from 'react';

/**
 * Discord's markdown basics, rendered as React elements (never as HTML, so nothing the user types
 * can inject markup): ```code blocks```, `inline code`, **bold**, __underline__, *italic* or
 * _italic_, ~~strike~~, [masked links](https://...) and bare https links, and line breaks.
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
    re: /https?:\/\/[^\s<]+[^\s<.,:;"')\]]/,
    render: (m, key) => (
      <a key={key} href={m[0]} target="_blank" rel="noreferrer noopener">
        {m[0]}
      </a>
    ),
  },
];

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
