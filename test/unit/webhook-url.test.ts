import {
  maskToken,
  maskWebhookUrl,
  redactWebhookTokens,
  toDeliveryUrl,
  validateWebhookUrl,
} from '../../src/discord/webhook-url';

const DEFAULT_ORIGINS = [
  'https://discord.com',
  'https://discordapp.com',
  'https://ptb.discord.com',
  'https://canary.discord.com',
];
const MOCK = 'http://127.0.0.1:9999';
const ORIGINS = [...DEFAULT_ORIGINS, MOCK];

/** A realistic 68-character token. */
const TOKEN = 'AbCdEfGhIjKlMnOpQrStUvWxYz_-0123456789abcdefghijklmnopqrstuvwxyzWXYZ';
const ID = '123456789012345678';

/** Deterministic pseudo-random tokens (mulberry32), so a failure can be reproduced. */
function randomTokens(count: number, seed = 0x5eed): string[] {
  let state = seed;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
  return Array.from({ length: count }, () => {
    const length = 20 + Math.floor(next() * 49); // 20..68
    return Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
  });
}

function reasonOf(input: string, origins: readonly string[] = ORIGINS): string {
  const result = validateWebhookUrl(input, origins);
  if (result.ok) throw new Error(`expected ${input} to be rejected`);
  return result.reason;
}

describe('validateWebhookUrl: accepted URLs', () => {
  it.each([
    `https://discord.com/api/webhooks/${ID}/${TOKEN}`,
    `https://discordapp.com/api/webhooks/${ID}/${TOKEN}`,
    `https://ptb.discord.com/api/webhooks/${ID}/${TOKEN}`,
    `https://canary.discord.com/api/webhooks/${ID}/${TOKEN}`,
    `https://discord.com/api/v10/webhooks/${ID}/${TOKEN}`,
    `https://discordapp.com/api/v6/webhooks/${ID}/${TOKEN}`,
    `https://discord.com/api/webhooks/${ID}/${TOKEN}/`,
    `https://discord.com/api/webhooks/${ID}/${TOKEN}?thread_id=987654321098765432`,
    `https://DISCORD.COM/api/webhooks/${ID}/${TOKEN}`,
    `HTTPS://Canary.Discord.com/api/webhooks/${ID}/${TOKEN}`,
    `https://discord.com:443/api/webhooks/${ID}/${TOKEN}`,
    `https://discord.com/api/webhooks/1/${TOKEN}`,
    `${MOCK}/api/webhooks/1/token`,
    `${MOCK}/api/v10/webhooks/42/abc_DEF-123?thread_id=7`,
  ])('when the URL is %s, then it is accepted', (url) => {
    expect(validateWebhookUrl(url, ORIGINS)).toEqual({ ok: true });
  });

  it('when allowed origins are written with a trailing slash or upper case, then they still match', () => {
    expect(
      validateWebhookUrl(`https://discord.com/api/webhooks/${ID}/${TOKEN}`, [
        'HTTPS://Discord.com/',
      ]),
    ).toEqual({ ok: true });
  });
});

