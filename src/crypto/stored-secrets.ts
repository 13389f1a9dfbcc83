import type { Orm } from '../db/orm';
import { createSecretBox, type SecretBox, SecretKeyError, type SecretColumn } from './secrets';

/** The secrets box of a configuration whose keys are resolved (see main/encryption-keys.ts). */
export function secretBoxOf(config: { encryptionKeys: readonly Buffer[] }): SecretBox {
  return createSecretBox(config.encryptionKeys);
}

const COLUMNS: readonly SecretColumn[] = ['tasks.webhook_url', 'tasks.alert_webhook_url'];
const columnName = (column: SecretColumn) => column.slice('tasks.'.length);

/**
 * Start-up's check (SPEC §15): every stored webhook URL was sealed under a key the service holds,
 * and one of each key opens. Throws one SecretKeyError saying what is missing, so that a wrong or
 * missing key stops the process at start instead of failing deliveries.
 */
export async function verifyStoredSecrets(orm: Orm, box: SecretBox): Promise<void> {
  const connection = orm.em.fork().getConnection();
  // A worker may start before the API has migrated an empty database: nothing is stored yet.
  const [table] = await connection.execute<{ tasks: string | null }[]>(
    "select to_regclass('tasks')::text as tasks",
  );
  if (!table?.tasks) return;
  for (const column of COLUMNS) {
    const name = columnName(column);
    // One row per key id in use: a scan of the column, once at start.
    const rows = await connection.execute<{ sample: string }[]>(
      `select min(${name}) as sample from tasks where ${name} like 'enc:v1:%'
       group by split_part(${name}, ':', 3)`,
    );
    for (const { sample } of rows) {
      try {
        box.open(sample, column);
      } catch (error) {
        if (!(error instanceof SecretKeyError)) throw error;
        throw new SecretKeyError(
          `ENCRYPTION_KEYS cannot open the stored webhook URLs: ${error.message}; set ENCRYPTION_KEYS to the keys they were sealed with (the first seals, all open)`,
        );
      }
    }
  }
}

export interface RotationSummary {
  rows: number;
  batches: number;
}

/**
 * `npm run rotate-encryption` (SPEC §15): re-seals every row not sealed under the current key (the
 * first of ENCRYPTION_KEYS), plain ones included, in batches of short transactions that lock only
 * their rows (SKIP LOCKED: a row a write holds is taken by a later batch), so the service runs on.
 * Every process must hold the new key before this runs, or it cannot open what is written.
 */
export async function rotateEncryption(
  orm: Orm,
  box: SecretBox,
  options: { batchSize?: number; onBatch?: (rows: number) => void } = {},
): Promise<RotationSummary> {
  const batchSize = options.batchSize ?? 500;
  const current = `enc:v1:${box.currentKeyId}:%`;
  const summary: RotationSummary = { rows: 0, batches: 0 };
  for (;;) {
    const done = await orm.em.fork().transactional(async (em) => {
      const connection = em.getConnection();
      const ctx = em.getTransactionContext();
      const rows = await connection.execute<
        { id: string; webhook_url: string; alert_webhook_url: string | null }[]
      >(
        `select id, webhook_url, alert_webhook_url from tasks
         where webhook_url not like ? or alert_webhook_url not like ?
         order by id limit ? for update skip locked`,
        [current, current, batchSize],
        'all',
        ctx,
      );
      for (const row of rows) {
        const reseal = (value: string, column: SecretColumn) =>
          box.isCurrent(value) ? value : box.seal(box.open(value, column), column);
        await connection.execute(
          'update tasks set webhook_url = ?, alert_webhook_url = ? where id = ?',
          [
            reseal(row.webhook_url, 'tasks.webhook_url'),
            row.alert_webhook_url === null
              ? null
              : reseal(row.alert_webhook_url, 'tasks.alert_webhook_url'),
            row.id,
          ],
          'run',
          ctx,
        );
      }
      return rows.length;
    });
    if (done === 0) return summary;
    summary.rows += done;
    summary.batches += 1;
    options.onBatch?.(done);
  }
}
