/**
 * Webhook URLs at rest (SPEC §15): AES-256-GCM from `node:crypto`, nothing hand-made beyond its
 * primitives. A stored value reads `enc:v1:<key id>:<base64url of iv | ciphertext | tag>`: a random
 * 96-bit IV per value, the 128-bit tag, and the column's name as additional data, so a value
 * copied into another column does not decrypt. The key id (a hash of the key, never the key) says
 * which of `ENCRYPTION_KEYS` sealed it: the first key seals, every key opens, so keys rotate
 * (`npm run rotate-encryption`).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** The columns that hold secrets; each is the additional data of its values. */
export type SecretColumn = 'tasks.webhook_url' | 'tasks.alert_webhook_url';

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A stored value whose key is not among ENCRYPTION_KEYS, or that does not decrypt. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

/**
 * The keys of ENCRYPTION_KEYS: 32 bytes each, as base64 (44 characters, as `openssl rand -base64
 * 32` prints) or hex (64). Throws a message fit for a configuration error.
 */
export function parseEncryptionKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)
      ? Buffer.from(trimmed, 'base64')
      : undefined;
  if (!key || key.length !== KEY_BYTES) {
    throw new Error(
      'each key must be 32 bytes, written as base64 (44 characters) or hex (64 characters); make one with `openssl rand -base64 32`',
    );
  }
  return key;
}

/** A short public name of a key: the first 8 hex digits of a hash of it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256')
    .update('discord-task-scheduler key id\n')
    .update(key)
    .digest('hex')
    .slice(0, 8);
}

/** Whether a stored value is sealed (else it is a plain URL from before encryption). */
export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/** The id of the key that sealed a stored value, or undefined for a plain one. */
export function sealedKeyId(stored: string): string | undefined {
  return isSealed(stored) ? stored.slice(PREFIX.length, PREFIX.length + 8) : undefined;
}

export interface SecretBox {
  /** The id of the key that seals (the first of ENCRYPTION_KEYS). */
  readonly currentKeyId: string;
  readonly keyIds: readonly string[];
  seal(plain: string, column: SecretColumn): string;
  /**
   * The plain value of a stored one. A plain URL (a row from before encryption, not migrated yet)
   * is returned as it is. Throws SecretKeyError when the key is not held or the value was altered.
   */
  open(stored: string, column: SecretColumn): string;
  /** Whether a stored value is sealed under the current key (rotation skips it). */
  isCurrent(stored: string): boolean;
}

export function createSecretBox(keys: readonly Buffer[]): SecretBox {
  if (keys.length === 0) throw new Error('ENCRYPTION_KEYS holds no key');
  const byId = new Map(keys.map((key) => [keyIdOf(key), key] as const));
  const current = keys[0] as Buffer;
  const currentKeyId = keyIdOf(current);

  return {
    currentKeyId,
    keyIds: [...byId.keys()],

    seal(plain, column) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(column, 'utf8'));
      const body = Buffer.concat([
        iv,
        cipher.update(plain, 'utf8'),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return `${PREFIX}${currentKeyId}:${body.toString('base64url')}`;
    },

    open(stored, column) {
      if (!isSealed(stored)) return stored;
      const keyId = sealedKeyId(stored) as string;
      const key = byId.get(keyId);
      if (!key) {
        throw new SecretKeyError(
          `a stored ${column} was encrypted under key ${keyId}, which is not among ENCRYPTION_KEYS (${[...byId.keys()].join(', ')})`,
        );
      }
      const body = Buffer.from(stored.slice(PREFIX.length + 9), 'base64url');
      if (body.length < IV_BYTES + TAG_BYTES) {
        throw new SecretKeyError(`a stored ${column} is not a value this service sealed`);
      }
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(column, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Buffer.concat([
          decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new SecretKeyError(
          `a stored ${column} does not decrypt under key ${keyId}: altered, or another column's value`,
        );
      }
    },

    isCurrent(stored) {
      return sealedKeyId(stored) === currentKeyId;
    },
  };
}
