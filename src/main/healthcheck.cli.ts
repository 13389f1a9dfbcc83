import { ConfigError, loadConfig } from '../config';

/**
 * The image's HEALTHCHECK (`node dist/src/main/healthcheck.cli.js`): exits 0 when this container's
 * process answers /health with 200: the API's (PostgreSQL and Temporal reachable) for ROLE=api
 * and ROLE=all, the worker's own endpoint (polling its task queue) for ROLE=worker.
 */
async function run(): Promise<number> {
  const config = loadConfig(process.env);
  const port = config.role === 'worker' ? config.metricsPort : config.port;
  const url = `http://127.0.0.1:${port}/health`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const body = await response.text();
    console.log(`${url} ${response.status} ${body.slice(0, 200)}`);
    return response.status === 200 ? 0 : 1;
  } catch (error) {
    console.log(`${url} unreachable: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

run().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.log(error instanceof ConfigError ? error.message : String(error));
    process.exit(1);
  },
);
