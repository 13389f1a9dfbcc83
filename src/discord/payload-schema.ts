/**
 * Validation of a task's Discord execute-webhook body (SPEC §5), with one Joi schema that reports
 * every invalid field at once (`abortEarly: false`) as `{ path, message }` pairs such as
 * `{ path: 'payload.embeds[0].fields[2].value', message: 'must be at most 1024 characters' }`.
 *
 * Accepted keys (anything else is rejected at every level, naming the key): `content`, `username`,
 * `avatar_url`, `tts`, `embeds`, `allowed_mentions`, `thread_name`, `flags`; per embed `title`,
 * `description`, `url`, `timestamp`, `color`, `footer`, `image`, `thumbnail`, `author`, `fields`.
 * Files, components, polls and `applied_tags` are not supported by the scheduler.
 *
 * Decisions where SPEC §5 is silent (mirroring what Discord itself accepts, so that a payload that
 * passes here is not rejected by Discord with a 400 at the first scheduled run):
 *
 * - Lengths count Unicode characters (code points), as Discord does, not UTF-16 units: an emoji
 *   such as 😀 is one character.
 * - A message needs text or an embed: `content` with at least one non-whitespace character, or a
 *   non-empty `embeds` array. `content: ""` and `embeds: []` are accepted next to the other one;
 *   when neither makes a message, the error is reported at `payload.content`.
 *   Every other string must be non-empty; `username`, `thread_name` and field `name`/`value` must
 *   also not be blank (Discord rejects blank field names and values; a blank username or thread
 *   name is a mistake).
 * - `username` must not contain "discord" or "clyde" in any letter case (Discord's webhook rule).
 * - URLs (`avatar_url`, embed `url`, `icon_url`s, `image.url`, `thumbnail.url`) must be absolute
 *   http(s) URLs without whitespace.
 * - `timestamp` is an ISO 8601 date or date-time (`2025-01-31`, `2025-01-31T09:00:00Z`,
 *   `2025-01-31T09:00:00.000+02:00`) with real calendar values.
 * - `color` is an integer 0..16777215 (0xFFFFFF); strings such as "#ff0000" are rejected. No value
 *   is coerced (`convert: false`): `"true"` is not a boolean and `"5"` is not a number.
 * - `allowed_mentions.roles`/`users` hold snowflakes (numeric strings of up to 20 digits, at most
 *   100 each) and cannot be combined with the same type in `parse` (Discord rejects that too).
 * - `flags`: webhooks may only set SUPPRESS_EMBEDS (4) and SUPPRESS_NOTIFICATIONS (4096), so the
 *   accepted values are 0, 4, 4096 and 4100.
 * - The total of all embed text (titles, descriptions, field names and values, footer texts and
 *   author names, over all embeds) is at most 6000 characters, reported once at `payload.embeds`.
 *
 * Templates (see ./template.ts): the limits apply to the text as stored, with its template tags
 * unrendered. A rendered value can be longer than its tag (`{{task.name}}` is 13 characters but a
 * task name can be 100; `{{execution.time}}` renders to 24), so a payload close to a limit can
 * exceed it once rendered. Format rules (URLs, `timestamp`) are checked on the text with every
 * known tag replaced by a sample value, so `"timestamp": "{{execution.time}}"` and
 * `"url": "https://example.com/tasks/{{task.id}}"` are accepted. What a rendered value may break
 * (a length, a URL with a space from the task name, a username containing "discord") is left to
 * the delivery: it is meant to call {@link validatePayload} again on the rendered payload and treat
 * errors as a permanent failure (as Discord's own 400 would be), logging the paths and messages.
 */
import Joi from 'joi';
import { formatPath, renderString, templateValues } from './template';

export interface FieldError {
  path: string;
  message: string;
}

export const LIMITS = {
  content: 2000,
  username: 80,
  threadName: 100,
  embeds: 10,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  authorName: 256,
  embedTotal: 6000,
  color: 0xffffff,
  mentionIds: 100,
} as const;

/** Message flags a webhook may set: SUPPRESS_EMBEDS (1 << 2) and SUPPRESS_NOTIFICATIONS (1 << 12). */
export const WEBHOOK_FLAGS = { SUPPRESS_EMBEDS: 4, SUPPRESS_NOTIFICATIONS: 4096 } as const;
const ALLOWED_FLAGS: readonly number[] = [0, 4, 4096, 4100];

