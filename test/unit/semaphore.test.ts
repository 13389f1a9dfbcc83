import { createSemaphore } from '../../src/concurrency';

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createSemaphore', () => {
  it('when more calls arrive than it has slots, then at most that many run at once, and the others start in the order they came as slots free up', async () => {
    const semaphore = createSemaphore(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const calls = gates.map((g, i) =>
      semaphore.run(async () => {
        started.push(i);
        await g.opened;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);

    gates[1]!.open();
    await tick();
    expect(started).toEqual([0, 1, 2]);

    gates[0]!.open();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);

    gates[2]!.open();
    gates[3]!.open();
    await expect(Promise.all(calls)).resolves.toEqual([0, 1, 2, 3]);
  });

  it('when a call throws, then its slot is freed for the next one', async () => {
    const semaphore = createSemaphore(1);
    const failing = semaphore.run(async () => {
      throw new Error('boom');
    });
    const next = semaphore.run(async () => 'next');

    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('when a waiting call is aborted, then it rejects with the reason, leaves the queue and never runs, and the one behind it takes the slot', async () => {
    const semaphore = createSemaphore(1);
    const holder = gate();
    const first = semaphore.run(() => holder.opened);
    const controller = new AbortController();
    let abortedRan = false;
    const aborted = semaphore.run(async () => {
      abortedRan = true;
    }, controller.signal);
    const third = semaphore.run(async () => 'third');

    controller.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    holder.open();
    await first;

    await expect(third).resolves.toBe('third');
    expect(abortedRan).toBe(false);
  });

  it('when the signal is aborted already, then the call rejects without waiting or running', async () => {
    const semaphore = createSemaphore(1);
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    const fn = jest.fn(async () => 'ran');

    await expect(semaphore.run(fn, controller.signal)).rejects.toThrow('too late');
    expect(fn).not.toHaveBeenCalled();
    await expect(semaphore.run(async () => 'free')).resolves.toBe('free');
  });

  it('when the limit is not a positive integer, then it is refused', () => {
    expect(() => createSemaphore(0)).toThrow(RangeError);
    expect(() => createSemaphore(1.5)).toThrow(RangeError);
  });
});
