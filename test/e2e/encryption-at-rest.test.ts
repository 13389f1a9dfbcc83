import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { createSecretBox } from '../../src/crypto/secrets';
import { rotateEncryption } from '../../src/crypto/stored-secrets';
import { initOrm, prepareDatabase } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { TEST_API_KEY, testEnv } from '../helpers/app';
import { type DeliveryStack, startDeliveryStack } from '../helpers/delivery-stack';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { callApi, createProduct, type Product, waitFor } from '../helpers/product';

/**
 * SPEC §15 keys in use: rotating to a new first key while deliveries run (none fails, none is sent
 * twice, each still reaches its own webhook), and a product started with a key that cannot open
 * its stored URLs stops at start-up with one line, instead of failing deliveries.
 */
jest.setTimeout(4 * 60_000);

describe('rotating the encryption key while deliveries run', () => {
  const database = `rotation_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const box = createSecretBox([newKey, oldKey]);
  let discord: MockDiscord;
  let stack: DeliveryStack;
  let databaseUrl: string;

  beforeAll(async () => {
    const u = new URL(testEnv().databaseUrl);
    u.pathname = `/${database}`;
    databaseUrl = u.toString();
    await prepareDatabase(databaseUrl, createLogger({ level: 'silent' }), box);
    discord = await startMockDiscord();
    stack = await startDeliveryStack({
      name: 'rotation',
      discord,
      databaseUrl,
      // As every process must be before a rotation: the new key first, the old one after it.
      env: { ENCRYPTION_KEYS: `${newKey.toString('base64')},${oldKey.toString('base64')}` },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await discord?.close();
    const admin = await initOrm({ databaseUrl: testEnv().databaseUrl, poolMax: 1 });
    try {
      await admin.em.getConnection().execute(`drop database if exists "${database}" with (force)`);
    } finally {
      await admin.close();
    }
  });

  it('when the rows move from the old key to the new one with tasks firing every 2 s, then every run is delivered once to its own webhook and none fails', async () => {
    const api = request(stack.t.app);
    const hooks = Array.from({ length: 6 }, (_, i) => `${Date.now()}${i}`);
    const ids: string[] = [];
    for (const hook of hooks) {
      const res = await api
        .post('/api/tasks')
        .set('X-API-Key', TEST_API_KEY)
        .send({
          name: `rotating ${hook}`,
          schedule: '@every 2s',
          webhookUrl: discord.webhookUrl(hook),
          payload: { content: '{{execution.scheduledTime}}' },
          maxRetry: 0,
        });
      expect([res.status, res.body.detail]).toEqual([201, undefined]);
      ids.push(res.body.id);
    }
    // As the deployment before left them: sealed under the old key.
    const sql = stack.t.orm.em.getConnection();
    const old = createSecretBox([oldKey]);
    for (const id of ids) {
      const [row] = await sql.execute<{ webhook_url: string }[]>(
        'select webhook_url from tasks where id = ?',
        [id],
      );
      await sql.execute('update tasks set webhook_url = ? where id = ?', [
        old.seal(box.open(row!.webhook_url, 'tasks.webhook_url'), 'tasks.webhook_url'),
        id,
      ]);
    }
    const posts = (hook: string) =>
      discord.requests(hook).filter((r) => r.method === 'POST' && r.respondedWith === 200);
    await waitFor('two runs of each task before the rotation', () =>
      hooks.every((hook) => posts(hook).length >= 2) ? true : undefined,
    );

    const rotatedAt = Date.now();
    const summary = await rotateEncryption(stack.t.orm, box, { batchSize: 2 });
    const rotationMs = Date.now() - rotatedAt;
    expect(summary.rows).toBe(ids.length);
    const counts = hooks.map((hook) => posts(hook).length);
    await waitFor('two more runs of each task after it', () =>
      hooks.every((hook, i) => posts(hook).length >= counts[i]! + 2) ? true : undefined,
    );
    for (const id of ids) {
      await api.post(`/api/tasks/${id}/toggle`).set('X-API-Key', TEST_API_KEY);
    }
    await sleep(3_000); // runs started before the pause land

    const rows = await sql.execute<{ webhook_url: string }[]>(
      `select webhook_url from tasks where id in (${ids.map(() => '?').join(',')})`,
      ids,
    );
    expect(rows.every((row) => box.isCurrent(row.webhook_url))).toBe(true);
    const logs = await sql.execute<{ status: string; n: string }[]>(
      `select status, count(*) as n from task_logs where task_id in (${ids.map(() => '?').join(',')})
       group by status`,
      ids,
    );
    const byStatus = Object.fromEntries(logs.map((l) => [l.status, Number(l.n)]));
    const delivered = hooks.map((hook) => posts(hook));
    const total = delivered.reduce((sum, list) => sum + list.length, 0);
    console.log(
      `rotation under load: ${summary.rows} rows in ${summary.batches} batches, ${rotationMs} ms; ${total} deliveries, logs ${JSON.stringify(byStatus)}`,
    );
    expect(byStatus).toEqual({ SUCCESS: total });
    for (const list of delivered) {
      // Each run once: its scheduled time (the message) appears once on its own webhook.
      const times = list.map((r) => (r.body as { content: string }).content);
      expect(new Set(times).size).toBe(times.length);
    }
    // Every request the mock took went to one of the tasks' own webhooks.
    expect(discord.requests().filter((r) => !hooks.includes(r.webhookId))).toEqual([]);
  });
});

describe('a product started without the key its rows were sealed with', () => {
  let mock: MockDiscord;
  let product: Product | undefined;

  beforeAll(async () => {
    mock = await startMockDiscord();
  });
  afterAll(async () => {
    await product?.dispose();
    await mock?.close();
  });

  it('when the development key under DATA_DIR is lost and the product starts again, then it exits 1 with one line naming the key, before serving', async () => {
    product = await createProduct({ env: { WEBHOOK_ALLOWED_ORIGINS: mock.url } });
    await product.start();
    const created = await callApi<{ id: string }>(product, 'POST', '/api/tasks', {
      name: 'sealed with the first key',
      schedule: '@daily',
      webhookUrl: mock.webhookUrl(),
      payload: { content: 'hello' },
    });
    expect(created.status).toBe(201);
    const running = product.process!;
    running.child.kill('SIGINT');
    await running.exited;

    // The key file is lost: start-up makes a new key, which cannot open the stored rows.
    const keyFile = path.join(product.dataDir, 'encryption-key');
    const lost = (await fs.readFile(keyFile, 'utf8')).trim();
    await fs.rm(keyFile);
    const failure = await product.start(60_000).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeDefined();
    // What the process printed before it exited (startProcess puts it in the error).
    const output = String((failure as Error).message);
    expect(output).toMatch(/exited 1/);
    const lines = output.split('\n').filter((line) => line.includes('ENCRYPTION_KEYS cannot open'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('which is not among ENCRYPTION_KEYS');
    expect(output).not.toContain(lost);

    // The key back: the product starts and the task is there.
    await fs.writeFile(keyFile, `${lost}\n`, { mode: 0o600 });
    await product.start();
    const read = await callApi<{ id: string }>(product, 'GET', `/api/tasks/${created.body.id}`);
    expect(read.status).toBe(200);
  });
});
