import { loadOpenApiDocument } from '../../src/api/openapi';
import { findUnstorableText, patternMessages, UUID_FORMAT } from '../../src/api/validation';
import { routeTable } from '../../src/api/validation-methods';

describe('findUnstorableText', () => {
  it('when strings hold NUL or an unpaired surrogate, then each is named by its path', () => {
    const body = {
      name: 'ok',
      payload: { content: 'a\u0000b', embeds: [{ title: 'x' }, { title: '\ud800' }] },
      '\u0000key': 'value',
    };
    expect(findUnstorableText(body, 'body')).toEqual([
      { path: 'body.payload.content', message: 'must not contain the NUL character (U+0000)' },
      {
        path: 'body.payload.embeds.1.title',
        message: expect.stringContaining('unpaired surrogate'),
      },
      { path: 'body', message: 'has a key that must not contain the NUL character (U+0000)' },
    ]);
  });

  it('when text is ordinary (emoji as surrogate pairs included), then nothing is reported', () => {
    expect(findUnstorableText({ a: ['😀 ok', 1, null, true], b: { c: 'ü' } }, 'body')).toEqual([]);
  });
});

describe('the OpenAPI document', () => {
  const doc = loadOpenApiDocument();

  it('when a schema has a pattern, then it also says in words what the pattern means', () => {
    const patterns: string[] = [];
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      const pattern = (node as { pattern?: unknown }).pattern;
      if (typeof pattern === 'string') patterns.push(pattern);
      Object.values(node).forEach(visit);
    };
    visit(doc.paths);
    visit(doc.components);
    // TriggerResponse.workflowId is a response field: no client sees its message.
    const requestPatterns = patterns.filter((p) => p !== '^task-');
    expect(requestPatterns.length).toBeGreaterThan(0);
    const messages = patternMessages(doc);
    for (const pattern of requestPatterns)
      expect(messages.get(pattern)).toEqual(expect.any(String));
  });

  it('when a route is listed, then its Allow header lists its methods plus HEAD and OPTIONS', () => {
    const allow = (path: string) => routeTable(doc).find((r) => r.pattern.test(path))?.allow;
    expect(allow('/api/tasks')).toBe('GET, HEAD, POST, OPTIONS');
    expect(allow('/API/Tasks/')).toBe('GET, HEAD, POST, OPTIONS');
    expect(allow('/api/tasks/abc/trigger')).toBe('POST, OPTIONS');
    expect(allow('/api/docs/swagger-ui.css')).toBe('GET, HEAD, OPTIONS');
    expect(allow('/api/tasks/abc/def')).toBeUndefined();
  });
});

describe('UUID_FORMAT', () => {
  it.each([
    ['3f1c2a9e-8b7d-4c61-9e0a-2d5b7c8e9f10', true],
    ['3F1C2A9E-8B7D-4C61-9E0A-2D5B7C8E9F10', true],
    ['urn:uuid:3f1c2a9e-8b7d-4c61-9e0a-2d5b7c8e9f10', false],
    ['{3f1c2a9e-8b7d-4c61-9e0a-2d5b7c8e9f10}', false],
    ['3f1c2a9e8b7d4c619e0a2d5b7c8e9f10', false],
  ])('when the id is %s, then it is accepted: %s', (id, ok) => {
    expect(UUID_FORMAT.test(id)).toBe(ok);
  });
});
