import { messageModeConflict, parseDeleteAfter, toEditBody } from '../../src/discord/messages';
import { toMessageUrl } from '../../src/discord/webhook-url';

describe('parseDeleteAfter', () => {
  it.each([
    ['1s', 1_000],
    ['10s', 10_000],
    ['30m', 1_800_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    ['30d', 2_592_000_000],
    ['720h', 2_592_000_000],
  ])('when it is %s, then it is %d ms', (text, ms) => {
    expect(parseDeleteAfter(text)).toEqual({ ok: true, ms });
  });

  it.each(['', '0s', '10', 's', '10x', '1.5h', '-1s', '10 s', '10S', '01s', '1h30m'])(
    'when it is %p, then it is refused as not a duration',
    (text) => {
      expect(parseDeleteAfter(text)).toEqual({
        ok: false,
        reason: expect.stringMatching(/^must be a duration such as 10s/),
      });
    },
  );

  it.each(['31d', '721h', '2592001s'])('when it is %s, then it is past 30 days', (text) => {
    expect(parseDeleteAfter(text)).toEqual({ ok: false, reason: 'must be between 1s and 30d' });
  });
});

describe('messageModeConflict', () => {
  it('when edit has a deleteAfter, then it says why not; other modes and no deleteAfter are fine', () => {
    expect(messageModeConflict('edit', '1h')).toMatch(
      /^deleteAfter cannot be used with messageMode "edit"/,
    );
    expect(messageModeConflict('edit', null)).toBeUndefined();
    expect(messageModeConflict('post', '1h')).toBeUndefined();
    expect(messageModeConflict('replace', '10s')).toBeUndefined();
  });
});

describe('toEditBody', () => {
  it('when a rendered message is edited, then name, avatar, tts, thread and flags stay out and content and embeds are always sent', () => {
    expect(
      toEditBody({
        username: 'Bot',
        avatar_url: 'https://example.com/a.png',
        tts: true,
        thread_name: 'x',
        applied_tags: ['1'],
        flags: 4096,
        content: 'hello',
        allowed_mentions: { parse: [] },
      }),
    ).toEqual({ content: 'hello', embeds: [], allowed_mentions: { parse: [] } });
    expect(toEditBody({ embeds: [{ title: 't' }] })).toEqual({
      content: '',
      embeds: [{ title: 't' }],
    });
  });
});

describe('toMessageUrl', () => {
  const TOKEN = 'Zk3xQ9vLr-2mPq8sTuVwXyZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ01x9Zq';

  it.each([
    [
      `https://discord.com/api/webhooks/123/${TOKEN}`,
      `https://discord.com/api/v10/webhooks/123/${TOKEN}/messages/456`,
    ],
    [
      `https://discordapp.com/api/v9/webhooks/123/${TOKEN}/?thread_id=789`,
      `https://discord.com/api/v10/webhooks/123/${TOKEN}/messages/456?thread_id=789`,
    ],
  ])(
    'when the webhook URL is %s, then the message URL keeps its webhook and thread',
    (url, expected) => {
      expect(toMessageUrl(url, '456')).toBe(expected);
    },
  );

  it('when the message id or URL is not one, then it throws without the token', () => {
    expect(() => toMessageUrl(`https://discord.com/api/webhooks/123/${TOKEN}`, '../x')).toThrow(
      'a message id is numeric',
    );
    expect(() => toMessageUrl(`https://discord.com/x/${TOKEN}`, '456')).toThrow(
      /not a Discord webhook URL/,
    );
  });
});
