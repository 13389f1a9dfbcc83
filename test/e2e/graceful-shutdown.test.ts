import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { getFreePort } from '../../src/embedded/ports';
import { startWorker } from '../../src/main/worker';
import { WORKFLOWS_PATH } from '../../src/temporal/workflow-bundle';
import { createTestApp, TEST_API_KEY, testEnv, type TestApp } from '../helpers/app';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { acceptsConnections, silentLogger, startFromSources } from '../helpers/process';

async function until(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('graceful shutdown on SIGTERM', () => {
  let discord: MockDiscord;
  let env: NodeJS.ProcessEnv;
  let t: TestApp;

  beforeAll(async () => {
    discord = await startMockDiscord();
    env = {
      ...process.env,
      NODE_ENV: 'production',
      API_KEY: TEST_API_KEY,
      TEMPORAL_TASK_QUEUE: `e2e-shutdown-${randomUUID()}`,
      WEBHOOK_ALLOWED_ORIGINS: discord.url,
      LOG_LEVEL: 'warn',
    };
    t = await createTestApp({ env });
  });
  afterAll(async () => {
    await t?.close();
    await discord?.close();
  });

  it('when ROLE=api gets SIGTERM while a request is in flight, then it stops accepting connections, answers that request and exits 0', async () => {
    const port = await getFreePort();
    const api = await startFromSources({ ...env, ROLE: 'api', PORT: String(port) });
    let taskId: string | undefined;
    try {
      const body = JSON.stringify({
        name: `shutdown ${randomUUID().slice(0, 8)}`,
        schedule: '0 0 1 1 *',
        status: 'INACTIVE',
        webhookUrl: discord.webhookUrl(),
        payload: { content: 'drained' },
      });
      const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/api/tasks',
            headers: {
              'Content-Type': 'application/json',
              'Content-Length': Buffer.byteLength(body),
              'X-API-Key': TEST_API_KEY,
              // The server answers 100 Continue once it has parsed the headers: from then on the
              // request is in flight there, not a connection still waiting to be read.
              Expect: '100-continue',
            },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        req.once('continue', () => {
          // Half the body now: the request is in flight when the signal arrives.
          req.write(body.slice(0, 40));
          api.child.kill('SIGTERM');
          void until(
            async () => !(await acceptsConnections(port)),
            'the API stops accepting connections',
          ).then(() => req.end(body.slice(40)), reject);
        });
        req.flushHeaders();
      });

      const answered = await response;
      expect(answered.status).toBe(201);
      taskId = (JSON.parse(answered.body) as { id: string }).id;
      expect(await api.exited).toBe(0);
      expect(api.output()).not.toMatch(/"level":(50|60)/);
    } finally {
      api.child.kill('SIGKILL');
      if (taskId)
        await request(t.app).delete(`/api/tasks/${taskId}`).set('X-API-Key', TEST_API_KEY);
    }
  }, 120_000);

  it('when ROLE=worker gets SIGTERM while a delivery waits on Discord, then the delivery completes and is logged once, and the worker exits 0', async () => {
    const webhookId = `${Date.now()}`;
    discord.setBehavior(webhookId, { kind: 'hang', ms: 2_000 }, { kind: 'success' });
    const created = await request(t.app)
      .post('/api/tasks')
      .set('X-API-Key', TEST_API_KEY)
      .send({
        name: 'drain',
        schedule: '0 0 1 1 *',
        webhookUrl: discord.webhookUrl(webhookId),
        payload: { content: 'x' },
        maxRetry: 2,
      });
    expect(created.status).toBe(201);
    const taskId = created.body.id as string;

    const worker = await startFromSources({
      ...env,
      ROLE: 'worker',
      METRICS_PORT: String(await getFreePort()),
    });
    let replacement: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const triggered = await request(t.app)
        .post(`/api/tasks/${taskId}/trigger`)
        .set('X-API-Key', TEST_API_KEY);
      expect(triggered.status).toBe(202);
      await discord.waitForRequests(1, { webhookId, timeoutMs: 60_000 });
      worker.child.kill('SIGTERM');

      expect(await worker.exited).toBe(0);
      // The attempt in flight finished inside the grace period: Discord answered it, it was logged.
      expect(discord.requests(webhookId).map((r) => r.respondedWith)).toEqual([200]);
      const rows = await t.orm.em
        .fork()
        .getConnection()
        .execute('select status, attempt from task_logs where task_id = ? order by attempt', [
          taskId,
        ]);
      expect(rows).toEqual([{ status: 'SUCCESS', attempt: 1 }]);

      // Another worker finishes the workflow; Discord is not called a second time.
      replacement = await startWorker({
        config: loadConfig(env),
        logger: pino({ level: 'silent' }),
        databaseUrl: testEnv().databaseUrl,
        temporalAddress: testEnv().temporalAddress,
        workflowBundle: await bundleWorkflowCode({
          workflowsPath: WORKFLOWS_PATH,
          logger: silentLogger,
        }),
      });
      const result = await t.temporal.client.workflow
        .getHandle(triggered.body.workflowId as string)
        .result();
      expect(result).toMatchObject({ status: 'SUCCESS' });
      expect(discord.requests(webhookId)).toHaveLength(1);
    } finally {
      worker.child.kill('SIGKILL');
      await replacement?.shutdown();
      await request(t.app).delete(`/api/tasks/${taskId}`).set('X-API-Key', TEST_API_KEY);
    }
  }, 120_000);
});
