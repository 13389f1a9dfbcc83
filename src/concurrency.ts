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
