import {
  characterCount,
  embedTextLength,
  type FieldError,
  isIsoTimestamp,
  validatePayload,
} from '../../src/discord/payload-schema';

const x = (n: number, char = 'x') => char.repeat(n);

/** The single error of a payload, asserting there is exactly one. */
function onlyError(payload: unknown): FieldError {
  const errors = validatePayload(payload);
  expect(errors).toHaveLength(1);
  return errors[0] as FieldError;
}

function expectValid(payload: unknown): void {
  expect(validatePayload(payload)).toEqual([]);
}

function expectError(payload: unknown, path: string, message: string | RegExp): void {
  const error = onlyError(payload);
  expect(error.path).toBe(path);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
}

/** A valid message around one embed. */
const withEmbed = (embed: Record<string, unknown>) => ({ embeds: [embed] });
const withField = (field: Record<string, unknown>) => withEmbed({ fields: [field] });

describe('validatePayload: the message body', () => {
  it('when the payload has only content, then it is valid', () => {
    expectValid({ content: 'Daily standup in 5 minutes' });
  });

  it('when the payload has only embeds, then it is valid', () => {
    expectValid({ embeds: [{ title: 'Report' }] });
  });

  it('when the payload has neither content nor embeds, then payload.content says a message needs one', () => {
    expectError({}, 'payload.content', /is required when there are no embeds/);
    expectError({ username: 'Bot' }, 'payload.content', /is required when there are no embeds/);
  });

  it('when embeds is empty and there is no content, then it is rejected', () => {
    expectError({ embeds: [] }, 'payload.content', /is required when there are no embeds/);
  });

  it('when content is empty or blank next to an embed, then it is valid; alone, then it is rejected', () => {
    expectValid({ content: '', embeds: [{ title: 't' }] });
    expectValid({ content: 'hi', embeds: [] });
    expectError({ content: '' }, 'payload.content', 'must not be empty when there are no embeds');
    expectError(
      { content: ' \n ' },
      'payload.content',
      'must not be blank when there are no embeds',
    );
  });

  it('when the payload is not an object, then the error is at payload', () => {
    for (const payload of [null, [], 'hello', 42, undefined]) {
      const error = onlyError(payload);
      expect(error.path).toBe('payload');
      expect(error.message).toMatch(/must be an object|is required/);
    }
  });

  it('when content has 2000 characters, then it is valid; with 2001, then it is rejected', () => {
    expectValid({ content: x(2000) });
    expectError(
      { content: x(2001) },
      'payload.content',
      'must be at most 2000 characters (it has 2001)',
    );
  });

  it('when content has 2000 emoji, then each counts as one character as in Discord', () => {
    expectValid({ content: x(2000, '😀') });
    expectError({ content: x(2001, '😀') }, 'payload.content', /at most 2000 characters/);
  });

  it('when content is not a string, then the message says so', () => {
    expectError({ content: 5 }, 'payload.content', 'must be a string');
  });

  it('when username has 80 characters, then it is valid; with 81 or none, then it is rejected', () => {
    expectValid({ content: 'x', username: x(80) });
    expectError({ content: 'x', username: x(81) }, 'payload.username', /at most 80 characters/);
    expectError({ content: 'x', username: '' }, 'payload.username', 'must not be empty');
    expectError({ content: 'x', username: '   ' }, 'payload.username', 'must not be blank');
  });

  it('when username contains "Discord" or "CLYDE" in any case, then it is rejected', () => {
    for (const username of ['Discord', 'My discord bot', 'CLYDE', 'xClYdEx', 'DISCORDapp']) {
      expectError(
        { content: 'x', username },
        'payload.username',
        /must not contain "discord" or "clyde"/,
      );
    }
    expectValid({ content: 'x', username: 'Disco Cloud' });
  });

  it('when avatar_url is an http(s) URL, then it is valid; otherwise it is rejected', () => {
    expectValid({ content: 'x', avatar_url: 'https://cdn.example.com/a.png' });
    expectValid({ content: 'x', avatar_url: 'http://example.com/a.png' });
    for (const avatar_url of [
      'ftp://example.com/a.png',
      'not a url',
      '/relative.png',
      'https://a b.com/',
    ]) {
      expectError(
        { content: 'x', avatar_url },
        'payload.avatar_url',
        'must be an absolute http(s) URL',
      );
    }
  });

  it('when tts is a boolean, then it is valid; when it is the string "true", then it is rejected', () => {
    expectValid({ content: 'x', tts: true });
    expectError({ content: 'x', tts: 'true' }, 'payload.tts', 'must be true or false');
  });

  it('when thread_name has 1..100 characters, then it is valid; 0 or 101, then it is rejected', () => {
    expectValid({ content: 'x', thread_name: 'Weekly' });
    expectValid({ content: 'x', thread_name: x(100) });
    expectError(
      { content: 'x', thread_name: x(101) },
      'payload.thread_name',
      /at most 100 characters/,
    );
    expectError({ content: 'x', thread_name: '' }, 'payload.thread_name', 'must not be empty');
  });

  it('when flags combine SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS, then they are valid', () => {
    for (const flags of [0, 4, 4096, 4100]) expectValid({ content: 'x', flags });
  });

  it('when flags hold anything else, then the message names the flags webhooks may use', () => {
    for (const flags of [1, 8, 64, 4101, 2 ** 32 + 4, -4, 4.5]) {
      expectError(
        { content: 'x', flags },
        'payload.flags',
        /must be 0, 4 \(SUPPRESS_EMBEDS\), 4096 \(SUPPRESS_NOTIFICATIONS\) or 4100/,
      );
    }
    expectError({ content: 'x', flags: '4' }, 'payload.flags', 'must be a number');
  });
});

