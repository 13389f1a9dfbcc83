import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { ROOT } from './process';
import { descendantsOf } from './product';

/**
 * `npm start` (tsx src/main/start.ts) as the leader of its own process group, the way a terminal
 * runs it: a Ctrl-C there is a SIGINT to every process of the group, the embedded PostgreSQL and
 * Temporal dev server included. Every descendant seen while it runs is remembered, so that a test
 * can check that none outlives it.
 */
export interface GroupProcess {
  readonly child: ChildProcess;
  /** Settles with the exit code (null when a signal ended it) once the process has exited. */
  readonly exited: Promise<number | null>;
  output(): string;
  /** PIDs (with command lines) of every descendant seen so far. */
  seen(): Map<number, string>;
  /** Sends `signal` to the whole process group, as a terminal's Ctrl-C does. */
  signalGroup(signal: NodeJS.Signals): void;
  /** Resolves once the output matches `pattern`; rejects when the process exits first or on timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGKILL to the group (cleanup after a failed test). */
  killGroup(): void;
}

export function startInOwnGroup(env: NodeJS.ProcessEnv): GroupProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/start.ts'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const seen = new Map<number, string>();
  const record = () => {
    if (!child.pid) return;
    for (const { pid, args } of descendantsOf(child.pid)) if (!seen.has(pid)) seen.set(pid, args);
  };
  const watcher = setInterval(record, 100);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearInterval(watcher);
      resolve(code);
    }),
  );

  return {
    child,
    exited,
    output: () => out,
    seen: () => {
      if (child.exitCode === null && child.signalCode === null) record();
      return seen;
    },
    signalGroup(signal) {
      record();
      process.kill(-child.pid!, signal);
    },
    async waitForOutput(pattern, timeoutMs = 150_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${out}`,
          );
        }
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${out}`);
        record();
        await new Promise((r) => setTimeout(r, 50));
      }
      record();
    },
    killGroup() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      for (const pid of seen.keys()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

/**
 * Those of `pids` still running after up to 5 s (zombies awaiting a reaper count as gone), with
 * their command lines.
 */
export async function survivors(pids: Iterable<number>): Promise<string[]> {
  const list = [...pids];
  const deadline = Date.now() + 5_000;
  for (;;) {
    const alive = list.flatMap((pid) => {
      try {
        const line = execFileSync('ps', ['-o', 'stat=,args=', '-p', String(pid)], {
          encoding: 'utf8',
        }).trim();
        return line && !line.startsWith('Z') ? [`${pid} ${line}`] : [];
      } catch {
        return [];
      }
    });
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 200));
  }
}
