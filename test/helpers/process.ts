import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

export interface StartedProcess {
  child: ChildProcess;
  /** Settles with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
}

/**
 * Starts an entry point of ours as its own process (`node <args>` in the project root) and waits
 * for the start-up banner's last line, as a user or a process manager would see it.
 */
export async function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  readyTimeoutMs = 90_000,
): Promise<StartedProcess> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const name = args.join(' ');
  const deadline = Date.now() + readyTimeoutMs;
  while (!out.includes('Press Ctrl-C to stop.')) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, exited, output: () => out };
}

/** `npm start` (tsx src/main/start.ts) with the given environment. */
export const startFromSources = (env: NodeJS.ProcessEnv, readyTimeoutMs?: number) =>
  startProcess(['--import', 'tsx', 'src/main/start.ts'], env, readyTimeoutMs);

/** A logger for bundleWorkflowCode that prints nothing. */
export const silentLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** True when something accepts a TCP connection on 127.0.0.1:port. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