describe('validateWebhookUrl: rejected URLs', () => {
  it.each([
    [
      'a user and password',
      `https://user:secret@discord.com/api/webhooks/${ID}/${TOKEN}`,
      /user name or password/,
    ],
    [
      'a user name',
      `https://user@discord.com/api/webhooks/${ID}/${TOKEN}`,
      /user name or password/,
    ],
    [
      'an empty userinfo',
      `https://@discord.com/api/webhooks/${ID}/${TOKEN}`,
      /user name or password/,
    ],
    [
      'a query other than thread_id',
      `https://discord.com/api/webhooks/${ID}/${TOKEN}?wait=true`,
      /query parameter "wait" is not allowed/,
    ],
    [
      'an extra query next to thread_id',
      `https://discord.com/api/webhooks/${ID}/${TOKEN}?thread_id=1&x=2`,
      /query parameter "x" is not allowed/,
    ],
    [
      'a non-numeric thread_id',
      `https://discord.com/api/webhooks/${ID}/${TOKEN}?thread_id=abc`,
      /thread_id must be numeric/,
    ],
    [
      'an empty thread_id',
      `https://discord.com/api/webhooks/${ID}/${TOKEN}?thread_id=`,
      /thread_id must be numeric/,
    ],
    [
      'two thread_ids',
      `https://discord.com/api/webhooks/${ID}/${TOKEN}?thread_id=1&thread_id=2`,
      /at most once/,
    ],
    ['a fragment', `https://discord.com/api/webhooks/${ID}/${TOKEN}#top`, /fragment/],
    ['an empty fragment', `https://discord.com/api/webhooks/${ID}/${TOKEN}#`, /fragment/],
    [
      'a non-numeric id',
      `https://discord.com/api/webhooks/abc/${TOKEN}`,
      /webhook id must be numeric/,
    ],
    ['a negative id', `https://discord.com/api/webhooks/-1/${TOKEN}`, /webhook id must be numeric/],
    [
      'a token with a dot',
      `https://discord.com/api/webhooks/${ID}/${TOKEN}.x`,
      /webhook token may only contain/,
    ],
    [
      'a percent-encoded token',
      `https://discord.com/api/webhooks/${ID}/abc%20def`,
      /webhook token may only contain/,
    ],
    ['no token', `https://discord.com/api/webhooks/${ID}`, /path must be/],
    ['a missing /api', `https://discord.com/webhooks/${ID}/${TOKEN}`, /path must be/],
    ['the singular /webhook/', `https://discord.com/api/webhook/${ID}/${TOKEN}`, /path must be/],
    ['an extra segment', `https://discord.com/api/webhooks/${ID}/${TOKEN}/slack`, /path must be/],
    [
      'a version without a number',
      `https://discord.com/api/v/webhooks/${ID}/${TOKEN}`,
      /path must be/,
    ],
    ['dot segments', `https://discord.com/api/x/../webhooks/${ID}/${TOKEN}`, /path must be/],
    [
      'a disallowed host',
      `https://evil.example/api/webhooks/${ID}/${TOKEN}`,
      /origin https:\/\/evil.example is not allowed/,
    ],
    [
      'a look-alike host',
      `https://discord.com.evil.example/api/webhooks/${ID}/${TOKEN}`,
      /is not allowed/,
    ],
    ['a trailing-dot host', `https://discord.com./api/webhooks/${ID}/${TOKEN}`, /is not allowed/],
    [
      'another scheme for an allowed host',
      `http://discord.com/api/webhooks/${ID}/${TOKEN}`,
      /origin http:\/\/discord.com is not allowed/,
    ],
    ['another port', `https://discord.com:8443/api/webhooks/${ID}/${TOKEN}`, /is not allowed/],
    ['an internal host', `http://169.254.169.254/api/webhooks/${ID}/${TOKEN}`, /is not allowed/],
    [
      'a non-http scheme',
      `ftp://discord.com/api/webhooks/${ID}/${TOKEN}`,
      /absolute http\(s\) URL/,
    ],
    ['a relative URL', `/api/webhooks/${ID}/${TOKEN}`, /absolute http\(s\) URL/],
    ['surrounding whitespace', ` https://discord.com/api/webhooks/${ID}/${TOKEN}\n`, /whitespace/],
    ['a tab inside the host', `https://disc\tord.com/api/webhooks/${ID}/${TOKEN}`, /whitespace/],
    ['backslashes', `https://discord.com\\api\\webhooks\\${ID}\\${TOKEN}`, /backslashes/],
  ])('when the URL has %s, then it is rejected with a reason', (_what, url, reason) => {
    expect(reasonOf(url)).toMatch(reason);
  });

  it('when only the mock origin is allowed, then discord.com is rejected and the mock accepted', () => {
    expect(reasonOf(`https://discord.com/api/webhooks/${ID}/${TOKEN}`, [MOCK])).toMatch(
      /allowed origins: http:\/\/127.0.0.1:9999/,
    );
    expect(validateWebhookUrl(`${MOCK}/api/webhooks/1/t`, [MOCK])).toEqual({ ok: true });
    expect(reasonOf(`http://127.0.0.1:9998/api/webhooks/1/t`, [MOCK])).toMatch(/is not allowed/);
    expect(reasonOf(`http://localhost:9999/api/webhooks/1/t`, [MOCK])).toMatch(/is not allowed/);
  });

  it('when no origin is allowed, then every URL is rejected', () => {
    expect(reasonOf(`https://discord.com/api/webhooks/${ID}/${TOKEN}`, [])).toMatch(
      /none configured/,
    );
  });

  it('when a rejected query parameter name holds a webhook URL, then it is not echoed', () => {
    const nested = encodeURIComponent(`https://discord.com/api/webhooks/${ID}/${TOKEN}`);
    const reason = reasonOf(`https://discord.com/api/webhooks/${ID}/${TOKEN}?${nested}=1`);
    expect(reason).toBe('query parameter is not allowed: the only one accepted is thread_id');
  });

  it('when any URL is rejected, then the reason never contains the token (random tokens)', () => {
    for (const token of randomTokens(25)) {
      const invalid = [
        `https://user:pw@discord.com/api/webhooks/${ID}/${token}`,
        `https://discord.com/api/webhooks/${ID}/${token}?wait=true`,
        `https://discord.com/api/webhooks/${ID}/${token}?${token}=1`,
        `https://discord.com/api/webhooks/${ID}/${token}?thread_id=${token}`,
        `https://discord.com/api/webhooks/${ID}/${token}#${token}`,
        `https://discord.com/api/webhooks/x${ID}/${token}`,
        `https://discord.com/api/webhooks/${ID}/${token}/more`,
        `https://discord.com/api/webhooks/${ID}/${token}.`,
        `https://evil.example/api/webhooks/${ID}/${token}`,
        `https://${token.toLowerCase().replace(/[_-]/g, 'a')}.example/api/webhooks/${ID}/${token}`,
        `https://discord.com/api/webhooks/${ID}/${token} `,
        `https://discord.com\\api\\webhooks\\${ID}\\${token}`,
        `gopher://discord.com/api/webhooks/${ID}/${token}`,
      ];
      for (const url of invalid) {
        const reason = reasonOf(url);
        expect(reason).not.toContain(token);
        expect(reason).not.toContain(token.slice(0, 12));
      }
    }
  });
});

