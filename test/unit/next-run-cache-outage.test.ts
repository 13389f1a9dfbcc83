import type { ScheduleDescription } from '@temporalio/client';
import pino from 'pino';
import { createNextRunCache } from '../../src/services/next-run-cache';

const logger = pino({ level: 'silent' });
const describedAs = (next: Date | null) =>
  ({ info: { nextActionTimes: next ? [next] : [] } }) as unknown as ScheduleDescription;

describe('next run cache while Temporal is slow or down', () => {
  const START = Date.parse('2026-11-28T12:00:00Z');
  const NEXT = new Date(START + 5 * 60_000);
  let clock = START;
  const now = () => clock;
  beforeEach(() => {
    clock = START;
  });

  it('when Temporal is known down, then a read answers at once from what is known, without a describe', async () => {
    let available = true;
    const describe = jest.fn(async () => describedAs(NEXT));
    const cache = createNextRunCache({
      schedules: { describe },
      logger,
      now,
      temporalAvailable: () => available,
    });
    expect(await cache.get('a')).toEqual(NEXT);
    clock += 61_000; // the cached answer is due for a re-read, but its run is still ahead

    available = false;
    expect(await cache.get('a', { waitMs: 250 })).toEqual(NEXT);
    expect(await cache.get('never-seen', { waitMs: 250 })).toBeNull();
    expect(describe).toHaveBeenCalledTimes(1);

    clock += 5 * 60_000; // that run has happened: what was known is no longer the next run
    expect(await cache.get('a', { waitMs: 250 })).toBeNull();
  });

  it('when a describe hangs, then a read waits only its waitMs, and the late answer serves the next read', async () => {
    let answer: (description: ScheduleDescription) => void = () => undefined;
    const describe = jest.fn(
      () => new Promise<ScheduleDescription>((resolve) => (answer = resolve)),
    );
    const cache = createNextRunCache({ schedules: { describe }, logger, now });

    const started = Date.now();
    expect(await cache.get('b', { waitMs: 50 })).toBeNull();
    expect(Date.now() - started).toBeLessThan(500);

    answer(describedAs(NEXT));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await cache.get('b', { waitMs: 50 })).toEqual(NEXT);
    expect(describe).toHaveBeenCalledTimes(1);
  });

  it('when a describe fails, then what is known is answered rather than null', async () => {
    const describe = jest
      .fn<Promise<ScheduleDescription>, [string]>()
      .mockResolvedValueOnce(describedAs(NEXT))
      .mockRejectedValueOnce(Object.assign(new Error('14 UNAVAILABLE'), { code: 14 }));
    const cache = createNextRunCache({ schedules: { describe }, logger, now });
    expect(await cache.get('c')).toEqual(NEXT);
    clock += 61_000;
    expect(await cache.get('c', { waitMs: 250 })).toEqual(NEXT);
  });
});
