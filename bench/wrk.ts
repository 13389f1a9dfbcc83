/**
 * The same load as autocannon's, by wrk (`wrk -t2 -c32 -d<s>s --latency`), the client the issue
 * measured with: a second opinion on a tail, from a client written in C whose own CPU per request
 * is a fraction of autocannon's. Where wrk is not installed (`apt-get install wrk`), undefined.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkFigures {
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** Non-2xx/3xx answers, socket errors and timeouts. */
  failed_requests: number;
}

let available: boolean | undefined;

export function wrkAvailable(): boolean {
  available ??= spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
  return available;
}

export async function wrk(options: {
  url: string;
  headers: Record<string, string>;
  seconds: number;
  connections?: number;
  threads?: number;
}): Promise<WrkFigures | undefined> {
  if (!wrkAvailable()) return undefined;
  const args = [
    `-t${options.threads ?? 2}`,
    `-c${options.connections ?? 32}`,
    `-d${options.seconds}s`,
    '--latency',
    ...Object.entries(options.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    options.url,
  ];
  const { stdout } = await run('wrk', args, { timeout: (options.seconds + 60) * 1_000 });
  return parseWrk(stdout);
}

/** The figures of wrk's `--latency` report. */
export function parseWrk(text: string): WrkFigures {
  const latency = (pct: string) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
    if (!m) throw new Error(`wrk printed no ${pct}% latency:\n${text}`);
    const value = Number(m[1]);
    return m[2] === 'us' ? value / 1_000 : m[2] === 's' ? value * 1_000 : value;
  };
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${text}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    req_per_s: Math.round(Number(rps[1])),
    p50_ms: Math.round(latency('50') * 10) / 10,
    p99_ms: Math.round(latency('99') * 10) / 10,
    failed_requests: non2xx + socketErrors,
  };
}
