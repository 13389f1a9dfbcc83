import {
  findTemplateErrors,
  formatPath,
  renderPayload,
  TEMPLATE_VARIABLES,
  type TemplateVars,
} from '../../src/discord/template';

const KNOWN_LIST = 'task.id, task.name, execution.scheduledTime, execution.time, execution.attempt';

const vars: TemplateVars = {
  task: { id: '3f1c9a52-7a43-4d0e-9a57-0d4b1f3c2e10', name: 'Standup <reminder> & "more"' },
  execution: {
    scheduledTime: new Date('2025-01-31T09:00:00+02:00'),
    time: new Date('2025-01-31T07:00:01.250Z'),
    attempt: 3,
  },
};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

describe('TEMPLATE_VARIABLES', () => {
  it('when listed, then they are exactly the SPEC §5 variables', () => {
    expect(TEMPLATE_VARIABLES).toEqual([
      'task.id',
      'task.name',
      'execution.scheduledTime',
      'execution.time',
      'execution.attempt',
    ]);
  });
});

describe('findTemplateErrors', () => {
  it('when every known variable is used, with or without spaces, then there is no error', () => {
    const payload = {
      content: '{{task.id}} {{ task.name }} {{  execution.scheduledTime}} {{execution.time  }}',
      embeds: [
        {
          title: 'Attempt {{\texecution.attempt\t}}',
          fields: [{ name: 'n', value: '{{task.name}}' }],
        },
      ],
    };
    expect(findTemplateErrors(payload)).toEqual([]);
  });

  it('when a string uses an unknown variable, then the error has its path and lists the known ones', () => {
    const payload = {
      content: 'ok',
      embeds: [
        {
          fields: [
            { name: 'a', value: 'b' },
            { name: 'c', value: 'Owner: {{task.owner}}' },
          ],
        },
      ],
    };
    expect(findTemplateErrors(payload)).toEqual([
      {
        path: 'payload.embeds[0].fields[1].value',
        message: `unknown template variable "task.owner"; known variables: ${KNOWN_LIST}`,
      },
    ]);
  });

  it('when a variable differs only in letter case, then it is unknown', () => {
    expect(findTemplateErrors({ content: '{{Task.Name}}' })).toEqual([
      {
        path: 'payload.content',
        message: expect.stringContaining('"Task.Name"') as unknown as string,
      },
    ]);
  });

  it('when a string has several problems, then each is reported', () => {
    const errors = findTemplateErrors({ content: '{{foo}} and {{bar}} and {{task.id}}' });
    expect(errors.map((error) => error.message)).toEqual([
      expect.stringContaining('"foo"'),
      expect.stringContaining('"bar"'),
    ]);
  });

  it.each([
    ['{{task.id', 'no closing braces'],
    ['Hello {{task.name}', 'one closing brace'],
    ['{{ task-id }}', 'a dash in the name'],
    ['{{task. id}}', 'a space inside the name'],
    ['{{task.}}', 'a trailing dot'],
    ['{{task.id {{task.name}}', 'a tag opened inside another'],
  ])('when a tag is malformed (%s: %s), then it is reported, not sent as literal text', (text) => {
    const errors = findTemplateErrors({ username: 'bot', content: text });
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe('payload.content');
    expect(errors[0]?.message).toMatch(/^malformed template tag ".*": write it as \{\{ name \}\}/);
  });

  it.each([
    ['{{ }}'],
    ['JSON: {{"a": 1}}'],
    ['Go: {{ .Values.image }}'],
    ['closing only }} here'],
    ['{{{'],
    ['{{1}}'],
    ['single {braces}'],
  ])('when braces do not start a tag (%s), then they are literal text and no error', (text) => {
    expect(findTemplateErrors({ content: text })).toEqual([]);
  });

  it('when values are not strings, then they are ignored; strings at the root are checked', () => {
    expect(findTemplateErrors({ tts: true, flags: 4, embeds: [{ color: 1, x: null }] })).toEqual(
      [],
    );
    expect(findTemplateErrors('{{nope}}')).toEqual([
      { path: 'payload', message: expect.stringContaining('"nope"') as unknown as string },
    ]);
    expect(findTemplateErrors(undefined)).toEqual([]);
  });

  it('when an object key looks like a template, then it is not checked', () => {
    expect(findTemplateErrors({ '{{nope}}': 'value' })).toEqual([]);
  });
});

