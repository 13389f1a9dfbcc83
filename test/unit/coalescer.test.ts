import { createCoalescer } from '../../src/concurrency';

/** A read whose answer the test gives, recording when it started. */
function controlledReads() {
  const started: { n: number; resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
  const read = () =>
    new Promise<string>((resolve, reject) => {
      started.push({ n: started.length + 1, resolve, reject });
    });
  return { started, read };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createCoalescer', () => {
  it('when calls come one after the other, then each has a read of its own', async () => {
    const shared = createCoalescer<number>();
    let reads = 0;
    for (let i = 1; i <= 3; i++) {
      await expect(shared('k', async () => ++reads)).resolves.toBe(i);
    }
    expect(reads).toBe(3);
  });

  it('when calls come while a read runs, then they share the next read, which starts after it', async () => {
    const shared = createCoalescer<string>();
    const { started, read } = controlledReads();
    const first = shared('k', read);
    const later = [shared('k', read), shared('k', read), shared('k', read)];
    await tick();
    expect(started).toHaveLength(1); // the next round waits for the running one
    started[0]!.resolve('one');
    await expect(first).resolves.toBe('one');
    await tick();
    expect(started).toHaveLength(2);
    const third = shared('k', read); // came during the second round: waits for a third
    started[1]!.resolve('two');
    await expect(Promise.all(later)).resolves.toEqual(['two', 'two', 'two']);
    await tick();
    expect(started).toHaveLength(3);
    started[2]!.resolve('three');
    await expect(third).resolves.toBe('three');
  });

  it('when a read fails, then only its callers fail and the waiting ones get the next read', async () => {
    const shared = createCoalescer<string>();
    const { started, read } = controlledReads();
    const first = shared('k', read);
    const waiting = shared('k', read);
    started[0]!.reject(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    await tick();
    started[1]!.resolve('back');
    await expect(waiting).resolves.toBe('back');
    await tick();
    // Nothing runs now: the next call starts at once.
    const fresh = shared('k', read);
    expect(started).toHaveLength(3);
    started[2]!.resolve('fresh');
    await expect(fresh).resolves.toBe('fresh');
  });

  it('when keys differ, then their reads are not shared', async () => {
    const shared = createCoalescer<string>();
    const { started, read } = controlledReads();
    const a = shared('24', read);
    const b = shared('168', read);
    expect(started).toHaveLength(2);
    started[0]!.resolve('a');
    started[1]!.resolve('b');
    await expect(Promise.all([a, b])).resolves.toEqual(['a', 'b']);
  });

  it('when a read throws before returning a promise, then its call rejects', async () => {
    const shared = createCoalescer<string>();
    await expect(
      shared('k', () => {
        throw new Error('bad query');
      }),
    ).rejects.toThrow('bad query');
    await expect(shared('k', async () => 'ok')).resolves.toBe('ok');
  });
});
