import { parseDeleteAfter } from '../../../src/discord/messages';
import type {
  DiscordEmbed,
  DiscordPayload,
  FieldError,
  MessageMode,
  Task,
  UpdateTaskRequest,
} from '../api/client';
import { instantOf, wallOfInstant } from './wall-time';

/** Discord's limits (SPEC §5), counted as the user types. */
export const LIMITS = {
  name: 100,
  content: 2000,
  username: 80,
  embeds: 10,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  author: 256,
  embedTotal: 6000,
} as const;

export interface FieldDraft {
  name: string;
  value: string;
  inline: boolean;
}

export interface EmbedDraft {
  title: string;
  description: string;
  url: string;
  /** '#rrggbb', or '' for none. */
  color: string;
  timestamp: string;
  authorName: string;
  authorUrl: string;
  authorIcon: string;
  footerText: string;
  footerIcon: string;
  image: string;
  thumbnail: string;
  fields: FieldDraft[];
}

export interface Draft {
  name: string;
  schedule: string;
  timezone: string;
  /** A new URL; empty when editing and keeping the saved one. */
  webhookUrl: string;
  maxRetry: number;
  /** What each run does in the channel (SPEC §13). */
  messageMode: MessageMode;
  /** A duration such as `10s` or `7d`; empty keeps messages. Not sent with mode `edit`. */
  deleteAfter: string;
  /**
   * A new webhook for this task's failure and recovery alerts (SPEC §14); empty when there is none
   * or, when editing, to keep the saved one.
   */
  alertWebhookUrl: string;
  /** When editing: remove the saved alert webhook (sends null: the deployment's one again). */
  removeAlertWebhook: boolean;
  /**
   * Bounds (SPEC §14) as the date-time fields hold them, wall-clock times in the task's zone
   * (wall-time.ts); empty for none.
   */
  startAt: string;
  endAt: string;
  /** The most scheduled runs, as typed; empty for no limit. */
  maxRuns: string;
  startPaused: boolean;
  content: string;
  username: string;
  avatarUrl: string;
  embeds: EmbedDraft[];
  /** Payload keys the composer does not edit (tts, allowed_mentions, ...), kept as they were. */
  extras: Record<string, unknown>;
}

export const emptyEmbed = (): EmbedDraft => ({
  title: '',
  description: '',
  url: '',
  color: '#5865f2',
  timestamp: '',
  authorName: '',
  authorUrl: '',
  authorIcon: '',
  footerText: '',
  footerIcon: '',
  image: '',
  thumbnail: '',
  fields: [],
});

/** A new task's schedule, and the one "On a schedule" offers after a one-off. */
export const DEFAULT_SCHEDULE = '0 9 * * MON-FRI';

export function emptyDraft(): Draft {
  return {
    name: '',
    schedule: DEFAULT_SCHEDULE,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    webhookUrl: '',
    maxRetry: 3,
    messageMode: 'post',
    deleteAfter: '',
    alertWebhookUrl: '',
    removeAlertWebhook: false,
    startAt: '',
    endAt: '',
    maxRuns: '',
    startPaused: false,
    content: '',
    username: '',
    avatarUrl: '',
    embeds: [],
    extras: {},
  };
}

const hex = (color: number | undefined) =>
  color === undefined ? '' : `#${color.toString(16).padStart(6, '0')}`;

