/**
 * Discord webhook URLs: validation (SPEC §5), the delivery URL (SPEC §6) and masking (SPEC §7).
 *
 * A webhook URL's token is a secret. Nothing returned by this module contains it except
 * {@link toDeliveryUrl}, whose result goes to axios only and must itself never be logged (pass any
 * error text through {@link redactWebhookTokens} first).
 *
 * Decisions where SPEC is silent:
 *
 * - Accepted forms: `<origin>/api/webhooks/{id}/{token}` and `<origin>/api/v{n}/webhooks/{id}/{token}`
 *   (any version number), with an optional trailing slash, and an optional `?thread_id={digits}`.
 *   `<origin>` (scheme, host, port; the host in any letter case, default ports implied) must be one
 *   of the allowed origins (`WEBHOOK_ALLOWED_ORIGINS`).
 * - The id is any run of digits (real Discord snowflakes have 17 to 20, but local mocks and tests
 *   use short ones); the token is `[A-Za-z0-9_-]+` (Discord's are 68 characters).
 * - Rejected: a user name or password (even an empty `@`), a fragment (even an empty `#`), any
 *   query parameter but one numeric `thread_id` (`wait` included: the delivery adds it),
 *   whitespace or control characters and backslashes anywhere (the URL parser would silently drop
 *   or reinterpret them, so what is stored would not be what is called).
 * - Masking shows `****` plus the token's last 4 characters, as SPEC §7 says, only for tokens of
 *   at least 16 characters; a shorter token (test tokens) is masked entirely, so the visible tail is
 *   never a large part of the secret. The mask keeps the URL's own origin and path form (with or
 *   without `/v{n}`) and `?thread_id=`; anything that is not a webhook URL masks to `****`.
 * - Delivery URL: always `/api/v10/webhooks/{id}/{token}?wait=true[&thread_id=…]`. The host
 *   `discordapp.com` becomes `discord.com`, and `<sub>.discordapp.com` (ptb, canary) becomes
 *   `<sub>.discord.com`; `ptb.discord.com` and `canary.discord.com` keep their host (a webhook works
 *   on any of them; the user chose it). Other origins (a local mock such as
 *   `http://127.0.0.1:9999`) keep their origin and get the same path. The allowed origins are not
 *   checked there: the delivery should call {@link validateWebhookUrl} with the current
 *   configuration before posting, since `WEBHOOK_ALLOWED_ORIGINS` may have changed since the task
 *   was saved.
 */

export type WebhookUrlValidation = { ok: true } | { ok: false; reason: string };

const PATH_SHAPE = /^\/api(?:\/v(\d+))?\/webhooks\/([^/]+)\/([^/]+)\/?$/;
const ID = /^\d+$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;
const FORBIDDEN_CHARACTERS = /[\s\p{Cc}]/u;
/** How many trailing token characters a mask may show, and from which token length. */
const VISIBLE_TAIL = 4;
const MIN_TOKEN_LENGTH_FOR_TAIL = 16;

const PATH_FORMS = '/api/webhooks/{id}/{token} or /api/v{n}/webhooks/{id}/{token}';

interface WebhookParts {
  url: URL;
  /** The version in `/api/v{n}/…`, undefined for `/api/webhooks/…`. */
  version: string | undefined;
  id: string;
  token: string;
  threadId: string | undefined;
}

/** `****` plus the last 4 characters of a token long enough to keep them secret enough. */
export function maskToken(token: string): string {
  return token.length >= MIN_TOKEN_LENGTH_FOR_TAIL ? `****${token.slice(-VISIBLE_TAIL)}` : '****';
}