describe('maskWebhookUrl', () => {
  it.each([
    [
      `https://discord.com/api/webhooks/${ID}/${TOKEN}`,
      `https://discord.com/api/webhooks/${ID}/****WXYZ`,
    ],
    [
      `https://discordapp.com/api/webhooks/${ID}/${TOKEN}`,
      `https://discordapp.com/api/webhooks/${ID}/****WXYZ`,
    ],
    [
      `https://ptb.discord.com/api/webhooks/${ID}/${TOKEN}`,
      `https://ptb.discord.com/api/webhooks/${ID}/****WXYZ`,
    ],
    [
      `https://canary.discord.com/api/v10/webhooks/${ID}/${TOKEN}`,
      `https://canary.discord.com/api/v10/webhooks/${ID}/****WXYZ`,
    ],
    [
      `https://Discord.com:443/api/v9/webhooks/${ID}/${TOKEN}/`,
      `https://discord.com/api/v9/webhooks/${ID}/****WXYZ`,
    ],
    [
      `https://discord.com/api/webhooks/${ID}/${TOKEN}?thread_id=42`,
      `https://discord.com/api/webhooks/${ID}/****WXYZ?thread_id=42`,
    ],
    [`${MOCK}/api/webhooks/7/${TOKEN}`, `${MOCK}/api/webhooks/7/****WXYZ`],
  ])('when masking %s, then the result is %s', (url, masked) => {
    expect(maskWebhookUrl(url)).toBe(masked);
  });

  it('when the URL carries credentials, a fragment or other query parameters, then they are dropped', () => {
    expect(
      maskWebhookUrl(`https://u:p@discord.com/api/webhooks/${ID}/${TOKEN}?x=1&thread_id=5#f`),
    ).toBe(`https://discord.com/api/webhooks/${ID}/****WXYZ?thread_id=5`);
  });

  it('when the token is shorter than 16 characters, then none of it is shown', () => {
    expect(maskWebhookUrl(`${MOCK}/api/webhooks/1/short-token`)).toBe(
      `${MOCK}/api/webhooks/1/****`,
    );
    expect(maskToken('abcdefghijklmno')).toBe('****');
    expect(maskToken('abcdefghijklmnop')).toBe('****mnop');
  });

  it.each([
    'not a url',
    '',
    'https://discord.com/',
    `https://discord.com/api/webhooks/abc/${TOKEN}`,
    `https://discord.com/api/webhooks/${ID}/${TOKEN}/extra`,
    `ftp://discord.com/api/webhooks/${ID}/${TOKEN}`,
  ])('when the URL cannot be parsed as a webhook URL (%s), then the mask is ****', (url) => {
    expect(maskWebhookUrl(url)).toBe('****');
  });

  it('when masking URLs with random tokens, then the mask never contains the token', () => {
    for (const token of randomTokens(25, 7)) {
      for (const origin of [...DEFAULT_ORIGINS, MOCK]) {
        for (const form of ['/api/webhooks', '/api/v10/webhooks', '/api/v8/webhooks']) {
          const masked = maskWebhookUrl(`${origin}${form}/${ID}/${token}?thread_id=1`);
          expect(masked).not.toContain(token);
          expect(masked).toBe(`${origin}${form}/${ID}/****${token.slice(-4)}?thread_id=1`);
        }
      }
    }
  });
});

