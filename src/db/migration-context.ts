import type { SecretBox } from '../crypto/secrets';

/**
 * What data migrations need beyond SQL: the keys that seal webhook URLs (SPEC §15), set by
 * prepareDatabase for the duration of a migration run. Unset (migration:create on an empty
 * database), a migration that would need them fails saying so.
 */
let secrets: SecretBox | undefined;

export function setMigrationSecrets(box: SecretBox | undefined): void {
  secrets = box;
}

export function migrationSecrets(): SecretBox {
  if (!secrets) {
    throw new Error(
      'this migration encrypts webhook URLs and needs ENCRYPTION_KEYS: run it with `npm run migrate`, which provides them',
    );
  }
  return secrets;
}
