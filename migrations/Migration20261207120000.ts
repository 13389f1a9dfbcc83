import { Migration } from '@mikro-orm/migrations';
import { isSealed, type SecretColumn } from '../src/crypto/secrets';
import { migrationSecrets } from '../src/db/migration-context';

const BATCH = 500;

interface Row {
  id: string;
  webhook_url: string;
  alert_webhook_url: string | null;
}

/**
 * Webhook URLs encrypted at rest (SPEC §15, issue 24): seals the plain `webhook_url` and
 * `alert_webhook_url` of an existing database under the first of ENCRYPTION_KEYS, in batches.
 * Later writes seal their own; `npm run rotate-encryption` moves sealed rows to a new key. Down
 * opens them again.
 */
export class Migration20261207120000 extends Migration {
  override async up(): Promise<void> {
    await this.convert(
      `webhook_url not like 'enc:v1:%' or alert_webhook_url not like 'enc:v1:%'`,
      (value, column) => (isSealed(value) ? value : migrationSecrets().seal(value, column)),
    );
  }

  override async down(): Promise<void> {
    await this.convert(
      `webhook_url like 'enc:v1:%' or alert_webhook_url like 'enc:v1:%'`,
      (value, column) => migrationSecrets().open(value, column),
    );
  }

  /** Rewrites the secret columns of every row that `where` selects, a batch at a time. */
  private async convert(
    where: string,
    convert: (value: string, column: SecretColumn) => string,
  ): Promise<void> {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = (await this.execute(
        `select id, webhook_url, alert_webhook_url from tasks
         where id > ? and (${where}) order by id limit ${BATCH}`,
        [after],
      )) as Row[];
      if (rows.length === 0) return;
      for (const row of rows) {
        await this.execute('update tasks set webhook_url = ?, alert_webhook_url = ? where id = ?', [
          convert(row.webhook_url, 'tasks.webhook_url'),
          row.alert_webhook_url === null
            ? null
            : convert(row.alert_webhook_url, 'tasks.alert_webhook_url'),
          row.id,
        ]);
      }
      after = rows[rows.length - 1]!.id;
    }
  }
}