export function draftFromTask(task: Task): Draft {
  const {
    content,
    username,
    avatar_url: avatarUrl,
    embeds,
    ...extras
  } = task.payload as Record<string, unknown> & {
    content?: string;
    username?: string;
    avatar_url?: string;
    embeds?: DiscordEmbed[];
  };
  return {
    name: task.name,
    schedule: task.schedule,
    timezone: task.timezone,
    webhookUrl: '',
    maxRetry: task.maxRetry,
    messageMode: task.messageMode ?? 'post',
    deleteAfter: task.deleteAfter ?? '',
    alertWebhookUrl: '',
    removeAlertWebhook: false,
    startAt: wallOfInstant(task.startAt, task.timezone),
    endAt: wallOfInstant(task.endAt, task.timezone),
    maxRuns: task.maxRuns === null ? '' : String(task.maxRuns),
    startPaused: task.status !== 'ACTIVE',
    content: content ?? '',
    username: username ?? '',
    avatarUrl: avatarUrl ?? '',
    embeds: (embeds ?? []).map((e) => ({
      title: e.title ?? '',
      description: e.description ?? '',
      url: e.url ?? '',
      color: hex(e.color),
      timestamp: e.timestamp ?? '',
      authorName: e.author?.name ?? '',
      authorUrl: e.author?.url ?? '',
      authorIcon: e.author?.icon_url ?? '',
      footerText: e.footer?.text ?? '',
      footerIcon: e.footer?.icon_url ?? '',
      image: e.image?.url ?? '',
      thumbnail: e.thumbnail?.url ?? '',
      fields: (e.fields ?? []).map((f) => ({
        name: f.name,
        value: f.value,
        inline: f.inline ?? false,
      })),
    })),
    extras,
  };
}

/** The message modes, in the words of the editor (a one-line explanation) and the task page. */
export const MESSAGE_MODES: {
  value: MessageMode;
  label: string;
  explain: string;
  summary: string;
}[] = [
  {
    value: 'post',
    label: 'Post',
    explain: 'Each run posts a new message.',
    summary: 'Post a new message each run',
  },
  {
    value: 'edit',
    label: 'Edit',
    explain:
      'Each run edits the message the last run posted (a status board); it posts a new one only when there is none or it was deleted in Discord.',
    summary: 'Edit one message each run (a status board)',
  },
  {
    value: 'replace',
    label: 'Replace',
    explain:
      'Each run posts a new message, then deletes the one the last run posted, so one is left.',
    summary: 'Post a new message each run and delete the previous one',
  },
];

const DURATION = /^([1-9][0-9]{0,6})(s|m|h|d)$/;
const UNIT_WORDS = { s: 'second', m: 'minute', h: 'hour', d: 'day' } as const;

/** Why a "Delete after" value is refused (the API's own rules, shared), or undefined. */
export function deleteAfterError(text: string): string | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  const parsed = parseDeleteAfter(value);
  if (parsed.ok) return undefined;
  return `${parsed.reason.charAt(0).toUpperCase()}${parsed.reason.slice(1)}.`;
}

/** What the API stores for the draft's "Delete after": null keeps messages (always with edit). */
export function deleteAfterOf(draft: Draft): string | null {
  const value = draft.deleteAfter.trim();
  return draft.messageMode === 'edit' || value === '' ? null : value;
}

/**
 * The shape the API requires of a webhook URL (the OpenAPI pattern of `webhookUrl` and
 * `alertWebhookUrl`). The allowed origins are the server's to check: it answers at the field.
 */