describe('validatePayload: embeds', () => {
  it('when there are 10 embeds, then it is valid; with 11, then it is rejected', () => {
    expectValid({ embeds: Array.from({ length: 10 }, () => ({ title: 't' })) });
    expectError(
      { embeds: Array.from({ length: 11 }, () => ({ title: 't' })) },
      'payload.embeds',
      'must contain at most 10 items',
    );
  });

  it('when embeds is not an array, then it is rejected', () => {
    expect(validatePayload({ content: 'x', embeds: { title: 't' } })).toEqual([
      { path: 'payload.embeds', message: 'must be an array' },
    ]);
  });

  it('when a title has 256 characters, then it is valid; with 257, then it is rejected', () => {
    expectValid(withEmbed({ title: x(256) }));
    expectError(
      withEmbed({ title: x(257) }),
      'payload.embeds[0].title',
      'must be at most 256 characters (it has 257)',
    );
  });

  it('when a description has 4096 characters, then it is valid; with 4097, then it is rejected', () => {
    expectValid(withEmbed({ description: x(4096) }));
    expectError(
      withEmbed({ description: x(4097) }),
      'payload.embeds[0].description',
      /at most 4096 characters/,
    );
  });

  it('when an embed url is http(s), then it is valid; otherwise it is rejected', () => {
    expectValid(withEmbed({ title: 't', url: 'https://example.com/report?id=1' }));
    expectError(
      withEmbed({ title: 't', url: 'javascript:alert(1)' }),
      'payload.embeds[0].url',
      'must be an absolute http(s) URL',
    );
  });

  it('when a timestamp is ISO 8601, then it is valid; otherwise it is rejected', () => {
    for (const timestamp of [
      '2025-01-31T09:00:00Z',
      '2025-01-31T09:00:00.123+02:00',
      '2025-01-31',
      '2024-02-29T23:59:59.999Z',
    ]) {
      expectValid(withEmbed({ title: 't', timestamp }));
    }
    for (const timestamp of [
      'yesterday',
      '31/01/2025',
      '2025-02-30T00:00:00Z',
      '2025-01-31T24:00:00Z',
      '1738314000',
    ]) {
      expectError(
        withEmbed({ title: 't', timestamp }),
        'payload.embeds[0].timestamp',
        /must be an ISO 8601 timestamp/,
      );
    }
  });

  it('when a timestamp or URL is a template, then the format is checked on a sample rendering', () => {
    expectValid(
      withEmbed({
        title: 't',
        timestamp: '{{execution.time}}',
        url: 'https://example.com/t/{{task.id}}',
      }),
    );
    expectValid(withEmbed({ title: 't', timestamp: '{{ execution.scheduledTime }}' }));
    expectError(
      withEmbed({ title: 't', timestamp: '{{task.name}}' }),
      'payload.embeds[0].timestamp',
      /ISO 8601/,
    );
  });

  it('when color is 0..16777215, then it is valid; outside or not an integer, then it is rejected', () => {
    expectValid(withEmbed({ title: 't', color: 0 }));
    expectValid(withEmbed({ title: 't', color: 16777215 }));
    expectError(
      withEmbed({ title: 't', color: 16777216 }),
      'payload.embeds[0].color',
      'must be at most 16777215 (0xFFFFFF)',
    );
    expectError(
      withEmbed({ title: 't', color: -1 }),
      'payload.embeds[0].color',
      'must be at least 0',
    );
    expectError(
      withEmbed({ title: 't', color: 1.5 }),
      'payload.embeds[0].color',
      'must be an integer',
    );
    expectError(
      withEmbed({ title: 't', color: '#ff0000' }),
      'payload.embeds[0].color',
      'must be a number',
    );
  });

  it('when a footer has text of at most 2048 characters, then it is valid; otherwise it is rejected', () => {
    expectValid(withEmbed({ footer: { text: x(2048), icon_url: 'https://example.com/i.png' } }));
    expectError(
      withEmbed({ footer: { text: x(2049) } }),
      'payload.embeds[0].footer.text',
      /at most 2048 characters/,
    );
    expectError(withEmbed({ footer: {} }), 'payload.embeds[0].footer.text', 'is required');
    expectError(
      withEmbed({ footer: { text: 'f', icon_url: 'nope' } }),
      'payload.embeds[0].footer.icon_url',
      'must be an absolute http(s) URL',
    );
  });

  it('when an author has a name of at most 256 characters, then it is valid; otherwise it is rejected', () => {
    expectValid(
      withEmbed({
        author: { name: x(256), url: 'https://example.com', icon_url: 'https://example.com/a.png' },
      }),
    );
    expectError(
      withEmbed({ author: { name: x(257) } }),
      'payload.embeds[0].author.name',
      /at most 256 characters/,
    );
    expectError(
      withEmbed({ author: { url: 'https://example.com' } }),
      'payload.embeds[0].author.name',
      'is required',
    );
    expectError(
      withEmbed({ author: { name: 'a', url: 'example.com' } }),
      'payload.embeds[0].author.url',
      'must be an absolute http(s) URL',
    );
  });

  it('when image and thumbnail have a url, then they are valid; without, then it is required', () => {
    expectValid(
      withEmbed({
        image: { url: 'https://example.com/i.png' },
        thumbnail: { url: 'https://example.com/t.png' },
      }),
    );
    expectError(withEmbed({ image: {} }), 'payload.embeds[0].image.url', 'is required');
    expectError(
      withEmbed({ thumbnail: { url: 'file:///etc/passwd' } }),
      'payload.embeds[0].thumbnail.url',
      'must be an absolute http(s) URL',
    );
  });

  it('when an embed has 25 fields, then it is valid; with 26, then it is rejected', () => {
    const field = { name: 'n', value: 'v', inline: true };
    expectValid(withEmbed({ fields: Array.from({ length: 25 }, () => field) }));
    expectError(
      withEmbed({ fields: Array.from({ length: 26 }, () => field) }),
      'payload.embeds[0].fields',
      'must contain at most 25 items',
    );
  });

  it('when a field name has 1..256 characters, then it is valid; empty, blank, missing or 257, then it is rejected', () => {
    expectValid(withField({ name: x(256), value: 'v' }));
    expectError(
      withField({ name: x(257), value: 'v' }),
      'payload.embeds[0].fields[0].name',
      /at most 256 characters/,
    );
    expectError(
      withField({ name: '', value: 'v' }),
      'payload.embeds[0].fields[0].name',
      'must not be empty',
    );
    expectError(
      withField({ name: ' ', value: 'v' }),
      'payload.embeds[0].fields[0].name',
      'must not be blank',
    );
    expectError(withField({ value: 'v' }), 'payload.embeds[0].fields[0].name', 'is required');
  });

  it('when a field value has 1..1024 characters, then it is valid; missing or 1025, then it is rejected', () => {
    expectValid(withField({ name: 'n', value: x(1024) }));
    expectError(
      withField({ name: 'n', value: x(1025) }),
      'payload.embeds[0].fields[0].value',
      /at most 1024 characters/,
    );
    expectError(withField({ name: 'n' }), 'payload.embeds[0].fields[0].value', 'is required');
  });

  it('when a field has inline as a boolean, then it is valid; otherwise it is rejected', () => {
    expectValid(withField({ name: 'n', value: 'v', inline: false }));
    expectError(
      withField({ name: 'n', value: 'v', inline: 'yes' }),
      'payload.embeds[0].fields[0].inline',
      'must be true or false',
    );
  });

  it('when the third field of the first embed is too long, then the path names it exactly', () => {
    const fields = [
      { name: 'a', value: 'b' },
      { name: 'c', value: 'd' },
      { name: 'e', value: x(1025) },
    ];
    expectError(
      withEmbed({ fields }),
      'payload.embeds[0].fields[2].value',
      'must be at most 1024 characters (it has 1025)',
    );
  });
});

