import { spawn } from 'node:child_process';
import { ROOT } from './process';

export interface OwnPostgres {
  readonly databaseUrl: string;
  /** PID of the postmaster. */
  readonly pid: number;
  /** Stops PostgreSQL (a fast shutdown) and waits until it is gone. */
  stop(): Promise<void>;
}

/**
 * The embedded PostgreSQL on a data folder and port of the test's choosing, for tests that stop,
 * freeze or restart the database under the API. It runs in a child process: the binaries are an
 * ES module, which Jest's test sandbox cannot import. The child stops it when told (SIGTERM) or
 * when the test process goes away (its stdin closes).
 */
export async function startOwnPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
}): Promise<OwnPostgres> {
  const script = `
    const { startEmbeddedPostgres } = require('./src/embedded/postgres.ts');
    startEmbeddedPostgres(${JSON.stringify(options)}).then((pg) => {
      let stopping;
      const stop = () => (stopping ??= pg.stop().then(() => process.exit(0)));
      process.on('SIGTERM', stop);
      process.stdin.on('end', stop);
      process.stdin.resume();
      process.stdout.write(JSON.stringify({ databaseUrl: pg.databaseUrl, pid: pg.pid }) + '\\n');
    }, (error) => {
      process.stderr.write(String(error && error.stack || error));
      process.exit(1);
    });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const started = await new Promise<{ databaseUrl: string; pid: number }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { databaseUrl: string; pid: number });
    });
    void exited.then(() => reject(new Error(`PostgreSQL did not start:\n${err}`)));
  });
  let stopping: Promise<void> | undefined;
  return {
    ...started,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      })();
      return stopping;
    },
  };
}
