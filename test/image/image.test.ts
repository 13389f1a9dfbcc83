import { randomUUID } from 'node:crypto';
import { getFreePort } from '../../src/embedded/ports';
import { TEST_API_KEY, testEnv } from '../helpers/app';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { waitFor } from '../helpers/product';
import {
  buildImage,
  type Container,
  type Engine,
  engineFor,
  type ImageBuild,
  type ImageConfig,
  uidsOf,
} from './engine';

/**
 * `npm run test:image` (SPEC §15, issue 24 item 3): the project's Dockerfile, as shipped, built
 * into an image (scripts/build-image.sh: `docker build` where a Docker engine answers, else buildah
 * with chroot isolation on a stand-in for the base image), and the image run as a deployment runs
 * it, against the Jest global setup's PostgreSQL and Temporal dev server and a mock Discord on
 * 127.0.0.1: the migrate CLI, one API (ROLE=api) and one worker (ROLE=worker), each with the
 * image's own CMD, USER, WORKDIR, ENV and HEALTHCHECK command, read from the image.
 */

const BUILD_TIMEOUT_MS = 30 * 60_000;

/** The HEALTHCHECK's test as a command line (`CMD-SHELL` runs through /bin/sh, as Docker does). */
function healthcheckCommand(config: ImageConfig): string[] {
  const [kind, ...rest] = config.Healthcheck?.Test ?? [];
  if (kind === 'CMD') return rest;
  if (kind === 'CMD-SHELL') return ['/bin/sh', '-c', rest.join(' ')];
  throw new Error(`the image has no HEALTHCHECK command: ${JSON.stringify(config.Healthcheck)}`);
}

/** Resolves with the exit code once the container's runtime client has exited. */
const exitOf = (container: Container) => container.process.exited;

