import net from 'node:net';
import request from 'supertest';
import { initOrm, type Orm } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { createTestApp, TEST_API_KEY, testEnv, type TestApp } from '../helpers/app';

/**
 * A database restarted behind a proxy, NAT or failover address: the pool's connections look open
 * until they are used, and the first use is answered with a reset. pg cannot report their death
 * before (what knex relies on), so the first read meets one; it must retire the others and be
 * answered from a new connection, and no later read may meet another.
 */

/** PostgreSQL's Terminate message: what a client sends when it closes a connection itself. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

interface SilentRestartProxy {
  port: number;
  /** Client connections open through the proxy now. */
  open(): number;
  /** From now on, the connections open now are dead: the first bytes sent on one get a reset. */
  restart(): void;
  /** Dead connections a query was sent on (reset), and those the client closed unused. */
  dead(): { used: number; closedUnused: number };
  /** Dead connections still open: idle in the pool, not checked out since the restart. */
  deadOpen(): number;
  close(): Promise<void>;
}

async function startSilentRestartProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  const stale = new Set<net.Socket>();
  const dead = { used: 0, closedUnused: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client);
    client.on('close', () => {
      sockets.delete(client);
      stale.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('data', (chunk: Buffer) => {
      if (!stale.has(client)) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (!stale.has(client)) {
        upstream.write(chunk);
      } else if (chunk.equals(TERMINATE)) {
        dead.closedUnused += 1;
        client.destroy();
      } else {
        dead.used += 1;
        client.resetAndDestroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => sockets.size,
    restart() {
      // The server behind is gone for these; they are never answered again.
      for (const socket of sockets) stale.add(socket);
    },
    dead: () => ({ ...dead }),
    deadOpen: () => stale.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  } satisfies SilentRestartProxy;
}

describe('pooled connections that died without a word', () => {
  const POOL = 4;
  let proxy: SilentRestartProxy;
  let orm: Orm;
  let t: TestApp;
  const get = (url: string) => request(t.app).get(url).set('X-API-Key', TEST_API_KEY);

  beforeAll(async () => {
    const url = new URL(testEnv().databaseUrl);
    proxy = await startSilentRestartProxy({ host: url.hostname, port: Number(url.port) });
    url.port = String(proxy.port);
    orm = await initOrm({
      databaseUrl: url.toString(),
      poolMax: POOL,
      // knex's "Connection Error: ..." warnings, expected here, go to a silent logger.
      logger: createLogger({ level: 'silent' }),
    });
    t = await createTestApp({ orm });
  });
  afterAll(async () => {
    // The server is gone first, as in the scenario: the pool then closes sockets already closed
    // instead of waiting on a goodbye that a dead connection never answers.
    await proxy?.close();
    await t?.close();
  });

  it(`when the server behind the ${POOL} pooled connections restarted unnoticed, then every read answers 200, one dead connection is met and the other ${POOL - 1} are never used`, async () => {
    const reads = [
      '/api/tasks',
      '/api/tasks/00000000-0000-4000-8000-000000000000',
      '/api/logs',
      '/api/dashboard/stats',
    ];
    const expected = (url: string) => (url.includes('0000-4000') ? 404 : 200);
    // Fill the pool: concurrent reads open every connection it may hold.
    const warm = await Promise.all(Array.from({ length: 3 }, () => reads.map(get)).flat());
    expect(warm.map((r) => r.status)).toEqual(
      Array.from({ length: 3 }, () => reads.map(expected)).flat(),
    );
    expect(proxy.open()).toBe(POOL);

    proxy.restart();
    const sequential = [];
    for (const url of [...reads, ...reads]) sequential.push((await get(url)).status);
    const burst = (await Promise.all(reads.map(get))).map((r) => r.status);
    // A retired connection's goodbye reaches the proxy a moment after the read that retired it;
    // one not checked out since the restart stays idle until its next checkout (both are fine).
    const deadline = Date.now() + 5_000;
    while (proxy.dead().used + proxy.dead().closedUnused + proxy.deadOpen() > POOL) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const { used, closedUnused } = proxy.dead();
    console.log(
      `silent restart under a pool of ${POOL}: sequential ${sequential.join(' ')}; burst ${burst.join(' ')}; ` +
        `dead connections used ${used}, closed unused ${closedUnused}, still idle ${proxy.deadOpen()}`,
    );
    expect(sequential).toEqual([...reads, ...reads].map(expected));
    expect(burst).toEqual(reads.map(expected));
    expect({ used, neverUsed: closedUnused + proxy.deadOpen() }).toEqual({
      used: 1,
      neverUsed: POOL - 1,
    });
  });
});
