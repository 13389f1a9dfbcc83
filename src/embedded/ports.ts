import net from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago, for a server this process is about to start.
 *
 * The OS picks the port for a listener on port 0. Before the listener closes, one connection to
 * it is made and closed from the listener's side, which leaves that port in TIME_WAIT for about a
 * minute on Linux: meanwhile the OS does not hand the same port to anybody else's port-0 bind
 * (the Temporal dev server picks its internal ports that way while it starts), yet a server that
 * binds it explicitly (Node, Go, PostgreSQL and Rust all set SO_REUSEADDR) still can. Another
 * process may still take it by number, so callers should treat "address already in use" as
 * retryable.
 */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.unref();
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error(`could not read the port of a listener on ${host}`));
    });
  });
  try {
    await reserveInTimeWait(server, host, port);
  } catch {
    // Best effort: the port is still free, just not held back from port-0 binds.
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return port;
}

/** Connects to the listener and closes the accepted side first, so that side enters TIME_WAIT. */
function reserveInTimeWait(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('no connection within 1 s')), 1_000);
    const client = net.connect({ host, port });
    const finish = (error?: Error) => {
      clearTimeout(timer);
      client.destroy();
      if (error) reject(error);
      else resolve();
    };
    client.once('error', finish);
    server.once('connection', (accepted) => {
      accepted.once('close', () => finish());
      accepted.end();
      accepted.destroy();
    });
  });
}
