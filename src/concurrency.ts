/**
 * Runs `fn` over `items`, at most `limit` at a time, in order of start. Stops starting new items
 * once `stopped()` is true (those in flight finish). `fn` handles its own errors: one that throws
 * rejects the whole call once the others in flight have settled their current item.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  stopped: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !stopped()) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

export interface Semaphore {
  /**
   * Runs `fn` once one of the `limit` slots is free, first come first served. Aborting `signal`
   * while waiting leaves the queue and rejects with the signal's reason; a running `fn` is not
   * interrupted.
   */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

export function createSemaphore(limit: number): Semaphore {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit ${limit} is not >= 1`);
  let running = 0;
  const waiting: (() => void)[] = [];

  function acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (running < limit) {
      running += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        waiting.splice(waiting.indexOf(wake), 1);
        reject(signal!.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        running += 1;
        resolve();
      };
      waiting.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  function release(): void {
    running -= 1;
    waiting.shift()?.();
  }

  return {
    async run(fn, signal) {
      await acquire(signal);
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}

/**
 * Reads by key that callers share, round by round: a call while no read of its key runs starts
 * one; a call while one runs waits for it to end and then shares the next, which every caller
 * that came meanwhile joins. Each answer comes from a read that started after its call arrived,
 * so it reflects every write committed before the call (read your writes), while any number of
 * concurrent callers cost one read per round instead of one each. A failed read fails the calls
 * that shared it, and the next call starts afresh.
 */
export function createCoalescer<T>(): (key: string, read: () => Promise<T>) => Promise<T> {
  /** The read of a key that runs, and the one its latecomers wait for. */
  interface Round {
    running: Promise<T>;
    next?: Promise<T>;
  }
  const rounds = new Map<string, Round>();

  function start(key: string, read: () => Promise<T>): Promise<T> {
    let running: Promise<T>;
    try {
      running = read();
    } catch (error) {
      running = Promise.reject(error);
    }
    const round: Round = { running };
    rounds.set(key, round);
    const finish = () => {
      // Kept while a next round waits on it: that round replaces it when it starts.
      if (rounds.get(key) === round && round.next === undefined) rounds.delete(key);
    };
    running.then(finish, finish);
    return running;
  }

  return (key, read) => {
    const round = rounds.get(key);
    if (!round) return start(key, read);
    return (round.next ??= round.running.then(
      () => start(key, read),
      () => start(key, read),
    ));
  };
}
