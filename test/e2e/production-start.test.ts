import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { initOrm } from '../../src/db/orm';
import { getFreePort } from '../../src/embedded/ports';
import { createClient } from '@redis/client';
import { TEST_API_KEY, TEST_ENCRYPTION_KEY, testEnv } from '../helpers/app';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { ROOT, startProcess, type StartedProcess } from '../helpers/process';
import { ensureRedisServer, startRedisServer, type RedisServer } from '../helpers/redis-server';

const DIST = path.join(ROOT, 'dist');
const run = promisify(execFile);

/** What the image's CMD runs: `node dist/src/main/start.js`, in the role the environment says. */
const startCompiled = (env: NodeJS.ProcessEnv) =>
  startProcess(['dist/src/main/start.js'], env, 60_000);

/** The image's HEALTHCHECK command, with the container's environment. */
async function healthcheck(env: NodeJS.ProcessEnv): Promise<number> {
  try {
    await run(process.execPath, ['dist/src/main/healthcheck.cli.js'], { cwd: ROOT, env });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

function jsFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.js') && file !== 'workflow-bundle.js')
    .map((file) => path.join(dir, file));
}

describe('the production start path, from a build (what the image runs)', () => {
  let discord: MockDiscord;

  beforeAll(async () => {
    // `npm run build`, as the image's build stage does: dist/ and dist/workflow-bundle.js.
    await run('npm', ['run', 'build'], {
      cwd: ROOT,
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    discord = await startMockDiscord();
  }, 300_000);
  afterAll(async () => {
    await discord?.close();
  });

  it('when built, then everything the compiled code requires is a production dependency (the image has no others)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
    const missing = new Set<string>();
    for (const file of jsFiles(DIST)) {
      for (const [, specifier] of fs.readFileSync(file, 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
        if (specifier!.startsWith('.') || specifier!.startsWith('node:')) continue;
        const name = specifier!.startsWith('@')
          ? specifier!.split('/').slice(0, 2).join('/')
          : specifier!.split('/')[0]!;
        if (!allowed.has(name)) missing.add(`${name} (${path.relative(ROOT, file)})`);
      }
    }
    expect([...missing]).toEqual([]);
    expect(fs.existsSync(path.join(DIST, 'workflow-bundle.js'))).toBe(true);
  });

  it('when the compiled migrate CLI runs against an empty database, then it creates the schema, and a second run finds it up to date', async () => {
    const url = new URL(testEnv().databaseUrl);
    const name = `dist_migrate_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const target = new URL(url);
    target.pathname = `/${name}`;
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // The environment the migrate service of the Compose files gets: the app's, production.
      NODE_ENV: 'production',
      API_KEY: TEST_API_KEY,
      ENCRYPTION_KEYS: TEST_ENCRYPTION_KEY,
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      DATABASE_URL: target.toString(),
      LOG_LEVEL: 'warn',
    };
    try {
      const first = await run(process.execPath, ['dist/src/db/migrate.cli.js'], { cwd: ROOT, env });
      expect(first.stdout).toMatch(/^Applied \d+ migration\(s\): Migration\d+/m);
      const second = await run(process.execPath, ['dist/src/db/migrate.cli.js'], {
        cwd: ROOT,
        env,
      });
      expect(second.stdout).toContain('Database schema is up to date.');
    } finally {
      const orm = await initOrm({ databaseUrl: url.toString(), poolMax: 1 });
      await orm.em.getConnection().execute(`drop database if exists ${name} with (force)`);
      await orm.close();
    }
  }, 120_000);

  describe('when the compiled API and a worker run with NODE_ENV=production against PostgreSQL and Temporal', () => {
    let api: StartedProcess;
    let worker: StartedProcess;
    let apiEnv: NodeJS.ProcessEnv;
    let workerEnv: NodeJS.ProcessEnv;
    let base: string;
    let workerPort: number;
    let redis: RedisServer;
    const token = `tok${randomUUID().replace(/-/g, '')}SECRETTOKEN`;
    const requestId = `prod-test-${randomUUID()}`;

    beforeAll(async () => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'production',
        API_KEY: TEST_API_KEY,
        ENCRYPTION_KEYS: TEST_ENCRYPTION_KEY,
        DATABASE_URL: testEnv().databaseUrl,
        TEMPORAL_ADDRESS: testEnv().temporalAddress,
        TEMPORAL_TASK_QUEUE: `e2e-dist-${randomUUID()}`,
        WEBHOOK_ALLOWED_ORIGINS: discord.url,
        // The most verbose level an operator would set: still no secret may show.
        LOG_LEVEL: 'debug',
      };
      const apiPort = await getFreePort();
      workerPort = await getFreePort();
      base = `http://127.0.0.1:${apiPort}`;
      // The rate limit's counts go to a Redis, as with API replicas behind Traefik.
      redis = await startRedisServer(await ensureRedisServer());
      apiEnv = { ...env, ROLE: 'api', PORT: String(apiPort), REDIS_URL: redis.url };
      workerEnv = { ...env, ROLE: 'worker', METRICS_PORT: String(workerPort) };
      [api, worker] = await Promise.all([startCompiled(apiEnv), startCompiled(workerEnv)]);
    }, 120_000);
    afterAll(async () => {
      api?.child.kill('SIGKILL');
      worker?.child.kill('SIGKILL');
      await redis?.stop();
    });

    const call = (route: string, init: RequestInit = {}) =>
      fetch(`${base}${route}`, {
        ...init,
        headers: {
          'Content-Type': 'application/json',
          'X-API-Key': TEST_API_KEY,
          ...(init.headers as object),
        },
      });

    it('then both pass the image’s health check', async () => {
      expect(await healthcheck(apiEnv)).toBe(0);
      expect(await healthcheck(workerEnv)).toBe(0);
    });

    it('then the API serves the web console that the build made, with its hashed script', async () => {
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('cache-control')).toBe('no-cache');
      const html = await page.text();
      const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(
        html,
      )?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${base}${script}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toContain('immutable');
    });

    it('then a task is delivered through them, and the worker’s /metrics counts it next to the Temporal SDK’s metrics', async () => {
      const webhookId = `${Date.now()}`;
      const created = await call('/api/tasks', {
        method: 'POST',
        headers: { 'X-Request-Id': requestId },
        body: JSON.stringify({
          name: 'from dist',
          schedule: '0 0 1 1 *',
          webhookUrl: `${discord.url}/api/webhooks/${webhookId}/${token}`,
          payload: { content: 'compiled' },
          maxRetry: 0,
        }),
      });
      expect(created.status).toBe(201);
      const task = (await created.json()) as { id: string; webhookUrl: string };
      expect(task.webhookUrl).not.toContain(token);
      expect((await call(`/api/tasks/${task.id}/trigger`, { method: 'POST' })).status).toBe(202);
      await discord.waitForRequests(1, { webhookId, timeoutMs: 30_000 });

      // A second task whose webhook is gone: the failure is logged, and must not show the token.
      const goneId = `${Date.now()}9`;
      discord.setBehavior(goneId, { kind: 'not-found' });
      const gone = await call('/api/tasks', {
        method: 'POST',
        body: JSON.stringify({
          name: 'gone',
          schedule: '0 0 1 1 *',
          webhookUrl: `${discord.url}/api/webhooks/${goneId}/${token}`,
          payload: { content: 'x' },
          maxRetry: 0,
        }),
      });
      const goneTask = (await gone.json()) as { id: string };
      await call(`/api/tasks/${goneTask.id}/trigger`, { method: 'POST' });
      await discord.waitForRequests(1, { webhookId: goneId, timeoutMs: 30_000 });
      // Requests with a wrong key and with the key in odd places are refused, and logged.
      expect(
        (
          await fetch(`${base}/api/tasks`, {
            headers: { 'X-API-Key': 'wrong-key-0123456789abcdef' },
          })
        ).status,
      ).toBe(401);
      expect((await fetch(`${base}/api/tasks?api_key=${TEST_API_KEY}`)).status).toBe(401);

      let metrics = '';
      const deadline = Date.now() + 15_000;
      while (
        !/^discord_deliveries_total\{outcome="failed"\} 1$/m.test(metrics) &&
        Date.now() < deadline
      ) {
        metrics = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(metrics).toMatch(/^discord_deliveries_total\{outcome="success"\} 1$/m);
      expect(metrics).toMatch(/^discord_deliveries_total\{outcome="failed"\} 1$/m);
      expect(metrics).toMatch(/^temporal_worker_start\{/m);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(
        /^http_requests_total\{method="POST",route="\/api\/tasks",status="201"\} 2$/m,
      );

      for (const id of [task.id, goneTask.id])
        expect((await call(`/api/tasks/${id}`, { method: 'DELETE' })).status).toBe(204);
    }, 90_000);

    it('then the API counts each key’s requests in Redis, under a digest of the key, and says so in RateLimit', async () => {
      const first = await call('/api/tasks?limit=1');
      const second = await call('/api/tasks?limit=1');
      expect(first.headers.get('ratelimit-policy')).toBe('600;w=60');
      const remaining = (res: Response) =>
        Number(/remaining=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
      expect(remaining(first) - remaining(second)).toBe(1);

      const client = createClient({ url: redis.url });
      await client.connect();
      try {
        const keys = await client.keys('dts:rate-limit:*');
        expect(keys).toHaveLength(1);
        expect(keys[0]).not.toContain(TEST_API_KEY);
        expect(600 - Number(await client.get(keys[0]!))).toBe(remaining(second));
        expect(await client.pTTL(keys[0]!)).toBeGreaterThan(0);
      } finally {
        await client.close();
      }
    });

    it('then on SIGTERM both stop cleanly with exit code 0', async () => {
      api.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      expect(await api.exited).toBe(0);
      expect(await worker.exited).toBe(0);
    }, 60_000);

    it('then their logs are JSON lines with request ids, and never contain the API key or a webhook token', () => {
      const output = api.output() + worker.output();
      expect(output).not.toContain(TEST_API_KEY);
      expect(output).not.toContain(TEST_ENCRYPTION_KEY);
      expect(output).not.toContain(token);

      const lines = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.length).toBeGreaterThan(5);
      const accessLines = lines.filter((line) => line.req !== undefined);
      expect(accessLines.length).toBeGreaterThan(3);
      expect(
        accessLines.every((line) => typeof line.requestId === 'string' && line.level !== undefined),
      ).toBe(true);
      // A caller's X-Request-Id is the request id of the lines written while serving it.
      expect(accessLines.filter((line) => line.requestId === requestId)).toHaveLength(1);
      // The worker logged the failed delivery (so the check above covered an error path).
      expect(worker.output()).toContain('delivery attempt failed');
    });
  });
});
