import fs from 'node:fs/promises';
import net from 'node:net';
import { getFreePort } from '../../src/embedded/ports';

/** TCP states of the sockets on a local port, from /proc/net/tcp ('06' is TIME_WAIT). */
async function statesOnPort(port: number): Promise<string[]> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const rows = (await fs.readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1);
  return rows
    .map((row) => row.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(hex))
    .map((fields) => fields[3] ?? '');
}

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const onLinux = process.platform === 'linux' ? it : it.skip;

describe('getFreePort', () => {
  onLinux(
    'when it returns a port, then that port sits in TIME_WAIT so that port-0 binds elsewhere skip it',
    async () => {
      const port = await getFreePort();
      expect(await statesOnPort(port)).toContain('06');
    },
  );

  it('when it returns a port, then a server can listen on it at once, and nobody listens there before', async () => {
    const port = await getFreePort();
    expect(await statesOnPort(port).catch(() => [])).not.toContain('0A'); // 0A: LISTEN
    const server = await listen(port);
    try {
      expect((server.address() as net.AddressInfo).port).toBe(port);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('when asked several times in a row, then it returns distinct ports', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) ports.add(await getFreePort());
    expect(ports.size).toBe(20);
  });
});