const WEBHOOK_URL_SHAPE =
  /^[Hh][Tt][Tt][Pp][Ss]?:\/\/([A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?\/api\/(v[0-9]+\/)?webhooks\/[0-9]+\/[A-Za-z0-9_-]+\/?(\?thread_id=[0-9]+)?$/;

/** Why a webhook URL would be refused for its shape, or undefined (empty is not judged here). */
export function webhookUrlError(text: string): string | undefined {
  const value = text.trim();
  if (value === '' || WEBHOOK_URL_SHAPE.test(value)) return undefined;
  return 'Must be a Discord webhook URL: https://discord.com/api/webhooks/{id}/{token}, optionally with ?thread_id={digits}.';
}

/**
 * What a save sends for the alert webhook: a new URL, null to remove the saved one, or undefined
 * to send nothing (none at creation; the saved one kept when editing).
 */
export function alertWebhookUrlOf(draft: Draft, editing: boolean): string | null | undefined {
  if (editing && draft.removeAlertWebhook) return null;
  const value = draft.alertWebhookUrl.trim();
  return value === '' ? undefined : value;
}

/** The draft's "Max runs": null for no limit; anything else as a number, for the API to judge. */
export function maxRunsOf(text: string): number | null {
  const value = text.trim();
  return value === '' ? null : Number(value);
}

type Bounds = Pick<UpdateTaskRequest, 'startAt' | 'endAt' | 'maxRuns'>;

/**
 * What a save sends for the bounds: the set ones at creation; when editing, those the user changed
 * (null clears one). An untouched bound is left out, so a saved instant the fields show to the
 * second is never rewritten, nor checked again, by a save that changes something else.
 */
export function boundsOf(draft: Draft, saved?: Draft): Bounds {
  const bounds: Bounds = {};
  const zoneChanged = saved !== undefined && draft.timezone !== saved.timezone;
  for (const key of ['startAt', 'endAt'] as const) {
    const changed =
      saved === undefined ? draft[key] !== '' : zoneChanged || draft[key] !== saved[key];
    if (changed) bounds[key] = instantOf(draft[key], draft.timezone);
  }
  if (saved === undefined ? draft.maxRuns.trim() !== '' : draft.maxRuns !== saved.maxRuns) {
    bounds.maxRuns = maxRunsOf(draft.maxRuns);
  }
  return bounds;
}

/** `10s` as "10 seconds", `1d` as "1 day"; anything else as it is. */
export function describeDuration(text: string): string {
  const match = DURATION.exec(text);
  if (!match) return text;
  const n = Number(match[1]);
  const word = UNIT_WORDS[match[2] as keyof typeof UNIT_WORDS];
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Only what the user filled in: Discord rejects empty strings where it expects text. */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined && v !== ''),
  ) as T;
}

export function embedToPayload(e: EmbedDraft): DiscordEmbed {
  const embed: DiscordEmbed = definedOnly({
    title: e.title,
    description: e.description,
    url: e.url,
    timestamp: e.timestamp,
    color: e.color ? parseInt(e.color.slice(1), 16) : undefined,
  });
  if (e.authorName || e.authorUrl || e.authorIcon) {
    embed.author = definedOnly({ name: e.authorName, url: e.authorUrl, icon_url: e.authorIcon });
  }
  if (e.footerText || e.footerIcon) {
    embed.footer = definedOnly({ text: e.footerText, icon_url: e.footerIcon });
  }
  if (e.image) embed.image = { url: e.image };
  if (e.thumbnail) embed.thumbnail = { url: e.thumbnail };
  if (e.fields.length > 0) embed.fields = e.fields.map((f) => ({ ...f }));
  return embed;
}

export function payloadOf(draft: Draft): DiscordPayload {
  const payload: Record<string, unknown> = {
    ...draft.extras,
    ...definedOnly({
      content: draft.content,
      username: draft.username,
      avatar_url: draft.avatarUrl,
    }),
  };
  if (draft.embeds.length > 0) payload.embeds = draft.embeds.map(embedToPayload);
  return payload as DiscordPayload;
}

/** Characters Discord counts against the 6000 total of a message's embeds. */
export function embedText(e: EmbedDraft): number {
  return (
    e.title.length +
    e.description.length +
    e.authorName.length +
    e.footerText.length +
    e.fields.reduce((sum, f) => sum + f.name.length + f.value.length, 0)
  );
}

/**
 * The API's field errors keyed by the composer's own paths: `body.payload.embeds[0].title` and
 * `body.payload.embeds.0.title` both become `payload.embeds.0.title`.
 */
export function errorsByPath(errors: FieldError[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { path, message } of errors) {
    const key = path
      .replace(/^body\.?/, '')
      .replace(/\[(\d+)\]/g, '.$1')
      .replace(/\["([^"]*)"\]/g, '.$1');
    out[key] = out[key] ? `${out[key]}; ${message}` : message;
  }
  return out;
}