describe('toDeliveryUrl', () => {
  const v10 = (origin: string, query = '') =>
    `${origin}/api/v10/webhooks/${ID}/${TOKEN}?wait=true${query}`;

  it.each([
    [`https://discord.com/api/webhooks/${ID}/${TOKEN}`, v10('https://discord.com')],
    [`https://discordapp.com/api/webhooks/${ID}/${TOKEN}`, v10('https://discord.com')],
    [`https://DiscordApp.com/api/v6/webhooks/${ID}/${TOKEN}/`, v10('https://discord.com')],
    [`https://ptb.discord.com/api/webhooks/${ID}/${TOKEN}`, v10('https://ptb.discord.com')],
    [
      `https://canary.discord.com/api/v9/webhooks/${ID}/${TOKEN}`,
      v10('https://canary.discord.com'),
    ],
    [`https://ptb.discordapp.com/api/webhooks/${ID}/${TOKEN}`, v10('https://ptb.discord.com')],
    [
      `https://canary.discordapp.com/api/webhooks/${ID}/${TOKEN}`,
      v10('https://canary.discord.com'),
    ],
    [`https://discord.com/api/v10/webhooks/${ID}/${TOKEN}`, v10('https://discord.com')],
    [
      `https://discord.com/api/webhooks/${ID}/${TOKEN}?thread_id=42`,
      v10('https://discord.com', '&thread_id=42'),
    ],
    [
      `https://discordapp.com/api/v8/webhooks/${ID}/${TOKEN}?thread_id=42`,
      v10('https://discord.com', '&thread_id=42'),
    ],
    [`${MOCK}/api/webhooks/${ID}/${TOKEN}`, v10(MOCK)],
    [`${MOCK}/api/v9/webhooks/${ID}/${TOKEN}?thread_id=5`, v10(MOCK, '&thread_id=5')],
    [`https://discord.com:443/api/webhooks/${ID}/${TOKEN}`, v10('https://discord.com')],
  ])('when delivering to %s, then the URL is %s', (url, delivery) => {
    expect(toDeliveryUrl(url)).toBe(delivery);
  });

  it('when the URL is not a webhook URL, then it throws without the token', () => {
    for (const url of [`https://discord.com/api/webhooks/x/${TOKEN}`, `nonsense ${TOKEN}`]) {
      expect(() => toDeliveryUrl(url)).toThrow(/not a Discord webhook URL/);
      try {
        toDeliveryUrl(url);
      } catch (error) {
        expect((error as Error).message).not.toContain(TOKEN);
      }
    }
  });
});

describe('redactWebhookTokens', () => {
  it('when an axios error message holds the delivery URL, then only the token is masked', () => {
    const message = `timeout of 10000ms exceeded: POST https://discord.com/api/v10/webhooks/${ID}/${TOKEN}?wait=true`;
    expect(redactWebhookTokens(message)).toBe(
      `timeout of 10000ms exceeded: POST https://discord.com/api/v10/webhooks/${ID}/****WXYZ?wait=true`,
    );
  });

  it('when the text holds several URLs, JSON-escaped or percent-encoded forms, then all are masked', () => {
    const text = [
      `/api/webhooks/1/${TOKEN}`,
      JSON.stringify({ url: `https://discordapp.com/api/webhooks/2/${TOKEN}` }).replace(
        /\//g,
        '\\/',
      ),
      encodeURIComponent(`https://discord.com/api/webhooks/3/${TOKEN}`),
      `${MOCK}/api/webhooks/4/short`,
    ].join(' | ');
    const redacted = redactWebhookTokens(text);
    expect(redacted).not.toContain(TOKEN);
    expect(redacted).toContain('/api/webhooks/1/****WXYZ');
    expect(redacted).toContain('\\/api\\/webhooks\\/2\\/****WXYZ');
    expect(redacted).toContain('%2Fapi%2Fwebhooks%2F3%2F****WXYZ');
    expect(redacted).toContain('/api/webhooks/4/****');
    expect(redacted).not.toContain('short');
  });

  it('when the text has no webhook path, then it is unchanged; redacting twice changes nothing more', () => {
    const plain = 'connect ECONNREFUSED 127.0.0.1:9999 /api/webhooks/ nothing here';
    expect(redactWebhookTokens(plain)).toBe(plain);
    const once = redactWebhookTokens(`POST /api/webhooks/${ID}/${TOKEN}`);
    expect(redactWebhookTokens(once)).toBe(once);
  });

  it('when redacting random tokens, then the output never contains them', () => {
    for (const token of randomTokens(25, 99)) {
      const text = `Request failed with status code 404 at https://discord.com/api/v10/webhooks/${ID}/${token}?wait=true: {"message": "Unknown Webhook"}`;
      const redacted = redactWebhookTokens(text);
      expect(redacted).not.toContain(token);
      expect(redacted).toContain(`/webhooks/${ID}/****${token.slice(-4)}?wait=true`);
    }
  });
});