describe('the image built from the Dockerfile, run as a deployment runs it', () => {
  let build: ImageBuild;
  let engine: Engine;
  let config: ImageConfig;
  let discord: MockDiscord;
  let env: Record<string, string>;
  let api: Container | undefined;
  let worker: Container | undefined;
  let apiUrl: string;
  let workerUrl: string;
  const figures: string[] = [];

  beforeAll(async () => {
    build = await buildImage();
    engine = engineFor(build);
    await engine.removeLeftovers();
    config = await engine.config();
    discord = await startMockDiscord();
    const databaseUrl = new URL(testEnv().databaseUrl);
    // A database of its own, empty: the image's migrate CLI creates its schema.
    databaseUrl.pathname = `/image_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    env = {
      API_KEY: TEST_API_KEY,
      DATABASE_URL: databaseUrl.toString(),
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      // Only this test's worker polls it: what reaches the mock was delivered by the image's worker.
      TEMPORAL_TASK_QUEUE: `image-${randomUUID()}`,
      WEBHOOK_ALLOWED_ORIGINS: discord.url,
      LOG_LEVEL: 'info',
      // Required in production (SPEC §15); the global setup's key, as every test process has.
      ...(process.env.ENCRYPTION_KEYS ? { ENCRYPTION_KEYS: process.env.ENCRYPTION_KEYS } : {}),
    };
    figures.push(
      `engine ${build.engine}; base ${build.base} in ${build.baseSeconds} s; image built in ${build.buildSeconds} s`,
    );
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await api?.remove();
    await worker?.remove();
    await discord?.close();
    if (figures.length > 0) process.stderr.write(`\n[image] ${figures.join('\n[image] ')}\n`);
  });

  it('when built, then the image runs node as uid 1000 from /app, in production, with a HEALTHCHECK and SIGTERM to stop', () => {
    expect(config.User).toBe('1000:1000');
    expect(config.WorkingDir).toBe('/app');
    expect(config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'ROLE=api']));
    expect(config.Cmd).toEqual(['node', 'dist/src/main/start.js']);
    expect(healthcheckCommand(config)).toEqual(['node', 'dist/src/main/healthcheck.cli.js']);
    expect(config.StopSignal ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('when the image’s migrate CLI runs against an empty database, then it creates the schema, and a second run finds it up to date', async () => {
    const migrate = ['node', 'dist/src/db/migrate.cli.js'];
    const first = await engine.runOnce(env, migrate);
    expect(first).toEqual({
      code: 0,
      output: expect.stringMatching(/^Applied \d+ migration\(s\)/m),
    });
    const second = await engine.runOnce(env, migrate);
    expect(second).toEqual({
      code: 0,
      output: expect.stringContaining('Database schema is up to date.'),
    });
  }, 120_000);

  describe('when one API (ROLE=api) and one worker (ROLE=worker) run from the image', () => {
    beforeAll(async () => {
      const [apiPort, workerPort] = [await getFreePort(), await getFreePort()];
      apiUrl = `http://127.0.0.1:${apiPort}`;
      workerUrl = `http://127.0.0.1:${workerPort}`;
      const started = performance.now();
      [api, worker] = await Promise.all([
        engine.start('api', { ...env, ROLE: 'api', PORT: String(apiPort) }, config.Cmd),
        engine.start(
          'worker',
          { ...env, ROLE: 'worker', METRICS_PORT: String(workerPort) },
          config.Cmd,
        ),
      ]);
      const healthy = async (name: string, container: Container, url: string) => {
        const outcome = await waitFor(
          `the ${name} to answer /health with 200`,
          async () => {
            if (!container.process.running()) return 'exited';
            const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3_000) });
            return response.status === 200 ? 'healthy' : undefined;
          },
          90_000,
          100,
        ).catch((error: unknown) => (error as Error).message);
        if (outcome !== 'healthy') {
          throw new Error(`the ${name}: ${outcome}\n${container.process.output().slice(-4000)}`);
        }
        figures.push(
          `${name} healthy ${((performance.now() - started) / 1000).toFixed(1)} s after start`,
        );
      };
      await Promise.all([healthy('API', api, apiUrl), healthy('worker', worker, workerUrl)]);
    }, 120_000);

    const call = (route: string, init: RequestInit = {}) =>
      fetch(`${apiUrl}${route}`, {
        ...init,
        headers: { 'Content-Type': 'application/json', 'X-API-Key': TEST_API_KEY },
        signal: AbortSignal.timeout(10_000),
      });

    const createTask = async (name: string, webhookId: string) => {
      const created = await call('/api/tasks', {
        method: 'POST',
        body: JSON.stringify({
          name,
          schedule: '0 0 1 1 *',
          webhookUrl: discord.webhookUrl(webhookId),
          payload: { content: `${name} from the image` },
          maxRetry: 0,
        }),
      });
      expect(created.status).toBe(201);
      return ((await created.json()) as { id: string }).id;
    };

    const loggedSuccess = async (id: string) => {
      const body = (await (await call(`/api/tasks/${id}/logs`)).json()) as {
        data: { status: string }[];
      };
      return body.data.some((log) => log.status === 'SUCCESS') ? true : undefined;
    };

    it('then both answer /health with 200, and the API serves the console built into the image', async () => {
      expect((await fetch(`${apiUrl}/health`)).status).toBe(200);
      expect((await fetch(`${workerUrl}/health`)).status).toBe(200);
      const page = await fetch(`${apiUrl}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script type="module" crossorigin src="\/assets\//);
    });

    it('then the image’s HEALTHCHECK command exits 0 in each container', async () => {
      const command = healthcheckCommand(config);
      const [inApi, inWorker] = [await api!.exec(command), await worker!.exec(command)];
      expect(inApi).toEqual({ code: 0, output: expect.stringContaining('/health 200') });
      expect(inWorker).toEqual({ code: 0, output: expect.stringContaining('/health 200') });
    }, 60_000);

    it('then both node processes run as uid 1000, not root', async () => {
      expect(await uidsOf(api!.pid)).toEqual([1000, 1000, 1000, 1000]);
      expect(await uidsOf(worker!.pid)).toEqual([1000, 1000, 1000, 1000]);
    });

    it('then a task created through the image’s API is delivered by the image’s worker to the mock Discord', async () => {
      const webhookId = `${Date.now()}1`;
      const id = await createTask('image delivery', webhookId);
      const started = performance.now();
      expect((await call(`/api/tasks/${id}/trigger`, { method: 'POST' })).status).toBe(202);
      const [request] = await discord.waitForRequests(1, { webhookId, timeoutMs: 30_000 });
      expect(request!.body).toMatchObject({ content: 'image delivery from the image' });
      expect(discord.aliveMessages(webhookId)).toHaveLength(1);
      figures.push(
        `trigger to delivery through the image: ${((performance.now() - started) / 1000).toFixed(2)} s`,
      );
      await waitFor('the run’s SUCCESS log', () => loggedSuccess(id));
    }, 60_000);

    it('when the worker’s node gets SIGTERM during a delivery, then it finishes that delivery and exits 0', async () => {
      const webhookId = `${Date.now()}2`;
      // Discord takes 3 s to answer: the delivery is under way when the signal comes.
      discord.setBehavior(webhookId, { kind: 'hang', ms: 3_000 });
      const id = await createTask('drained on SIGTERM', webhookId);
      expect((await call(`/api/tasks/${id}/trigger`, { method: 'POST' })).status).toBe(202);
      await discord.waitForRequests(1, { webhookId, timeoutMs: 30_000 });
      const signalled = performance.now();
      await worker!.signal('SIGTERM');
      expect(await exitOf(worker!)).toBe(0);
      // Answered after the signal, to a worker still there to read it: Discord kept the message.
      const [request] = discord.requests(webhookId);
      expect(request!.respondedWith).toBe(200);
      expect(discord.aliveMessages(webhookId)).toHaveLength(1);
      expect(await loggedSuccess(id)).toBe(true);
      expect(worker!.process.output()).not.toMatch(/"level":(50|60)/);
      figures.push(
        `worker drained and exited 0 ${((performance.now() - signalled) / 1000).toFixed(1)} s after SIGTERM`,
      );
      // Stopped: its HEALTHCHECK now fails.
      expect(
        (
          await engine.runOnce(
            { ...env, ROLE: 'worker', METRICS_PORT: new URL(workerUrl).port },
            healthcheckCommand(config),
          )
        ).code,
      ).not.toBe(0);
    }, 90_000);

    it('when the API’s node gets SIGTERM, then it exits 0, and the HEALTHCHECK command then exits non-zero', async () => {
      const apiEnv = { ...env, ROLE: 'api', PORT: new URL(apiUrl).port };
      const signalled = performance.now();
      await api!.signal('SIGTERM');
      expect(await exitOf(api!)).toBe(0);
      figures.push(
        `API exited 0 ${((performance.now() - signalled) / 1000).toFixed(1)} s after SIGTERM`,
      );
      expect(api!.process.output()).not.toMatch(/"level":(50|60)/);
      const down = await engine.runOnce(apiEnv, healthcheckCommand(config));
      expect(down.code).not.toBe(0);
      expect(down.output).toContain('unreachable');
    }, 60_000);
  });
});