describe('renderPayload', () => {
  it('when every variable is used, then each renders (dates as ISO 8601 UTC)', () => {
    const rendered = renderPayload(
      {
        content: 'Task {{task.id}} "{{ task.name }}" attempt {{execution.attempt}}',
        embeds: [
          {
            description: 'scheduled {{execution.scheduledTime}}, ran {{execution.time}}',
            timestamp: '{{execution.time}}',
          },
        ],
      },
      vars,
    );
    expect(rendered).toEqual({
      content: `Task ${vars.task.id} "Standup <reminder> & "more"" attempt 3`,
      embeds: [
        {
          description: 'scheduled 2025-01-31T07:00:00.000Z, ran 2025-01-31T07:00:01.250Z',
          timestamp: '2025-01-31T07:00:01.250Z',
        },
      ],
    });
  });

  it('when the scheduled time is null (manual trigger), then it renders as the execution time', () => {
    const manual: TemplateVars = { ...vars, execution: { ...vars.execution, scheduledTime: null } };
    expect(renderPayload({ content: '{{execution.scheduledTime}}' }, manual)).toEqual({
      content: '2025-01-31T07:00:01.250Z',
    });
  });

  it('when the input is frozen, then it is not mutated and the result is a deep copy', () => {
    const payload = deepFreeze({
      content: '{{task.name}}',
      embeds: [
        {
          title: '{{task.id}}',
          fields: [{ name: 'n', value: '{{execution.attempt}}', inline: true }],
        },
      ],
      allowed_mentions: { parse: ['users'] },
    });
    const before = JSON.stringify(payload);
    const rendered = renderPayload(payload, vars);
    expect(JSON.stringify(payload)).toBe(before);
    expect(rendered).not.toBe(payload);
    expect(rendered.embeds).not.toBe(payload.embeds);
    expect(rendered.embeds[0]).not.toBe(payload.embeds[0]);
    expect(rendered.allowed_mentions.parse).not.toBe(payload.allowed_mentions.parse);
    expect(rendered.embeds[0]?.fields[0]?.value).toBe('3');
    rendered.embeds[0]!.title = 'changed';
    expect(payload.embeds[0]?.title).toBe('{{task.id}}');
  });

  it('when a value contains HTML or template syntax, then it is inserted verbatim and not expanded again', () => {
    const tricky: TemplateVars = {
      ...vars,
      task: { id: 'id-1', name: '<b>{{task.id}}</b> & "x"' },
    };
    expect(renderPayload({ content: '{{task.name}}' }, tricky)).toEqual({
      content: '<b>{{task.id}}</b> & "x"',
    });
  });

  it('when a string has unknown or malformed tags, then they stay literal', () => {
    expect(renderPayload({ content: '{{nope}} {{task.id {{ }} {{{task.id}}}' }, vars)).toEqual({
      content: `{{nope}} {{task.id {{ }} {${vars.task.id}}`,
    });
  });

  it('when values are not strings, then they are copied unchanged', () => {
    expect(renderPayload({ tts: false, flags: 4, color: null, list: [1, 'a'] }, vars)).toEqual({
      tts: false,
      flags: 4,
      color: null,
      list: [1, 'a'],
    });
    expect(renderPayload('{{execution.attempt}}', vars)).toBe('3');
    expect(renderPayload(7, vars)).toBe(7);
  });

  it('when a JSON payload has a __proto__ key, then it is copied as data without touching prototypes', () => {
    const payload = JSON.parse('{"content":"x","__proto__":{"polluted":"{{task.id}}"}}') as object;
    const rendered = renderPayload(payload, vars) as Record<string, unknown>;
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(rendered, '__proto__')?.value).toEqual({
      polluted: vars.task.id,
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('Discord timestamps: {{<time>|discord[:style]}} (SPEC §13)', () => {
  // 2025-01-31T07:00:00Z
  const scheduledUnix = 1738306800;

  it('when a time variable has the discord filter, then it arrives as <t:unix seconds:style>, f by default', () => {
    const rendered = renderPayload(
      {
        content:
          'due {{execution.scheduledTime|discord:R}} ({{ execution.scheduledTime | discord }})',
        embeds: [{ footer: { text: 'sent {{execution.time|discord:T}}' } }],
      },
      vars,
    );
    expect(rendered).toEqual({
      content: `due <t:${scheduledUnix}:R> (<t:${scheduledUnix}:f>)`,
      embeds: [{ footer: { text: `sent <t:${scheduledUnix + 1}:T>` } }],
    });
  });

  it.each(['t', 'T', 'd', 'D', 'f', 'F', 'R'])(
    'when the style is %s, then it is accepted and kept',
    (style) => {
      expect(findTemplateErrors({ content: `{{execution.time|discord:${style}}}` })).toEqual([]);
      expect(renderPayload({ content: `{{execution.time|discord:${style}}}` }, vars).content).toBe(
        `<t:${scheduledUnix + 1}:${style}>`,
      );
    },
  );

  it('when a manual trigger has no scheduled time, then the filter formats the execution time', () => {
    const manual = { ...vars, execution: { ...vars.execution, scheduledTime: null } };
    expect(
      renderPayload({ content: '{{execution.scheduledTime|discord:R}}' }, manual).content,
    ).toBe(`<t:${scheduledUnix + 1}:R>`);
  });

  it.each([
    ['{{execution.time|discord:x}}', /unknown Discord timestamp style "x".*t T d D f F R/],
    ['{{execution.time|discord:}}', /unknown Discord timestamp style ""/],
    ['{{execution.time|upper}}', /unknown template filter "upper"/],
    [
      '{{task.name|discord:R}}',
      /formats a time: use it on execution.scheduledTime or execution.time, not task.name/,
    ],
    ['{{execution.attempt|discord}}', /formats a time/],
  ])(
    'when a payload has %s, then it is an error at its path and stays literal if delivered',
    (text, message) => {
      const errors = findTemplateErrors({ embeds: [{ description: text }] });
      expect(errors).toEqual([
        { path: 'payload.embeds[0].description', message: expect.stringMatching(message) },
      ]);
      expect(renderPayload({ content: text }, vars).content).toBe(text);
    },
  );
});

describe('formatPath', () => {
  it('when given keys and indexes, then it builds payload.embeds[0].fields[2].value', () => {
    expect(formatPath(['embeds', 0, 'fields', 2, 'value'])).toBe(
      'payload.embeds[0].fields[2].value',
    );
    expect(formatPath([])).toBe('payload');
    expect(formatPath(['a b'])).toBe('payload["a b"]');
  });
});
