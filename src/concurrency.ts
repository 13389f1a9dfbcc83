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
