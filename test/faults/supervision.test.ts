import net from 'node:net';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { callApi, descendantsOf, createProduct, type Product, waitFor } from '../helpers/product';
import { survivors } from '../helpers/process-group';

/**
 * SPEC §2 "Supervision": the product started as a user starts it (`npm start`, embedded
 * PostgreSQL and Temporal dev server); each embedded service is killed with -9, and the product
 * must say so at error level, start it again, and serve and deliver again without a hand
 * restart; when a service cannot come back, the process stops in order and exits 1 saying why.
 * SPEC §8: whatever happens meanwhile, its output is JSON lines (besides the start-up banner),
 * the Temporal SDK's native core included.
 */

jest.setTimeout(5 * 60_000);

let mock: MockDiscord;

beforeAll(async () => {
  mock = await startMockDiscord();
});

afterAll(async () => {
  await mock?.close();
});

const call = callApi;

async function healthStatus(product: Product): Promise<number | undefined> {
  try {
    return (await fetch(`${product.url}/health`, { signal: AbortSignal.timeout(3_000) })).status;
  } catch {
    return undefined;
  }
}

/** A task on `@every 5s` into the mock; returns its id and webhook id. */
async function createTask(product: Product, name: string) {
  const webhookUrl = mock.webhookUrl();
  const webhookId = webhookUrl.split('/').at(-2)!;
  const created = await call<{ id: string }>(product, 'POST', '/api/tasks', {
    name,
    schedule: '@every 5s',
    webhookUrl,
    payload: { content: 'x' },
  });
  expect(created.status).toBe(201);
  return { id: created.body.id, webhookId };
}

/** Resolves once the mock received a post for `webhookId` after `since`; returns when. */
function deliveredAfter(webhookId: string, since: number, timeoutMs = 60_000): Promise<number> {
  return waitFor(
    `a delivery to webhook ${webhookId} after ${new Date(since).toISOString()}`,
    () =>
      mock
        .requests(webhookId)
        .find((r) => r.receivedAt.getTime() > since)
        ?.receivedAt.getTime(),
    timeoutMs,
    100,
  );
}

/** Resolves with the first log line (parsed) written since `since` whose message matches. */
function logLine(product: Product, since: number, message: RegExp, timeoutMs = 30_000) {
  const after = new Date(since - 1).toISOString();
  return waitFor(
    `a log line matching ${message}`,
    () =>
      jsonLines(product.output()).find(
        (line) => line.time >= after && message.test(String(line.msg)),
      ),
    timeoutMs,
    50,
  );
}

interface LogLine {
  level: number;
  time: string;
  msg?: string;
  [key: string]: unknown;
}

function jsonLines(output: string): LogLine[] {
  return output.split('\n').flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as unknown;
      return typeof parsed === 'object' && parsed !== null ? [parsed as LogLine] : [];
    } catch {
      return [];
    }
  });
}

/** The lines of the output that are neither JSON objects nor part of the start-up banner. */
function nonJsonLines(output: string): string[] {
  const lines = output.split('\n');
  const bannerStart = lines.findIndex((line) =>
    line.startsWith('Discord Task Scheduler is running'),
  );
  const bannerEnd = lines.indexOf('Press Ctrl-C to stop.');
  return lines.filter((line, index) => {
    if (line.trim() === '') return false;
    if (bannerStart >= 0 && index >= bannerStart && index <= bannerEnd) return false;
    try {
      const parsed = JSON.parse(line) as unknown;
      return typeof parsed !== 'object' || parsed === null;
    } catch {
      return true;
    }
  });
}

/** Listens on `port` as soon as it is free (the killed server's port), resetting every connection. */
async function occupy(port: number, timeoutMs = 10_000): Promise<net.Server> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = net.createServer((socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: '127.0.0.1', exclusive: true }, resolve);
      });
      return server;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const release = (server: net.Server) =>
  new Promise<void>((resolve) => server.close(() => resolve()));

