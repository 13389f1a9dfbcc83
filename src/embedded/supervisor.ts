import type { Logger } from '../logger';

/** How a child process ended: an exit code, or the signal that ended it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running embedded service (PostgreSQL, the Temporal dev server) as the supervisor sees it. */
export interface ServiceProcess {
  readonly pid: number;
  /** Settles once the process has exited, however that came about. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  /** The orderly stop; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
  /** Ends the process at once (synchronous, for a last-resort exit). */
  kill(): void;
}

/**
 * The waits before each restart of a service that died: a few tries, each wait twice the one
 * before. When they are used up the service is given up and the process exits (SPEC §2).
 */
export const RESTART_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 16_000];

/**
 * A service that has run this long since its last (re)start has recovered: its next death starts
 * from the first delay again. One that dies sooner is crash-looping, and keeps climbing the list.
 */
export const STABLE_AFTER_MS = 60_000;

/** The wait before restart number `attempt` (0 for the first), or undefined: give up. */
export function restartDelay(
  attempt: number,
  delays: readonly number[] = RESTART_DELAYS_MS,
): number | undefined {
  return delays[attempt];
}

/**
 * Restarts already spent when a service dies after `uptimeMs`: those of the current crash loop,
 * or none when it had been up long enough to count as recovered.
 */
export function attemptsSpentAtDeath(
  spent: number,
  uptimeMs: number,
  stableAfterMs: number = STABLE_AFTER_MS,
): number {
  return uptimeMs >= stableAfterMs ? 0 : spent;
}

/** "signal SIGKILL", "exit code 1". */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}

export interface SupervisedService<T extends ServiceProcess> {
  readonly name: string;
  /** The running process; undefined while it is being restarted or after it was given up. */
  current(): T | undefined;
  /**
   * A stop was requested: from now on an exit is expected, not a death, and nothing is restarted.
   * Synchronous, so that a signal handler can call it before the children's exits are seen (a
   * terminal's Ctrl-C reaches the children too).
   */
  markStopping(): void;
  /** Stops the service (and any restart under way) for good. Idempotent. */
  stop(): Promise<void>;
  /** Kills the running process at once; for an exit that cannot wait. */
  kill(): void;
}

export interface SuperviseOptions<T extends ServiceProcess> {
  /** Shown in the log lines: "embedded PostgreSQL", "embedded Temporal dev server". */
  name: string;
  /** The process started before supervision. */
  first: T;
  /** Starts the service again: same port, same data. */
  restart: () => Promise<T>;
  logger: Logger;
  /** Called once, when the service cannot be brought back; `reason` says why in one line. */
  onGiveUp: (reason: string) => void;
  /** Called after each successful restart. */
  onRestarted?: (service: T) => void;
  delays?: readonly number[];
  stableAfterMs?: number;
  /** Clock and timer, replaceable in tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Watches a child process: when it dies without being asked to, logs that at error level (which
 * service, its pid, its exit code or signal), starts it again after RESTART_DELAYS_MS-style
 * backoff, and gives up (onGiveUp) once the delays are used up.
 */
export function supervise<T extends ServiceProcess>(
  options: SuperviseOptions<T>,
): SupervisedService<T> {
  const { name, logger } = options;
  const delays = options.delays ?? RESTART_DELAYS_MS;
  const stableAfterMs = options.stableAfterMs ?? STABLE_AFTER_MS;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const stopRequested = new AbortController();
  let current: T | undefined = options.first;
  let restarting: Promise<void> | undefined;
  let spent = 0;

  const watch = (service: T, startedAt: number) => {
    void service.exited.then((status) => {
      if (stopRequested.signal.aborted || service !== current) return;
      current = undefined;
      const uptimeMs = now() - startedAt;
      spent = attemptsSpentAtDeath(spent, uptimeMs, stableAfterMs);
      logger.error(
        {
          service: name,
          childPid: service.pid,
          exitCode: status.code,
          signal: status.signal,
          uptimeMs,
        },
        `${name} (pid ${service.pid}) died with ${describeExit(status)}; restarting it`,
      );
      restarting = restartLoop(`died with ${describeExit(status)}`).finally(() => {
        restarting = undefined;
      });
    });
  };

  const restartLoop = async (death: string): Promise<void> => {
    let lastError: string | undefined;
    for (;;) {
      const delayMs = restartDelay(spent, delays);
      if (delayMs === undefined) {
        const tries = delays.length;
        const reason =
          `${name} ${death} and could not be restarted` +
          (lastError
            ? ` (${tries} tries; last error: ${firstLine(lastError)})`
            : ` (it kept dying; ${tries} restarts)`);
        logger.fatal({ service: name }, reason);
        options.onGiveUp(reason);
        return;
      }
      spent += 1;
      logger.info(
        { service: name, attempt: spent, delayMs },
        `restarting ${name} in ${delayMs} ms`,
      );
      await sleep(delayMs, stopRequested.signal);
      if (stopRequested.signal.aborted) return;
      const began = now();
      let service: T;
      try {
        service = await options.restart();
      } catch (error) {
        if (stopRequested.signal.aborted) return;
        lastError = error instanceof Error ? error.message : String(error);
        logger.error(
          { service: name, attempt: spent, err: error },
          `${name} could not be restarted`,
        );
        continue;
      }
      if (stopRequested.signal.aborted) {
        await service.stop();
        return;
      }
      current = service;
      logger.info(
        { service: name, childPid: service.pid, attempt: spent, tookMs: now() - began },
        `${name} restarted (pid ${service.pid})`,
      );
      watch(service, now());
      options.onRestarted?.(service);
      return;
    }
  };

  watch(options.first, now());

  let stopping: Promise<void> | undefined;
  return {
    name,
    current: () => current,
    markStopping: () => stopRequested.abort(),
    stop() {
      stopRequested.abort();
      return (stopping ??= (async () => {
        await restarting;
        await current?.stop();
      })());
    },
    kill() {
      stopRequested.abort();
      current?.kill();
    },
  };
}

/** The first line of an error; with the next one when the first only introduces it ("…:"). */
function firstLine(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const [first = text, second] = lines;
  return first.endsWith(':') && second ? `${first} ${second.trim()}` : first;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
