import { randomBytes } from 'node:crypto';
import {
  createSecretBox,
  isSealed,
  keyIdOf,
  parseEncryptionKey,
  SecretKeyError,
} from '../../src/crypto/secrets';

/** SPEC §15: webhook URLs sealed with AES-256-GCM under ENCRYPTION_KEYS. */
describe('secrets at rest', () => {
  const url = 'https://discord.com/api/webhooks/123456789012345678/Zk3xQ9vLr-2mPq8sTuVwXyZ0aBcDeF';
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('when a URL is sealed, then the stored text holds no part of its token and opens to the URL', () => {
    const box = createSecretBox([k1]);
    const sealed = box.seal(url, 'tasks.webhook_url');
    expect(sealed).toMatch(/^enc:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('Zk3x');
    expect(sealed).not.toContain('123456789012345678');
    expect(box.open(sealed, 'tasks.webhook_url')).toBe(url);
    expect(isSealed(sealed)).toBe(true);
  });

  it('when the same URL is sealed twice, then the two texts differ (a fresh IV each time)', () => {
    const box = createSecretBox([k1]);
    expect(box.seal(url, 'tasks.webhook_url')).not.toBe(box.seal(url, 'tasks.webhook_url'));
  });

  it("when a sealed value is opened as another column's, altered, or truncated, then it is refused", () => {
    const box = createSecretBox([k1]);
    const sealed = box.seal(url, 'tasks.webhook_url');
    expect(() => box.open(sealed, 'tasks.alert_webhook_url')).toThrow(SecretKeyError);
    const [prefix, body] = [sealed.slice(0, 16), Buffer.from(sealed.slice(16), 'base64url')];
    body[20] = (body[20] as number) ^ 1; // one bit of the ciphertext
    expect(() => box.open(prefix + body.toString('base64url'), 'tasks.webhook_url')).toThrow(
      'does not decrypt',
    );
    expect(() => box.open(sealed.slice(0, 20), 'tasks.webhook_url')).toThrow(SecretKeyError);
  });

  it('when keys rotate, then the first seals, every key opens, and a value under an unknown key names that key', () => {
    const old = createSecretBox([k1]);
    const rotated = createSecretBox([k2, k1]);
    const before = old.seal(url, 'tasks.webhook_url');
    expect(rotated.open(before, 'tasks.webhook_url')).toBe(url);
    expect(rotated.isCurrent(before)).toBe(false);
    const after = rotated.seal(url, 'tasks.webhook_url');
    expect(rotated.isCurrent(after)).toBe(true);
    expect(after.split(':')[2]).toBe(keyIdOf(k2));
    expect(() => old.open(after, 'tasks.webhook_url')).toThrow(
      `encrypted under key ${keyIdOf(k2)}, which is not among ENCRYPTION_KEYS (${keyIdOf(k1)})`,
    );
  });

  it('when a stored value is a plain URL (a row from before encryption), then it is read as it is', () => {
    expect(createSecretBox([k1]).open(url, 'tasks.webhook_url')).toBe(url);
  });

  it.each([
    [k1.toString('base64'), true],
    [k1.toString('hex'), true],
    [k1.toString('base64url'), true],
    ['too-short', false],
    [randomBytes(16).toString('base64'), false],
    [randomBytes(33).toString('hex').slice(0, 66), false],
    ['', false],
  ])('when a key is written as %j, then it is accepted: %s', (text, ok) => {
    if (ok) expect(parseEncryptionKey(text)).toHaveLength(32);
    else expect(() => parseEncryptionKey(text)).toThrow('32 bytes');
  });

  it('when the key list is empty, then no box is made', () => {
    expect(() => createSecretBox([])).toThrow('ENCRYPTION_KEYS holds no key');
  });
});