/** Stand-ins for the template tags when checking formats (URLs, timestamps). */
const SAMPLE_VALUES = templateValues({
  task: { id: '00000000-0000-4000-8000-000000000000', name: 'task' },
  execution: { scheduledTime: new Date(0), time: new Date(0), attempt: 1 },
});

/** Length in Unicode code points, which is how Discord counts characters. */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

const MESSAGES: Record<string, string> = {
  'any.required': 'is required',
  'any.only': 'must be one of {{#valids}}',
  'object.base': 'must be an object',
  'object.unknown': 'unknown key "{{#key}}" is not allowed',
  'array.base': 'must be an array',
  'array.max': 'must contain at most {{#limit}} items',
  'array.sparse': 'must not contain empty items',
  'string.base': 'must be a string',
  'string.empty': 'must not be empty',
  'number.base': 'must be a number',
  'number.integer': 'must be an integer',
  'number.min': 'must be at least {{#limit}}',
  'number.max': 'must be at most {{#limit}}',
  'number.infinity': 'must be a finite number',
  'number.unsafe': 'must be a safe integer',
  'boolean.base': 'must be true or false',
  'text.max': 'must be at most {{#limit}} characters (it has {{#length}})',
  'text.blank': 'must not be blank',
  'url.http': 'must be an absolute http(s) URL',
  'timestamp.iso': 'must be an ISO 8601 timestamp such as 2025-01-31T09:00:00Z',
  'username.reserved':
    'must not contain "discord" or "clyde" in any letter case (Discord rejects such webhook usernames)',
  'snowflake.format': 'must be a snowflake: a string of 1 to 20 digits',
  'mentions.exclusive':
    'cannot be combined with "{{#type}}" in allowed_mentions.parse (Discord rejects both at once)',
  'flags.unsupported':
    'must be 0, 4 (SUPPRESS_EMBEDS), 4096 (SUPPRESS_NOTIFICATIONS) or 4100 (both): ' +
    'these are the only message flags Discord accepts from a webhook',
  'embeds.total':
    'the embeds have {{#total}} characters of text in total (titles, descriptions, field names ' +
    'and values, footer texts and author names); Discord allows at most {{#limit}}',
};

interface TextOptions {
  /** Accept `''` (only `content`, which may be empty when there are embeds). */
  allowEmpty?: boolean;
  /** Reject strings of only whitespace. */
  notBlank?: boolean;
}

const text = (max: number, options: TextOptions = {}) => {
  const base = options.allowEmpty ? Joi.string().allow('') : Joi.string();
  return base.custom((value: string, helpers) => {
    const length = characterCount(value);
    if (length > max) return helpers.error('text.max', { limit: max, length });
    if (options.notBlank && value.trim() === '') return helpers.error('text.blank');
    return value;
  });
};

const httpUrl = () =>
  Joi.string().custom((value: string, helpers) => {
    const probe = renderString(value, SAMPLE_VALUES);
    if (/[\s\p{Cc}]/u.test(probe)) return helpers.error('url.http');
    try {
      const url = new URL(probe);
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
        return helpers.error('url.http');
      }
    } catch {
      return helpers.error('url.http');
    }
    return value;
  });

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:[Zz]|[+-](\d{2}):?(\d{2}))?)?$/;

/** ISO 8601 date or date-time with real calendar values (no 2025-02-30, no 25:00). */
export function isIsoTimestamp(value: string): boolean {
  const match = ISO_8601.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match
    .slice(1)
    .map((part) => (part === undefined ? 0 : Number(part)));
  const date = new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() + 1 === month &&
    date.getUTCDate() === day &&
    (hour ?? 0) <= 23 &&
    (minute ?? 0) <= 59 &&
    (second ?? 0) <= 59 &&
    (offsetHours ?? 0) <= 23 &&
    (offsetMinutes ?? 0) <= 59
  );
}

const timestamp = () =>
  Joi.string().custom((value: string, helpers) =>
    isIsoTimestamp(renderString(value, SAMPLE_VALUES)) ? value : helpers.error('timestamp.iso'),
  );

const snowflake = Joi.string().custom((value: string, helpers) =>
  /^\d{1,20}$/.test(value) ? value : helpers.error('snowflake.format'),
);

