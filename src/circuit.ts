import type { Logger } from './logger';

/**
 * Fail-fast access to a dependency (PostgreSQL, Temporal), SPEC §5: a dependency that is down is
 * found out within about a second and then answered for at once, never waited on by every caller.
 */

export type ProbeStatus = 'up' | 'down';

export interface SharedProbe {
  /**
   * 'up' or 'down'. A result younger than `reuseMs` is reused; otherwise one check is made, shared
   * by every caller who asks while it runs. A check that has not answered within `timeoutMs` is
   * 'down'; while it still hangs, no second check is started (a frozen database must not collect
   * one stuck probe per caller), and callers hear 'down' at once.
   */
  status(): Promise<ProbeStatus>;
}

export function createSharedProbe(
  check: () => Promise<unknown>,
  options: { timeoutMs: number; reuseMs: number; abandonAfterMs?: number },
): SharedProbe {
  // A check that hangs this long is given up on: the next caller starts a new one (a connection
  // the network black-holed may never answer, and must not keep the dependency "down" forever).
  const abandonAfterMs = options.abandonAfterMs ?? Math.max(10 * options.timeoutMs, 10_000);
  let last: { status: ProbeStatus; at: number } | undefined;
  let asking: Promise<ProbeStatus> | undefined;
  let running: { settled: Promise<boolean>; since: number } | undefined;

  function startCheck(): { settled: Promise<boolean>; since: number } {
    if (running && Date.now() - running.since < abandonAfterMs) return running;
    const settled = Promise.resolve()
      .then(check)
      .then(
        () => true,
        () => false,
      );
    const entry = { settled, since: Date.now() };
    running = entry;
    void settled.then(() => {
      if (running === entry) running = undefined;
    });
    return entry;
  }

  async function ask(): Promise<ProbeStatus> {
    const check = startCheck();
    const left = options.timeoutMs - (Date.now() - check.since);
    const up = left > 0 && (await within(check.settled, left, false));
    const status: ProbeStatus = up ? 'up' : 'down';
    last = { status, at: Date.now() };
    return status;
  }

  return {
    status() {
      if (last && Date.now() - last.at < options.reuseMs) return Promise.resolve(last.status);
      asking ??= ask().finally(() => {
        asking = undefined;
      });
      return asking;
    },
  };
}

/** `promise`'s value, or `fallback` once `ms` have passed without one. */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export interface Circuit {
  /** True while the dependency is known down; then, at most once a second, probes it again. */
  isOpen(): boolean;
  /**
   * Runs `work` (a call to the dependency) unless the dependency is known down, in which case it
   * fails with the `unavailable` error: at once while the last probe's 'down' is younger than
   * suspectAfterMs, otherwise after one fresh probe (shared by every caller) says it still is,
   * within probeTimeoutMs. While `work` is slow the dependency is probed; if the probe finds it
   * down, `work` is given up on: the call rejects with `unavailable` and `signal` is aborted, so
   * that work which resumes later can stop before it changes anything.
   */
  run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export interface CircuitOptions {
  /** The dependency's name in logs: 'database', 'temporal'. */
  name: string;
  /** A cheap call that succeeds while the dependency serves (`select 1`, GetSystemInfo). */
  probe: () => Promise<unknown>;
  /** Errors of `work` that mean the dependency may be down (the probe then decides). */
  isOutage: (error: unknown) => boolean;
  /** The error a call fails with while the dependency is down. */
  unavailable: () => Error;
  /** A call slower than this makes the circuit probe the dependency (then again at this pace). */
  suspectAfterMs?: number;
  /** A probe not answered within this is "down". */
  probeTimeoutMs?: number;
  /** While open, how often isOpen() may start a probe to see if it is back. */
  retryEveryMs?: number;
  logger?: Logger;
}

/**
 * The time from a dependency dying under a call to that call failing is about
 * suspectAfterMs + probeTimeoutMs (at most one suspectAfterMs more); afterwards calls fail at once.
 */
export const CIRCUIT_DEFAULTS = { suspectAfterMs: 200, probeTimeoutMs: 700, retryEveryMs: 1_000 };

export function createCircuit(options: CircuitOptions): Circuit {
  const { suspectAfterMs, probeTimeoutMs, retryEveryMs } = { ...CIRCUIT_DEFAULTS, ...options };
  // Many slow calls share one probe at a time, and one result for suspectAfterMs.
  const probe = createSharedProbe(options.probe, {
    timeoutMs: probeTimeoutMs,
    reuseMs: suspectAfterMs,
  });
  let openedAt: number | undefined;
  let lastProbeAt = 0;
  const inFlight = new Set<() => void>();

  function open(): void {
    if (openedAt === undefined) {
      openedAt = Date.now();
      options.logger?.warn(
        { dependency: options.name },
        `${options.name} is unreachable: failing fast until it answers again`,
      );
    }
    for (const giveUp of [...inFlight]) giveUp();
  }

  function close(): void {
    if (openedAt === undefined) return;
    options.logger?.info(
      { dependency: options.name, downForMs: Date.now() - openedAt },
      `${options.name} answers again`,
    );
    openedAt = undefined;
  }

  async function verify(): Promise<void> {
    lastProbeAt = Date.now();
    if ((await probe.status()) === 'up') close();
    else open();
  }

  function isOpen(): boolean {
    if (openedAt === undefined) return false;
    if (Date.now() - lastProbeAt >= retryEveryMs) void verify();
    return true;
  }

  function attempt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      const suspicion = setInterval(() => void verify(), suspectAfterMs);
      const done = () => {
        clearInterval(suspicion);
        inFlight.delete(giveUp);
      };
      const giveUp = () => {
        done();
        controller.abort();
        reject(options.unavailable());
      };
      inFlight.add(giveUp);
      Promise.resolve()
        .then(() => work(controller.signal))
        .then(
          (value) => {
            done();
            resolve(value);
          },
          (error: unknown) => {
            done();
            if (options.isOutage(error)) void verify();
            reject(error);
          },
        );
    });
  }

  return {
    isOpen,
    run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
      if (openedAt === undefined) return attempt(work);
      // Open: the circuit only learns that the dependency is back from a probe, and nothing probes
      // while no call comes. Refusing on the old verdict answered 503 to the first reads long
      // after PostgreSQL was back (2026-12-07); a fresh probe costs milliseconds when it is back
      // and at most probeTimeoutMs when it is not.
      return verify().then(() =>
        openedAt === undefined ? attempt(work) : Promise.reject(options.unavailable()),
      );
    },
  };
}