describe('supervision of the embedded services', () => {
  let product: Product;
  let task: { id: string; webhookId: string };

  beforeAll(async () => {
    product = await createProduct({ env: { WEBHOOK_ALLOWED_ORIGINS: mock.url } });
    await product.start();
    task = await createTask(product, 'supervised');
    await deliveredAfter(task.webhookId, 0, 30_000);
  });

  afterAll(async () => {
    await product?.dispose();
  });

  it('when the Temporal dev server is killed with -9, then an error line names it, it is restarted, /health is 200 again and the task created before is delivered again, without a hand restart', async () => {
    const pid = product.temporalPid();
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');

    const death = await logLine(
      product,
      killedAt,
      /^embedded Temporal dev server \(pid \d+\) died/,
    );
    expect(death).toMatchObject({
      level: 50,
      service: 'embedded Temporal dev server',
      childPid: pid,
      signal: 'SIGKILL',
    });
    const restarted = await logLine(product, killedAt, /^embedded Temporal dev server restarted/);
    const restartedAt = Date.parse(restarted.time);
    expect(product.temporalPid()).not.toBe(pid);

    await waitFor(
      '/health 200',
      async () => ((await healthStatus(product)) === 200 ? true : undefined),
      60_000,
      200,
    );
    const healthyAt = Date.now();
    const deliveredAt = await deliveredAfter(task.webhookId, restartedAt);
    console.log(
      `Temporal dev server killed: restarted after ${restartedAt - killedAt} ms (start took ${String(restarted.tookMs)} ms), ` +
        `/health 200 after ${healthyAt - killedAt} ms, next delivery after ${deliveredAt - killedAt} ms`,
    );
    expect(nonJsonLines(product.output())).toEqual([]);
  });

  it('when the postmaster is killed with -9, then an error line names it, it is restarted, the API reads again and the task is delivered again, without a hand restart', async () => {
    // Between two runs: the outage should not land on a delivery (what the worker makes of that
    // is issue 10 item 1, tested elsewhere).
    await deliveredAfter(task.webhookId, Date.now());
    const pid = await product.postgresPid();
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');

    const death = await logLine(product, killedAt, /^embedded PostgreSQL \(pid \d+\) died/);
    expect(death).toMatchObject({
      level: 50,
      service: 'embedded PostgreSQL',
      childPid: pid,
      signal: 'SIGKILL',
    });
    const restarted = await logLine(product, killedAt, /^embedded PostgreSQL restarted/);
    const restartedAt = Date.parse(restarted.time);
    expect(await product.postgresPid()).not.toBe(pid);

    await waitFor(
      '/health 200',
      async () => ((await healthStatus(product)) === 200 ? true : undefined),
      60_000,
      200,
    );
    const healthyAt = Date.now();
    expect((await call(product, 'GET', `/api/tasks/${task.id}`)).status).toBe(200);
    const deliveredAt = await deliveredAfter(task.webhookId, restartedAt);
    console.log(
      `postmaster killed: restarted after ${restartedAt - killedAt} ms (start took ${String(restarted.tookMs)} ms), ` +
        `/health 200 after ${healthyAt - killedAt} ms, next delivery after ${deliveredAt - killedAt} ms`,
    );
    expect(nonJsonLines(product.output())).toEqual([]);
  });

  it('when the Temporal dev server stays away for a while (its port taken), then the restarts that fail are logged, the worker’s core logs as JSON meanwhile, and once the port is free it is back', async () => {
    const pid = product.temporalPid();
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const holder = await occupy(product.ports.temporal);
    let heldFor: number;
    try {
      // Restarts at about 1, 3 and 7 s fail; the SDK's core logs its failing polls after ~6 s.
      await waitFor(
        'a warning from the Temporal SDK core',
        () =>
          jsonLines(product.output()).find(
            (line) => line.sdkComponent === 'core' && line.time > new Date(killedAt).toISOString(),
          ),
        30_000,
        200,
      );
      await logLine(product, killedAt, /^embedded Temporal dev server could not be restarted/);
    } finally {
      heldFor = Date.now() - killedAt;
      await release(holder);
    }
    const restarted = await logLine(
      product,
      killedAt,
      /^embedded Temporal dev server restarted/,
      60_000,
    );
    expect(Date.parse(restarted.time)).toBeGreaterThan(killedAt + heldFor - 1_000);
    await waitFor(
      '/health 200',
      async () => ((await healthStatus(product)) === 200 ? true : undefined),
      60_000,
      200,
    );
    await deliveredAfter(task.webhookId, Date.parse(restarted.time));
    console.log(
      `Temporal dev server away ${heldFor} ms: back after ${Date.parse(restarted.time) - killedAt} ms ` +
        `(attempt ${String(restarted.attempt)})`,
    );

    const core = jsonLines(product.output()).filter((line) => line.sdkComponent === 'core');
    expect(core.length).toBeGreaterThan(0);
    expect(core[0]).toMatchObject({ component: 'temporal' });
    expect(nonJsonLines(product.output())).toEqual([]);
  });
});

describe('when an embedded service cannot be brought back', () => {
  let product: Product | undefined;

  afterEach(async () => {
    await product?.dispose();
    product = undefined;
  });

  it('when the Temporal dev server cannot be restarted (its port stays taken), then after its tries the process stops the rest in order and exits 1 saying why', async () => {
    product = await createProduct();
    const started = await product.start();
    const before = descendantsOf(started.child.pid!).map(({ pid }) => pid);
    const killedAt = Date.now();
    process.kill(product.temporalPid(), 'SIGKILL');
    const holder = await occupy(product.ports.temporal);
    try {
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        started.exited,
        new Promise<string>(
          (resolve) => (timer = setTimeout(() => resolve('still running after 120 s'), 120_000)),
        ),
      ]).finally(() => clearTimeout(timer));
      const exitedAt = Date.now();
      const output = started.output();
      expect(code).toBe(1);

      const lines = jsonLines(output);
      const why = lines.find((line) => /^exiting: /.test(String(line.msg)));
      expect(why).toMatchObject({ level: 50 });
      expect(why?.msg).toMatch(
        /^exiting: embedded Temporal dev server died with signal SIGKILL and could not be restarted \(5 tries; last error: .*address already in use/,
      );
      expect(
        lines.filter((line) => line.msg === 'embedded Temporal dev server could not be restarted'),
      ).toHaveLength(5);
      // The orderly stop of the rest.
      const order = ['shutting down', 'API stopped', 'worker stopped'].map((msg) =>
        lines.findIndex((line) => line.msg === msg),
      );
      expect(order.every((index) => index >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(await survivors(before)).toEqual([]);
      expect(nonJsonLines(output)).toEqual([]);
      console.log(
        `Temporal dev server kept away: the process gave up and exited 1 after ${exitedAt - killedAt} ms`,
      );
    } finally {
      await release(holder);
    }
  });
});
