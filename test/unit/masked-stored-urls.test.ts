import { randomBytes } from 'node:crypto';
import { createSecretBox, SecretKeyError } from '../../src/crypto/secrets';
import { createMaskedStoredUrls } from '../../src/services/task.service';

const url =
  'https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZwxyz';

describe('createMaskedStoredUrls', () => {
  it('when a stored URL is read again, then it is opened once and answered masked each time', () => {
    const box = createSecretBox([randomBytes(32)]);
    const open = jest.spyOn(box, 'open');
    const masked = createMaskedStoredUrls(box);
    const stored = box.seal(url, 'tasks.webhook_url');

    const answers = [1, 2, 3].map(() => masked.of(stored, 'tasks.webhook_url'));

    expect(answers).toEqual(
      [0, 1, 2].map(() => 'https://discord.com/api/webhooks/123456789012345678/****wxyz'),
    );
    expect(open).toHaveBeenCalledTimes(1);
  });

  it('when a value sealed for one column is read as another, then that read opens it and fails', () => {
    const box = createSecretBox([randomBytes(32)]);
    const masked = createMaskedStoredUrls(box);
    const stored = box.seal(url, 'tasks.webhook_url');
    masked.of(stored, 'tasks.webhook_url');

    expect(() => masked.of(stored, 'tasks.alert_webhook_url')).toThrow(SecretKeyError);
  });

  it('when a value is plain (stored before encryption), then it is masked as it is', () => {
    const masked = createMaskedStoredUrls(createSecretBox([randomBytes(32)]));
    expect(masked.of(url, 'tasks.webhook_url')).toBe(
      'https://discord.com/api/webhooks/123456789012345678/****wxyz',
    );
  });
});