function parseUrl(input: string): URL | undefined {
  try {
    const url = new URL(input);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The webhook parts of a URL, without judging origin, userinfo, fragment or extra query. */
function webhookParts(input: string): WebhookParts | undefined {
  if (typeof input !== 'string') return undefined;
  const url = parseUrl(input);
  const match = url && PATH_SHAPE.exec(url.pathname);
  if (!url || !match) return undefined;
  const [, version, id = '', token = ''] = match;
  if (!ID.test(id) || !TOKEN.test(token)) return undefined;
  const threadId = url.searchParams.get('thread_id') ?? undefined;
  return {
    url,
    version,
    id,
    token,
    threadId: threadId !== undefined && ID.test(threadId) ? threadId : undefined,
  };
}

function normalizeOrigin(origin: string): string | undefined {
  const url = parseUrl(origin.trim());
  return url?.origin;
}

/** The raw authority (`user:pass@host:port`) and path of an absolute URL string, unparsed. */
function rawParts(input: string): { authority: string; path: string } {
  const start = input.indexOf('//');
  const rest = start < 0 ? input : input.slice(start + 2);
  const authorityEnd = rest.search(/[/?#]|$/);
  const afterAuthority = rest.slice(authorityEnd);
  return {
    authority: rest.slice(0, authorityEnd),
    path: afterAuthority.slice(0, afterAuthority.search(/[?#]|$/)),
  };
}

function check(input: string, allowedOrigins: readonly string[]): string | undefined {
  if (typeof input !== 'string') return 'must be a string';
  if (FORBIDDEN_CHARACTERS.test(input)) return 'must not contain whitespace or control characters';
  if (input.includes('\\')) return 'must not contain backslashes';
  const url = parseUrl(input);
  if (!url) return 'must be an absolute http(s) URL';
  const raw = rawParts(input);
  if (url.username !== '' || url.password !== '' || raw.authority.includes('@')) {
    return 'must not contain a user name or password (user:password@)';
  }
  const allowed = allowedOrigins.map(normalizeOrigin).filter((o): o is string => o !== undefined);
  if (!allowed.includes(url.origin)) {
    const list = allowed.length > 0 ? allowed.join(', ') : 'none configured';
    return `origin ${url.origin} is not allowed (allowed origins: ${list})`;
  }
  if (input.includes('#')) return 'must not have a fragment (#…)';
  // The raw path must already be the parsed one: no `.`/`..` segments or other normalisation.
  const match = raw.path === url.pathname ? PATH_SHAPE.exec(url.pathname) : null;
  if (!match) return `path must be ${PATH_FORMS}`;
  const [, , id = '', token = ''] = match;
  if (!ID.test(id)) return 'webhook id must be numeric';
  if (!TOKEN.test(token)) return "webhook token may only contain letters, digits, '_' and '-'";
  const names = [...url.searchParams.keys()];
  for (const name of names) {
    if (name === 'thread_id') continue;
    const shown = /^[A-Za-z0-9_.-]{1,32}$/.test(name) ? ` "${name}"` : '';
    return `query parameter${shown} is not allowed: the only one accepted is thread_id`;
  }
  const threadIds = url.searchParams.getAll('thread_id');
  if (threadIds.length > 1) return 'thread_id must be given at most once';
  const threadId = threadIds[0];
  if (threadId !== undefined && !ID.test(threadId)) return 'thread_id must be numeric';
  return undefined;
}

/**
 * Removes the token from a text even if it got there some unexpected way (belt and braces: the
 * reasons are built from constants, the origin, ids and short parameter names). Tokens shorter
 * than 8 characters are not searched for, as they would match ordinary words.
 */
function scrub(text: string, input: string): string {
  const out = redactWebhookTokens(text);
  const token = typeof input === 'string' ? /\/webhooks\/[^/]*\/([^/?#]+)/.exec(input)?.[1] : '';
  return token !== undefined && token.length >= 8 ? out.split(token).join('****') : out;
}

/**
 * Whether `input` is a webhook URL a task may store (SPEC §5): an allowed origin, the webhook
 * path, no user info, no fragment and no query but `thread_id`. The reason never contains the
 * token.
 */
export function validateWebhookUrl(
  input: string,
  allowedOrigins: readonly string[],
): WebhookUrlValidation {
  const reason = check(input, allowedOrigins);
  return reason === undefined ? { ok: true } : { ok: false, reason: scrub(reason, input) };
}

/**
 * `https://discord.com/api/webhooks/<id>/****<last 4 of token>` for API responses (SPEC §7),
 * keeping the URL's own origin, path form and `?thread_id=`; `****` when `url` is not a webhook
 * URL.
 */
export function maskWebhookUrl(url: string): string {
  let masked = maskedUrls.get(url);
  if (masked === undefined) {
    masked = maskUncached(url);
    // Bounded: a list page masks the same few URLs on every request (URL parsing is the cost).
    if (maskedUrls.size >= MASKED_CACHE_SIZE) maskedUrls.clear();
    maskedUrls.set(url, masked);
  }
  return masked;
}

const MASKED_CACHE_SIZE = 10_000;
const maskedUrls = new Map<string, string>();

function maskUncached(url: string): string {
  const parts = webhookParts(url);
  if (!parts) return '****';
  const prefix = parts.version === undefined ? '/api' : `/api/v${parts.version}`;
  const query = parts.threadId === undefined ? '' : `?thread_id=${parts.threadId}`;
  return `${parts.url.origin}${prefix}/webhooks/${parts.id}/${maskToken(parts.token)}${query}`;
}

function deliveryHost(hostname: string): string {
  if (hostname === 'discordapp.com') return 'discord.com';
  if (hostname.endsWith('.discordapp.com')) {
    return `${hostname.slice(0, -'discordapp.com'.length)}discord.com`;
  }
  return hostname;
}

/**
 * The URL the delivery POSTs to (SPEC §6): `<origin>/api/v10/webhooks/{id}/{token}?wait=true`
 * plus `&thread_id=…` when the URL has one, with discordapp.com rewritten to discord.com.
 * Contains the token: never log it. Throws (with a message without the token) when `url` is not
 * a webhook URL.
 */
export function toDeliveryUrl(url: string): string {
  const parts = webhookParts(url);
  if (!parts) {
    throw new TypeError(`not a Discord webhook URL: the path must be ${PATH_FORMS}`);
  }
  const origin = deliveryOrigin(parts.url);
  const thread = parts.threadId === undefined ? '' : `&thread_id=${parts.threadId}`;
  return `${origin}/api/v10/webhooks/${parts.id}/${parts.token}?wait=true${thread}`;
}

/**
 * The URL that edits (PATCH) or deletes (DELETE) a message a webhook posted (SPEC §13):
 * `<origin>/api/v10/webhooks/{id}/{token}/messages/{messageId}`, plus `?thread_id=…` when the
 * webhook URL has one (a message in a thread is found only with it). Contains the token.
 */
export function toMessageUrl(url: string, messageId: string): string {
  const parts = webhookParts(url);
  if (!parts) {
    throw new TypeError(`not a Discord webhook URL: the path must be ${PATH_FORMS}`);
  }
  if (!/^[0-9]{1,20}$/.test(messageId)) throw new TypeError('a message id is numeric');
  const origin = deliveryOrigin(parts.url);
  const thread = parts.threadId === undefined ? '' : `?thread_id=${parts.threadId}`;
  return `${origin}/api/v10/webhooks/${parts.id}/${parts.token}/messages/${messageId}${thread}`;
}

/** `/`, a JSON-escaped `\/`, or a percent-encoded `%2F`. */
const SEP = String.raw`(\/|\\\/|%2[Ff])`;
const TOKEN_IN_TEXT = new RegExp(`${SEP}webhooks${SEP}(\\d+)${SEP}([A-Za-z0-9_-]+)`, 'g');

/**
 * Replaces the token of every `/webhooks/<id>/<token>` in a text (error messages, axios errors,
 * serialized requests) with its mask. Also handles `\/` (JSON-escaped) and `%2F` separators.
 * Use it on anything derived from a delivery before it is logged or stored.
 */
export function redactWebhookTokens(text: string): string {
  return text.replace(
    TOKEN_IN_TEXT,
    (_whole: string, s1: string, s2: string, id: string, s3: string, token: string) =>
      `${s1}webhooks${s2}${id}${s3}${maskToken(token)}`,
  );
}

/**
 * What Discord's rate limits and health are keyed by (SPEC §13, §15): the webhook's id, never its
 * token, and the origin its deliveries go to. Null when `url` is not a webhook URL.
 */
export function webhookIdentity(url: string): { webhookId: string; origin: string } | null {
  const parts = webhookParts(url);
  return parts ? { webhookId: parts.id, origin: deliveryOrigin(parts.url) } : null;
}

/** Where deliveries to a webhook URL go: its origin, discordapp.com rewritten to discord.com. */
function deliveryOrigin({ protocol, port, hostname }: URL): string {
  return `${protocol}//${deliveryHost(hostname)}${port === '' ? '' : `:${port}`}`;
}
