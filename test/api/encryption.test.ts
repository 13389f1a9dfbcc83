import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { createSecretBox, SecretKeyError } from '../../src/crypto/secrets';
import { rotateEncryption, verifyStoredSecrets } from '../../src/crypto/stored-secrets';
import { setMigrationSecrets } from '../../src/db/migration-context';
import { initOrm, type Orm, prepareDatabase } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { createTestApp, TEST_API_KEY, testEnv, type TestApp } from '../helpers/app';

/**
 * SPEC §15 webhook URLs at rest, on a database of this file's own (so that its dump holds only
 * what this file wrote): what the API stores, a dump of every table, the migration that seals an
 * existing database's rows (and its down), start-up's check of the keys, and rotation.
 */
describe('webhook URLs encrypted at rest', () => {
  const database = `secrets_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const box = createSecretBox([newKey, oldKey]);
  let url: string;
  let orm: Orm;
  let t: TestApp;
  const logger = createLogger({ level: 'silent' });
  const token = () => `Tk${randomBytes(30).toString('base64url')}`;

  beforeAll(async () => {
    const u = new URL(testEnv().databaseUrl);
    u.pathname = `/${database}`;
    url = u.toString();
    await prepareDatabase(url, logger, box);
    orm = await initOrm({ databaseUrl: url, poolMax: 4 });
    t = await createTestApp({
      orm,
      env: { ENCRYPTION_KEYS: `${newKey.toString('base64')},${oldKey.toString('base64')}` },
    });
  });
  afterAll(async () => {
    // Through the API, so that their Temporal schedules go too.
    const rows = await sql<{ id: string }[]>('select id from tasks');
    for (const { id } of rows) {
      await request(t.app).delete(`/api/tasks/${id}`).set('X-API-Key', TEST_API_KEY);
    }
    await t.close();
    const admin = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 1 });
    try {
      await admin.em.getConnection().execute(`drop database if exists "${database}" with (force)`);
    } finally {
      await admin.close();
    }
  });

  const sql = <T = Record<string, unknown>[]>(query: string, params: unknown[] = []) =>
    orm.em.fork().getConnection().execute(query, params) as Promise<T>;

  /** Every row of every table of the database, as text: what a dump holds. */
  async function dump(): Promise<string> {
    const tables = await sql<{ name: string }[]>(
      `select table_name as name from information_schema.tables
       where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    expect(tables.map((x) => x.name)).toEqual(
      expect.arrayContaining(['tasks', 'task_logs', 'idempotency_keys']),
    );
    const parts: string[] = [];
    for (const { name } of tables) {
      const rows = await sql<{ row: string }[]>(`select r::text as row from "${name}" r`);
      parts.push(...rows.map((r) => r.row));
    }
    return parts.join('\n');
  }

  async function createTask(webhookToken: string, alertToken?: string) {
    const res = await request(t.app)
      .post('/api/tasks')
      .set('X-API-Key', TEST_API_KEY)
      .set('Idempotency-Key', randomUUID())
      .send({
        name: `sealed ${randomUUID().slice(0, 8)}`,
        schedule: '@daily',
        webhookUrl: `https://discord.com/api/webhooks/1234567890/${webhookToken}?thread_id=42`,
        payload: { content: 'hello' },
        ...(alertToken
          ? { alertWebhookUrl: `https://discord.com/api/webhooks/99/${alertToken}` }
          : {}),
      });
    expect(res.status).toBe(201);
    return res.body as { id: string; webhookUrl: string; alertWebhookUrl: string | null };
  }

  it('when tasks are written through the API, then a dump of every table holds no token, the rows are sealed under the first key, and answers stay masked as before', async () => {
    const tokens = [token(), token(), token()];
    const first = await createTask(tokens[0]!, tokens[1]);
    const second = await createTask(tokens[2]!);
    const patched = await request(t.app)
      .patch(`/api/tasks/${second.id}`)
      .set('X-API-Key', TEST_API_KEY)
      .send({ alertWebhookUrl: `https://discord.com/api/webhooks/98/${tokens[1]}` });
    expect(patched.status).toBe(200);

    const text = await dump();
    expect(text).toContain(first.id); // the dump is of the rows written
    for (const secret of tokens) expect(text).not.toContain(secret.slice(0, 12));
    const rows = await sql<{ webhook_url: string; alert_webhook_url: string | null }[]>(
      'select webhook_url, alert_webhook_url from tasks where id = ?',
      [first.id],
    );
    expect(rows[0]!.webhook_url).toMatch(new RegExp(`^enc:v1:${box.currentKeyId}:`));
    expect(rows[0]!.alert_webhook_url).toMatch(new RegExp(`^enc:v1:${box.currentKeyId}:`));
    expect(box.open(rows[0]!.webhook_url, 'tasks.webhook_url')).toBe(
      `https://discord.com/api/webhooks/1234567890/${tokens[0]}?thread_id=42`,
    );
    // Masked from the opened URL: the last four characters of the token, as before.
    expect(first.webhookUrl).toContain(`****${tokens[0]!.slice(-4)}`);
    expect(first.alertWebhookUrl).toContain(`****${tokens[1]!.slice(-4)}`);
    const read = await request(t.app).get(`/api/tasks/${first.id}`).set('X-API-Key', TEST_API_KEY);
    expect(read.body.webhookUrl).toBe(first.webhookUrl);
    // The same URL again is no change: the sealed value stays (a fresh seal would differ).
    await request(t.app)
      .patch(`/api/tasks/${first.id}`)
      .set('X-API-Key', TEST_API_KEY)
      .send({
        webhookUrl: `https://discord.com/api/webhooks/1234567890/${tokens[0]}?thread_id=42`,
      });
    const again = await sql<{ webhook_url: string }[]>(
      'select webhook_url from tasks where id = ?',
      [first.id],
    );
    expect(again[0]!.webhook_url).toBe(rows[0]!.webhook_url);
  });

  it("when start-up's check runs on a database not migrated yet (a worker starting beside the API), then it passes: nothing is stored", async () => {
    const empty = `unmigrated_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const admin = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 1 });
    try {
      await admin.em.getConnection().execute(`create database "${empty}"`);
      const u = new URL(testEnv().databaseUrl);
      u.pathname = `/${empty}`;
      const bare = await initOrm({ databaseUrl: u.toString(), poolMax: 1 });
      try {
        await expect(verifyStoredSecrets(bare, box)).resolves.toBeUndefined();
      } finally {
        await bare.close();
      }
    } finally {
      await admin.em.getConnection().execute(`drop database if exists "${empty}" with (force)`);
      await admin.close();
    }
  });

  it("when start-up's check meets rows sealed under a key it does not hold, then it fails with one line naming the key", async () => {
    await createTask(token());
    await expect(verifyStoredSecrets(orm, box)).resolves.toBeUndefined();
    const stranger = createSecretBox([randomBytes(32)]);
    const failure = await verifyStoredSecrets(orm, stranger).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SecretKeyError);
    expect((failure as Error).message).toBe(
      `ENCRYPTION_KEYS cannot open the stored webhook URLs: a stored tasks.webhook_url was encrypted under key ${box.currentKeyId}, which is not among ENCRYPTION_KEYS (${stranger.currentKeyId}); set ENCRYPTION_KEYS to the keys they were sealed with (the first seals, all open)`,
    );
    expect((failure as Error).message).not.toContain('\n');
  });

  it('when rows are sealed under an old key or plain, then rotation re-seals every one under the first key, in batches, and each opens to its URL', async () => {
    const old = createSecretBox([oldKey]);
    const plainToken = token();
    const created = [await createTask(token(), token()), await createTask(token())];
    // As an older deployment left them: one under the old key, one plain.
    const rows = await sql<{ id: string; webhook_url: string; alert_webhook_url: string | null }[]>(
      'select id, webhook_url, alert_webhook_url from tasks where id in (?, ?) order by id',
      created.map((c) => c.id),
    );
    const urls = rows.map((r) => box.open(r.webhook_url, 'tasks.webhook_url'));
    await sql('update tasks set webhook_url = ?, alert_webhook_url = ? where id = ?', [
      old.seal(urls[0]!, 'tasks.webhook_url'),
      rows[0]!.alert_webhook_url
        ? old.seal(
            box.open(rows[0]!.alert_webhook_url, 'tasks.alert_webhook_url'),
            'tasks.alert_webhook_url',
          )
        : null,
      rows[0]!.id,
    ]);
    const plainUrl = `https://discord.com/api/webhooks/77/${plainToken}`;
    await sql('update tasks set webhook_url = ? where id = ?', [plainUrl, rows[1]!.id]);

    const batches: number[] = [];
    const summary = await rotateEncryption(orm, box, {
      batchSize: 1,
      onBatch: (n) => batches.push(n),
    });

    expect(summary.rows).toBeGreaterThanOrEqual(2);
    expect(batches.every((n) => n === 1)).toBe(true);
    const after = await sql<
      { id: string; webhook_url: string; alert_webhook_url: string | null }[]
    >('select id, webhook_url, alert_webhook_url from tasks');
    for (const row of after) {
      expect(box.isCurrent(row.webhook_url)).toBe(true);
      if (row.alert_webhook_url) expect(box.isCurrent(row.alert_webhook_url)).toBe(true);
    }
    const byId = new Map(after.map((r) => [r.id, r]));
    expect(box.open(byId.get(rows[0]!.id)!.webhook_url, 'tasks.webhook_url')).toBe(urls[0]);
    expect(box.open(byId.get(rows[1]!.id)!.webhook_url, 'tasks.webhook_url')).toBe(plainUrl);
    expect(await dump()).not.toContain(plainToken.slice(0, 12));
    // Nothing left: a second run changes nothing.
    expect((await rotateEncryption(orm, box)).rows).toBe(0);
  });

  it('when the migration runs on a database whose rows are plain, then it seals them; down opens them again', async () => {
    await createTask(token(), token());
    const migrator = orm.getMigrator();
    setMigrationSecrets(box);
    try {
      await migrator.down({ to: 'Migration20261207111308' });
      const plain = await sql<{ webhook_url: string; alert_webhook_url: string | null }[]>(
        'select webhook_url, alert_webhook_url from tasks',
      );
      expect(plain.length).toBeGreaterThan(0);
      for (const row of plain) {
        expect(row.webhook_url).toMatch(/^https:\/\/discord\.com\/api\/webhooks\//);
        if (row.alert_webhook_url) expect(row.alert_webhook_url).toMatch(/^https:/);
      }
      await migrator.up();
    } finally {
      setMigrationSecrets(undefined);
    }
    const sealed = await sql<{ webhook_url: string; alert_webhook_url: string | null }[]>(
      'select webhook_url, alert_webhook_url from tasks',
    );
    for (const row of sealed) {
      expect(box.isCurrent(row.webhook_url)).toBe(true);
      if (row.alert_webhook_url) expect(box.isCurrent(row.alert_webhook_url)).toBe(true);
    }
  });
});