describe('validatePayload: the 6000-character total of embed text', () => {
  /** Text spread over every counted place of two embeds; `extra` goes into the footer. */
  const embedsWithTotal = (extra: number) => [
    { title: x(256), description: x(4096), color: 1, url: 'https://not-counted.example.com' },
    {
      author: { name: x(200), url: 'https://example.com' },
      footer: { text: x(448 + extra) },
      fields: [
        { name: x(250), value: x(250) },
        { name: x(250), value: x(250), inline: true },
      ],
    },
  ];

  it('when the embeds hold exactly 6000 characters of text, then it is valid', () => {
    expect(embedTextLength(embedsWithTotal(0))).toBe(6000);
    expectValid({ embeds: embedsWithTotal(0) });
  });

  it('when the embeds hold 6001 characters of text, then payload.embeds states the total', () => {
    expectError(
      { embeds: embedsWithTotal(1) },
      'payload.embeds',
      /the embeds have 6001 characters of text in total .*at most 6000/,
    );
  });

  it('when one embed field is also invalid, then both that field and the total are reported', () => {
    const embeds = embedsWithTotal(1);
    (embeds[0] as Record<string, unknown>).color = 'red';
    expect(validatePayload({ embeds })).toEqual([
      { path: 'payload.embeds[0].color', message: 'must be a number' },
      { path: 'payload.embeds', message: expect.stringContaining('6001') as unknown as string },
    ]);
  });
});