const mentionIds = (type: 'roles' | 'users') =>
  Joi.array()
    .items(snowflake)
    .max(LIMITS.mentionIds)
    .when('parse', {
      is: Joi.array().has(Joi.valid(type)).required(),
      then: Joi.any().custom((_value: unknown, helpers) =>
        helpers.error('mentions.exclusive', { type }),
      ),
    });

/** Sum of the embed text Discord counts against its 6000-character limit. */
export function embedTextLength(embeds: readonly unknown[]): number {
  const len = (value: unknown) => (typeof value === 'string' ? characterCount(value) : 0);
  const get = (value: unknown, key: string): unknown =>
    value !== null && typeof value === 'object'
      ? (value as Record<string, unknown>)[key]
      : undefined;
  let total = 0;
  for (const embed of embeds) {
    total += len(get(embed, 'title')) + len(get(embed, 'description'));
    total += len(get(get(embed, 'footer'), 'text')) + len(get(get(embed, 'author'), 'name'));
    const fields = get(embed, 'fields');
    if (Array.isArray(fields)) {
      for (const field of fields) total += len(get(field, 'name')) + len(get(field, 'value'));
    }
  }
  return total;
}

const embed = Joi.object({
  title: text(LIMITS.title),
  description: text(LIMITS.description),
  url: httpUrl(),
  timestamp: timestamp(),
  color: Joi.number()
    .integer()
    .min(0)
    .max(LIMITS.color)
    .messages({ 'number.max': 'must be at most 16777215 (0xFFFFFF)' }),
  footer: Joi.object({
    text: text(LIMITS.footerText).required(),
    icon_url: httpUrl(),
  }),
  image: Joi.object({ url: httpUrl().required() }),
  thumbnail: Joi.object({ url: httpUrl().required() }),
  author: Joi.object({
    name: text(LIMITS.authorName).required(),
    url: httpUrl(),
    icon_url: httpUrl(),
  }),
  fields: Joi.array()
    .items(
      Joi.object({
        name: text(LIMITS.fieldName, { notBlank: true }).required(),
        value: text(LIMITS.fieldValue, { notBlank: true }).required(),
        inline: Joi.boolean(),
      }),
    )
    .max(LIMITS.fields),
});

/** A message needs text or an embed; `content` may be empty or absent only next to embeds. */
const HAS_EMBEDS = Joi.array().min(1).required();

const payloadSchema = Joi.object({
  content: Joi.when('embeds', {
    is: HAS_EMBEDS,
    then: text(LIMITS.content, { allowEmpty: true }),
    otherwise: text(LIMITS.content, { notBlank: true }).required().messages({
      'any.required': 'is required when there are no embeds (a message needs text or an embed)',
      'string.empty': 'must not be empty when there are no embeds',
      'text.blank': 'must not be blank when there are no embeds',
    }),
  }),
  username: text(LIMITS.username, { notBlank: true }).custom((value: string, helpers) =>
    /discord|clyde/i.test(value) ? helpers.error('username.reserved') : value,
  ),
  avatar_url: httpUrl(),
  tts: Joi.boolean(),
  embeds: Joi.array()
    .items(embed)
    .max(LIMITS.embeds)
    .custom((value: unknown[], helpers) => {
      const total = embedTextLength(value);
      return total > LIMITS.embedTotal
        ? helpers.error('embeds.total', { total, limit: LIMITS.embedTotal })
        : value;
    }),
  allowed_mentions: Joi.object({
    parse: Joi.array().items(Joi.string().valid('roles', 'users', 'everyone')),
    roles: mentionIds('roles'),
    users: mentionIds('users'),
    replied_user: Joi.boolean(),
  }),
  thread_name: text(LIMITS.threadName, { notBlank: true }),
  flags: Joi.number().custom((value: number, helpers) =>
    ALLOWED_FLAGS.includes(value) ? value : helpers.error('flags.unsupported'),
  ),
})
  .required()
  .prefs({
    abortEarly: false,
    convert: false,
    messages: MESSAGES,
    errors: { label: false, wrap: { label: false } },
  });

/**
 * Every problem of a Discord execute-webhook body, or `[]` when it is valid. Paths start with
 * `payload` (`payload.embeds[0].fields[2].value`); messages are sentences without the path.
 */
export function validatePayload(payload: unknown): FieldError[] {
  const { error } = payloadSchema.validate(payload);
  if (!error) return [];
  return error.details.map((detail) => ({
    path: formatPath(detail.path),
    message: detail.message,
  }));
}
