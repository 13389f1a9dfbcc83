import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const DOCS = ['architecture.md', 'delivery.md', 'operations.md', 'benchmarks.md', 'decisions.md'];
const MAX_README_LINES = 250;

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

/**
 * The markdown files whose links must resolve, relative to the repository root: the front door,
 * the docs, and the benchmark history the docs send readers to.
 */
function documents(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'bench/results/HISTORY.md', ...docs];
}

/** The text outside fenced code blocks and inline code, where a `[x](y)` is a real link. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/**
 * GitHub's heading anchors: the heading's text (markdown marks and link targets removed),
 * lowercased, punctuation dropped (letters, digits, spaces, '-' and '_' stay), each space a '-';
 * a repeated slug gets -1, -2, ...
 */
function slugsOf(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  const headings = markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .split('\n')
    .map((line) => /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1])
    .filter((text): text is string => text !== undefined);
  for (const heading of headings) {
    const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  return slugs;
}

interface Link {
  from: string;
  target: string;
}

/** Every relative link target in a document: `[text](target)` outside code, no scheme. */
function relativeLinks(file: string): Link[] {
  const links: Link[] = [];
  for (const match of prose(read(file)).matchAll(
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
  )) {
    const target = match[1] ?? '';
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
    links.push({ from: file, target });
  }
  return links;
}

/** Why a link does not resolve, or undefined when it does. */
function brokenReason({ from, target }: Link): string | undefined {
  const [pathPart = '', anchor] = target.split('#', 2);
  const file =
    pathPart === ''
      ? from
      : path.posix.normalize(path.posix.join(path.posix.dirname(from), decodeURI(pathPart)));
  const absolute = path.join(ROOT, file);
  if (file.startsWith('..') || !fs.existsSync(absolute)) return `${file} does not exist`;
  if (anchor === undefined || !file.endsWith('.md')) return undefined;
  if (!slugsOf(read(file)).has(decodeURIComponent(anchor)))
    return `${file} has no heading #${anchor}`;
  return undefined;
}

describe('the documentation', () => {
  it(`when the README is counted, then it has fewer than ${MAX_README_LINES} lines`, () => {
    const lines = read('README.md').split('\n').length;
    expect(lines).toBeLessThan(MAX_README_LINES);
  });

  it('when the docs folder is listed, then every document the README promises is there', () => {
    for (const name of DOCS) expect(fs.existsSync(path.join(ROOT, 'docs', name))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'CONTRIBUTING.md'))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'CHANGELOG.md'))).toBe(true);
  });

  it('when a relative link in the README, CONTRIBUTING or docs is followed, then its file and heading exist', () => {
    const links = documents().flatMap(relativeLinks);
    expect(links.length).toBeGreaterThan(20);
    const broken = links
      .map((link) => ({ link, reason: brokenReason(link) }))
      .filter(({ reason }) => reason !== undefined)
      .map(({ link, reason }) => `${link.from}: (${link.target}) ${reason}`);
    expect(broken).toEqual([]);
  });

  it("when headings are turned into anchors, then they follow GitHub's slug rules", () => {
    const slugs = slugsOf(
      [
        '# Fuzzing (schemathesis)',
        "## Embedded Temporal's state file",
        '### The full stack locally (`docker-compose.yml`)',
        "## Our outages are not the webhook's failures",
        '## Notes',
        '## Notes',
        '```bash',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    expect([...slugs]).toEqual([
      'fuzzing-schemathesis',
      'embedded-temporals-state-file',
      'the-full-stack-locally-docker-composeyml',
      'our-outages-are-not-the-webhooks-failures',
      'notes',
      'notes-1',
    ]);
  });

  it('when a link points at a missing file or heading, then the check reports it', () => {
    expect(brokenReason({ from: 'README.md', target: 'docs/nowhere.md' })).toMatch(
      /does not exist/,
    );
    expect(brokenReason({ from: 'README.md', target: 'docs/delivery.md#no-such-heading' })).toMatch(
      /no heading/,
    );
    expect(
      brokenReason({ from: 'docs/delivery.md', target: '../README.md#configuration' }),
    ).toBeUndefined();
  });
});