describe('validatePayload: allowed_mentions', () => {
  const snowflake = '123456789012345678';

  it('when allowed_mentions uses parse, ids and replied_user, then it is valid', () => {
    expectValid({
      content: 'x',
      allowed_mentions: { parse: ['users', 'everyone'], roles: [snowflake], replied_user: false },
    });
    expectValid({ content: 'x', allowed_mentions: { parse: [] } });
  });

  it('when parse holds an unknown type, then the item is rejected', () => {
    expectError(
      { content: 'x', allowed_mentions: { parse: ['here'] } },
      'payload.allowed_mentions.parse[0]',
      'must be one of [roles, users, everyone]',
    );
  });

  it('when users or roles hold a non-snowflake, then the item is rejected', () => {
    expectError(
      { content: 'x', allowed_mentions: { users: ['@alice'] } },
      'payload.allowed_mentions.users[0]',
      /must be a snowflake/,
    );
    expectError(
      { content: 'x', allowed_mentions: { roles: [123] } },
      'payload.allowed_mentions.roles[0]',
      'must be a string',
    );
    expectError(
      { content: 'x', allowed_mentions: { roles: [x(21, '1')] } },
      'payload.allowed_mentions.roles[0]',
      /must be a snowflake/,
    );
  });

  it('when users hold 100 ids, then it is valid; 101, then it is rejected', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => String(10n ** 17n + BigInt(i)));
    expectValid({ content: 'x', allowed_mentions: { users: ids(100) } });
    expectError(
      { content: 'x', allowed_mentions: { users: ids(101) } },
      'payload.allowed_mentions.users',
      'must contain at most 100 items',
    );
  });

  it('when parse has "users" and users is also given, then users is rejected as Discord does', () => {
    expectError(
      { content: 'x', allowed_mentions: { parse: ['users'], users: [snowflake] } },
      'payload.allowed_mentions.users',
      /cannot be combined with "users" in allowed_mentions.parse/,
    );
    expectValid({ content: 'x', allowed_mentions: { parse: ['roles'], users: [snowflake] } });
  });

  it('when replied_user is not a boolean, then it is rejected', () => {
    expectError(
      { content: 'x', allowed_mentions: { replied_user: 1 } },
      'payload.allowed_mentions.replied_user',
      'must be true or false',
    );
  });
});

