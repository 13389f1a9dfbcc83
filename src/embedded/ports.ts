import net from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago (the OS picks it for a listener on port 0,
 * which is closed again before returning). Another process may still take it before the caller
 * binds it, so callers that start servers on it should treat "address already in use" as
 * retryable.
 */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      server.close((error) => {
        if (error) reject(error);
        else if (port === undefined)
          reject(new Error(`could not read the port of a listener on ${host}`));
        else resolve(port);
      });
    });
  });
}
