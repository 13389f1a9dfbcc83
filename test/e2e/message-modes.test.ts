import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { TEST_API_KEY, type TestApp } from '../helpers/app';
import { type DeliveryStack, startDeliveryStack } from '../helpers/delivery-stack';
import { type MockDiscord, type RecordedRequest, startMockDiscord } from '../helpers/mock-discord';
import { waitFor as waitUntil } from '../helpers/product';

const waitFor = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  waitUntil(what, check, timeoutMs, 100);

/**
 * Discord messages, not only posts (SPEC §13): each run edits the last message, or replaces it,
 * and messages are deleted `deleteAfter` after they were posted, end to end: the API, the real
 * Temporal dev server, a worker, and the mock Discord that keeps messages as Discord does.
 */
describe('message modes, end to end', () => {
  let discord: MockDiscord;
  let stack: DeliveryStack;
  let t: TestApp;

  beforeAll(async () => {
    discord = await startMockDiscord();
    stack = await startDeliveryStack({ name: 'message-modes', discord });
    t = stack.t;
  });
  afterAll(async () => {
    await stack?.close();
    await discord?.close();
  });

  const api = {
    post: (p: string, body?: object) =>
      request(t.app).post(p).set('X-API-Key', TEST_API_KEY).send(body),
    patch: (p: string, body: object) =>
      request(t.app).patch(p).set('X-API-Key', TEST_API_KEY).send(body),
    get: (p: string) => request(t.app).get(p).set('X-API-Key', TEST_API_KEY),
  };

  const webhookId = () => `${Date.now()}${Math.floor(Math.random() * 1e6)}`;

  async function createTask(fields: {
    webhookUrl: string;
    messageMode?: string;
    deleteAfter?: string | null;
    schedule?: string;
    content?: string;
    maxRetry?: number;
  }): Promise<string> {
    const res = await api.post('/api/tasks', {
      name: `modes ${randomUUID().slice(0, 8)}`,
      schedule: fields.schedule ?? '@daily',
      webhookUrl: fields.webhookUrl,
      payload: {
        username: 'Status board',
        content: fields.content ?? 'run at {{execution.time}}',
        embeds: [{ title: 'attempt {{execution.attempt}}' }],
      },
      maxRetry: fields.maxRetry ?? 0,
      ...(fields.messageMode ? { messageMode: fields.messageMode } : {}),
      ...(fields.deleteAfter !== undefined ? { deleteAfter: fields.deleteAfter } : {}),
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  async function rowsOf(taskId: string) {
    return t.orm.em
      .fork()
      .getConnection()
      .execute<{ status: string; http_status: number | null; message: string }[]>(
        'select status, http_status, message from task_logs where task_id = ? order by created_at, attempt',
        [taskId],
      );
  }

  /** Runs the task now and waits until its run has logged its outcome (`status`). */
  async function runOnce(taskId: string, status = 'SUCCESS'): Promise<void> {
    const before = (await rowsOf(taskId)).filter((row) => row.status === status).length;
    const res = await api.post(`/api/tasks/${taskId}/trigger`);
    expect(res.status).toBe(202);
    await waitFor(`a ${status} row`, async () =>
      (await rowsOf(taskId)).filter((row) => row.status === status).length > before
        ? true
        : undefined,
    );
  }

  const lastMessageId = async (taskId: string) =>
    (await api.get(`/api/tasks/${taskId}`)).body.lastMessageId as string | null;

  /** Method and message id of every request to the webhook, in arrival order. */
  const calls = (hook: string) =>
    discord
      .requests(hook)
      .map((r: RecordedRequest) =>
        r.method === 'POST' ? 'POST' : `${r.method} ${r.messageId} ${r.respondedWith}`,
      );

  it('when a task edits its message, then the first run posts and the next ones edit that message; after it is deleted in Discord, the next run posts anew and edits that one', async () => {
    const hook = webhookId();
    const id = await createTask({ webhookUrl: discord.webhookUrl(hook), messageMode: 'edit' });
    expect((await api.get(`/api/tasks/${id}`)).body).toMatchObject({
      messageMode: 'edit',
      deleteAfter: null,
      lastMessageId: null,
    });

    await runOnce(id);
    const [first] = discord.messages(hook);
    expect(first).toBeDefined();
    expect(await lastMessageId(id)).toBe(first!.id);
    await runOnce(id);
    await runOnce(id);
    expect(calls(hook)).toEqual(['POST', `PATCH ${first!.id} 200`, `PATCH ${first!.id} 200`]);
    // The edit sends what an edit takes: not the name, which the message keeps from its post.
    const edit = discord.requests(hook)[1]!;
    expect(edit.body).toEqual({
      content: expect.stringMatching(/^run at \d{4}-/),
      embeds: [{ title: 'attempt 1' }],
    });
    expect(discord.message(first!.id)).toMatchObject({ username: 'Status board', deleted: false });
    expect(discord.message(first!.id)!.editedAt).not.toBeNull();

    expect(discord.deleteMessageByHand(first!.id)).toBe(true);
    await runOnce(id);
    const second = discord.messages(hook)[1]!;
    expect(await lastMessageId(id)).toBe(second.id);
    await runOnce(id);
    expect(calls(hook).slice(3)).toEqual([
      `PATCH ${first!.id} 404`,
      'POST',
      `PATCH ${second.id} 200`,
    ]);
    expect(discord.aliveMessages(hook).map((m) => m.id)).toEqual([second.id]);
    const rows = await rowsOf(id);
    expect(rows.map((row) => row.status)).toEqual(Array(5).fill('SUCCESS'));
    expect(rows.map((row) => row.message.split(' ')[0])).toEqual([
      'delivered:',
      'edited',
      'edited',
      'delivered:',
      'edited',
    ]);
  });

  it('when a task replaces its message, then each run posts and deletes the previous one, and exactly one is alive at the end', async () => {
    const hook = webhookId();
    const id = await createTask({ webhookUrl: discord.webhookUrl(hook), messageMode: 'replace' });
    for (let run = 0; run < 4; run++) await runOnce(id);
    await waitFor('3 deletes', async () =>
      discord.requests(hook).length === 7 ? true : undefined,
    );
    const posted = discord.messages(hook).map((m) => m.id);
    expect(posted).toHaveLength(4);
    expect(calls(hook)).toEqual([
      'POST',
      'POST',
      `DELETE ${posted[0]} 204`,
      'POST',
      `DELETE ${posted[1]} 204`,
      'POST',
      `DELETE ${posted[2]} 204`,
    ]);
    expect(discord.aliveMessages(hook).map((m) => m.id)).toEqual([posted[3]]);
    expect(await lastMessageId(id)).toBe(posted[3]);
  });

  it('when a task replaces its message and also deletes after 1h, then each replaced message is deleted at once, not an hour later', async () => {
    const hook = webhookId();
    const id = await createTask({
      webhookUrl: discord.webhookUrl(hook),
      messageMode: 'replace',
      deleteAfter: '1h',
    });
    await runOnce(id);
    await runOnce(id);
    await waitFor('the replace delete', async () =>
      discord.requests(hook).some((r) => r.method === 'DELETE') ? true : undefined,
    );
    const [first, second] = discord.messages(hook);
    expect(calls(hook)).toEqual(['POST', 'POST', `DELETE ${first!.id} 204`]);
    expect(discord.aliveMessages(hook).map((m) => m.id)).toEqual([second!.id]);
  });

  it('when a task deletes its messages after 10s, then the DELETE comes 10 s after the post and lastMessageId is cleared', async () => {
    const hook = webhookId();
    const id = await createTask({ webhookUrl: discord.webhookUrl(hook), deleteAfter: '10s' });
    await runOnce(id);
    const [posted] = discord.messages(hook);
    expect(await lastMessageId(id)).toBe(posted!.id);
    const [, deleted] = await discord.waitForRequests(2, { webhookId: hook, timeoutMs: 30_000 });
    expect([deleted!.method, deleted!.messageId, deleted!.respondedWith]).toEqual([
      'DELETE',
      posted!.id,
      204,
    ]);
    const delayMs = deleted!.receivedAt.getTime() - posted!.createdAt.getTime();
    expect(delayMs).toBeGreaterThanOrEqual(10_000 - 3_000);
    expect(delayMs).toBeLessThanOrEqual(10_000 + 3_000);
    expect(discord.aliveMessages(hook)).toEqual([]);
    await waitFor('lastMessageId cleared', async () =>
      (await lastMessageId(id)) === null ? true : undefined,
    );
  }, 60_000);

  it('when the webhook URL has a thread_id, then edits and deletes name the thread too', async () => {
    const hook = webhookId();
    const inThread = `${discord.webhookUrl(hook)}?thread_id=998877665544332211`;
    const editing = await createTask({ webhookUrl: inThread, messageMode: 'edit' });
    await runOnce(editing);
    await runOnce(editing);
    const replacing = await createTask({ webhookUrl: inThread, messageMode: 'replace' });
    await runOnce(replacing);
    await runOnce(replacing);
    await waitFor('the delete', async () =>
      discord.requests(hook).some((r) => r.method === 'DELETE') ? true : undefined,
    );
    const requests = discord.requests(hook);
    expect(requests.map((r) => [r.method, r.query.thread_id, r.respondedWith])).toEqual([
      ['POST', '998877665544332211', 200],
      ['PATCH', '998877665544332211', 200],
      ['POST', '998877665544332211', 200],
      ['POST', '998877665544332211', 200],
      ['DELETE', '998877665544332211', 204],
    ]);
  });

  it('when an edit is answered 429, then it waits like a post and edits; when an edit or a delete finds the webhook gone, then the task fails as a post would', async () => {
    // 429 on the edit: a RETRYING row not counted against maxRetry 0, then the edit.
    const limited = webhookId();
    const edits = await createTask({
      webhookUrl: discord.webhookUrl(limited),
      messageMode: 'edit',
    });
    await runOnce(edits);
    discord.setBehavior(limited, { kind: 'rate-limited', retryAfter: 1 }, { kind: 'success' });
    await runOnce(edits);
    expect(calls(limited).map((c) => c.replace(/ \d+ /, ' '))).toEqual([
      'POST',
      'PATCH 429',
      'PATCH 200',
    ]);
    expect((await rowsOf(edits)).map((row) => [row.status, row.http_status])).toEqual([
      ['SUCCESS', 200],
      ['RETRYING', 429],
      ['SUCCESS', 200],
    ]);

    // 404 Unknown Webhook on the edit: FAILED at once, the task FAILED.
    const gone = webhookId();
    const goneEdit = await createTask({
      webhookUrl: discord.webhookUrl(gone),
      messageMode: 'edit',
    });
    await runOnce(goneEdit);
    discord.setBehavior(gone, { kind: 'not-found' });
    await runOnce(goneEdit, 'FAILED');
    await waitFor('the task FAILED', async () =>
      (await api.get(`/api/tasks/${goneEdit}`)).body.status === 'FAILED' ? true : undefined,
    );
    expect((await rowsOf(goneEdit)).map((row) => [row.status, row.http_status])).toEqual([
      ['SUCCESS', 200],
      ['FAILED', 404],
    ]);

    // 401 on the delete of a replaced message: the post succeeded, the delete fails the task.
    const revoked = webhookId();
    const replacing = await createTask({
      webhookUrl: discord.webhookUrl(revoked),
      messageMode: 'replace',
    });
    await runOnce(replacing);
    discord.setBehavior(revoked, { kind: 'success' }, { kind: 'unauthorized' });
    await runOnce(replacing);
    await waitFor('the task FAILED', async () =>
      (await api.get(`/api/tasks/${replacing}`)).body.status === 'FAILED' ? true : undefined,
    );
    const rows = await rowsOf(replacing);
    expect(rows.map((row) => [row.status, row.http_status])).toEqual([
      ['SUCCESS', 200],
      ['SUCCESS', 200],
      ['FAILED', 401],
    ]);
    expect(rows[2]!.message).toMatch(/^could not delete Discord message \d+ \(replace\): HTTP 401/);
    expect(rows[2]!.message).not.toContain(discord.webhookUrl(revoked).split('/').pop());
  });

  it('when the webhook URL changes, then lastMessageId is cleared and the next edit posts on the new webhook', async () => {
    const before = webhookId();
    const id = await createTask({ webhookUrl: discord.webhookUrl(before), messageMode: 'edit' });
    await runOnce(id);
    expect(await lastMessageId(id)).not.toBeNull();
    const after = webhookId();
    const res = await api.patch(`/api/tasks/${id}`, { webhookUrl: discord.webhookUrl(after) });
    expect(res.status).toBe(200);
    expect(res.body.lastMessageId).toBeNull();
    await runOnce(id);
    expect(calls(after)).toEqual(['POST']);
    expect(await lastMessageId(id)).toBe(discord.messages(after)[0]!.id);
  });

  it('when a scheduled run renders {{execution.scheduledTime|discord:R}}, then Discord receives <t:unix:R> of the scheduled time', async () => {
    const hook = webhookId();
    const id = await createTask({
      webhookUrl: discord.webhookUrl(hook),
      schedule: '@every 5s',
      content: 'due {{execution.scheduledTime|discord:R}} ({{execution.scheduledTime|discord}})',
    });
    const [sent] = await discord.waitForRequests(1, { webhookId: hook, timeoutMs: 30_000 });
    await api.post(`/api/tasks/${id}/toggle`);
    const [row] = await t.orm.em
      .fork()
      .getConnection()
      .execute<{ scheduled_time: Date }[]>(
        'select scheduled_time from task_logs where task_id = ? order by created_at limit 1',
        [id],
      );
    const unix = Math.floor(new Date(row!.scheduled_time).getTime() / 1000);
    expect((sent!.body as { content: string }).content).toBe(`due <t:${unix}:R> (<t:${unix}:f>)`);
  });
});