describe('validatePayload: unknown keys and error reporting', () => {
  it('when an unknown key appears at the top level, then the message names it', () => {
    expectError(
      { content: 'x', components: [] },
      'payload.components',
      'unknown key "components" is not allowed',
    );
  });

  it('when unknown keys appear at nested levels, then each is reported with its path', () => {
    const errors = validatePayload({
      content: 'x',
      embeds: [
        {
          title: 't',
          video: {},
          footer: { text: 'f', proxy_icon_url: 'x' },
          fields: [{ name: 'n', value: 'v', style: 1 }],
        },
      ],
      allowed_mentions: { parse: [], everyone: true },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: 'payload.embeds[0].video', message: 'unknown key "video" is not allowed' },
        {
          path: 'payload.embeds[0].footer.proxy_icon_url',
          message: 'unknown key "proxy_icon_url" is not allowed',
        },
        {
          path: 'payload.embeds[0].fields[0].style',
          message: 'unknown key "style" is not allowed',
        },
        {
          path: 'payload.allowed_mentions.everyone',
          message: 'unknown key "everyone" is not allowed',
        },
      ]),
    );
    expect(errors).toHaveLength(4);
  });

  it('when a key is not an identifier, then the path quotes it', () => {
    expectError(
      { content: 'x', 'my key': 1 },
      'payload["my key"]',
      'unknown key "my key" is not allowed',
    );
  });

  it('when many fields are invalid, then every one is reported (no early abort)', () => {
    const errors = validatePayload({
      content: x(2001),
      username: 'Discord',
      tts: 'no',
      embeds: [{ title: x(300), color: -1 }, { fields: [{ name: 'n' }] }],
      flags: 1,
    });
    expect(errors.map((error) => error.path).sort()).toEqual(
      [
        'payload.content',
        'payload.username',
        'payload.tts',
        'payload.embeds[0].title',
        'payload.embeds[0].color',
        'payload.embeds[1].fields[0].value',
        'payload.flags',
      ].sort(),
    );
  });

  it('when a message is produced, then it is a sentence without the path or a quoted label', () => {
    for (const error of validatePayload({ content: 5, tts: 1, embeds: [{ title: 1 }] })) {
      expect(error.message).not.toMatch(/^"|payload/);
    }
  });

  it('when a length limit is checked, then template tags count as stored, unrendered', () => {
    // `{{task.name}}` is 13 characters here even though a task name may render to 100.
    expectValid({ content: `${x(1987)}{{task.name}}` });
    expect(characterCount(`${x(1987)}{{task.name}}`)).toBe(2000);
  });
});

describe('isIsoTimestamp', () => {
  it('when given leap days and offsets, then the calendar is respected', () => {
    expect(isIsoTimestamp('2024-02-29T00:00:00Z')).toBe(true);
    expect(isIsoTimestamp('2023-02-29T00:00:00Z')).toBe(false);
    expect(isIsoTimestamp('2025-01-31T09:00+0530')).toBe(true);
    expect(isIsoTimestamp('2025-01-31T09:00:00+24:00')).toBe(false);
    expect(isIsoTimestamp('2025-13-01')).toBe(false);
  });
});
