/**
 * What a run does with Discord messages (SPEC §13, docs/delivery.md "Message modes"): post a new
 * one, edit the last one, or replace it; and delete each one some time after it was posted.
 */

export const MESSAGE_MODES = ['post', 'edit', 'replace'] as const;
export type MessageMode = (typeof MESSAGE_MODES)[number];

/** `deleteAfter`'s bounds: a second, and thirty days (Temporal keeps the timer durably). */
export const DELETE_AFTER_MIN_MS = 1_000;
export const DELETE_AFTER_MAX_MS = 30 * 24 * 60 * 60 * 1_000;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9][0-9]{0,6})(s|m|h|d)$/;

/** `10s`, `30m`, `12h`, `7d` as milliseconds, or why not. */
export function parseDeleteAfter(
  text: string,
): { ok: true; ms: number } | { ok: false; reason: string } {
  const match = DURATION.exec(text);
  if (!match) {
    return {
      ok: false,
      reason: 'must be a duration such as 10s, 30m, 12h or 7d (a whole number and one unit)',
    };
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms < DELETE_AFTER_MIN_MS || ms > DELETE_AFTER_MAX_MS) {
    return { ok: false, reason: 'must be between 1s and 30d' };
  }
  return { ok: true, ms };
}

/** Why a task's mode and deleteAfter cannot go together, or undefined. */
export function messageModeConflict(
  mode: MessageMode,
  deleteAfter: string | null,
): string | undefined {
  if (mode === 'edit' && deleteAfter !== null) {
    return 'deleteAfter cannot be used with messageMode "edit": its one message is edited by every run (use "post" or "replace" for messages that go away)';
  }
  return undefined;
}

/**
 * The fields Discord's Edit Webhook Message takes: the name, avatar, tts and thread of a message
 * are set when it is posted and kept. An edit sends the message as the template renders it now,
 * so `content` and `embeds` are always sent: a run whose message has no embeds clears the
 * previous run's embeds instead of keeping them.
 */
const EDITABLE = ['content', 'embeds', 'allowed_mentions', 'components', 'attachments'] as const;

export function toEditBody(body: Record<string, unknown>): Record<string, unknown> {
  const edit: Record<string, unknown> = { content: '', embeds: [] };
  for (const key of EDITABLE) if (body[key] !== undefined) edit[key] = body[key];
  return edit;
}
