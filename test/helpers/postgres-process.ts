import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * A PostgreSQL of the test's own, outside the product (as `DATABASE_URL` in production), run by
 * a child process because Jest's module sandbox cannot load the ESM-only binaries package. The
 * child prints `ready <pid> <url>`, and stops the server on SIGTERM.
 */
export interface PostgresProcess {
  readonly databaseUrl: string;
  /** PID of the postmaster. */
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startPostgresProcess(options: {
  dataDir: string;
  port: number;
  database: string;
}): Promise<PostgresProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, 'postgres-process.main.ts'),
      options.dataDir,
      String(options.port),
      options.database,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ pid: number; databaseUrl: string }>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /^ready (\d+) (\S+)$/m.exec(output);
      if (match) resolve({ pid: Number(match[1]), databaseUrl: match[2] as string });
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`PostgreSQL helper exited ${code}:\n${output}`)));
  });
  return {
    ...ready,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
