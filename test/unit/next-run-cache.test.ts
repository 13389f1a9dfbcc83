import { type ScheduleDescription, ScheduleNotFoundError } from '@temporalio/client';
import pino from 'pino';
import { createNextRunCache } from '../../src/services/next-run-cache';

const NEXT = new Date('2027-01-01T09:00:00Z');

/** A describe() that answers when told to, counting calls. */
function fakeSchedules() {
  const calls: string[] = [];
  const waiting: { resolve: (next: Date | null) => void; reject: (error: Error) => void }[] = [];
  return {
    calls,
    answer: (next: Date | null) => waiting.shift()!.resolve(next),
    fail: (error: Error) => waiting.shift()!.reject(error),
    schedules: {
      describe: (taskId: string) => {
        calls.push(taskId);
        return new Promise<ScheduleDescription>((resolve, reject) =>
          waiting.push({
            resolve: (next) => resolve({ info: { nextActionTimes: next ? [next] : [] } } as never),
            reject,
          }),
        );
      },
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('next run cache', () => {
  let clock = Date.parse('2026-11-28T12:00:00Z');
  const now = () => clock;
  const logger = pino({ level: 'silent' });

  it('when many ask for the same task at once, then Temporal is asked once and all get its answer', async () => {
    const fake = fakeSchedules();
    const cache = createNextRunCache({ schedules: fake.schedules, logger, now });
    const answers = Promise.all(Array.from({ length: 32 }, () => cache.get('a')));
    await tick();
    expect(fake.calls).toEqual(['a']);
    fake.answer(NEXT);
    expect(await answers).toEqual(Array(32).fill(NEXT));
    expect(await cache.get('a')).toEqual(NEXT);
    expect(fake.calls).toEqual(['a']);
  });

  it('when a minute has passed, then it is asked again', async () => {
    const fake = fakeSchedules();
    const cache = createNextRunCache({ schedules: fake.schedules, logger, now });
    const first = cache.get('a');
    await tick();
    fake.answer(NEXT);
    await first;
    clock += 61_000;
    const second = cache.get('a');
    await tick();
    expect(fake.calls).toEqual(['a', 'a']);
    fake.answer(null);
    expect(await second).toBeNull();
  });

  it('when the task is written while a describe is in flight, then that older answer is not cached', async () => {
    const fake = fakeSchedules();
    const cache = createNextRunCache({ schedules: fake.schedules, logger, now });
    const before = cache.get('a');
    await tick();
    cache.forget('a');
    const after = cache.get('a');
    await tick();
    expect(fake.calls).toEqual(['a', 'a']);
    fake.answer(NEXT); // the describe from before the write
    expect(await before).toEqual(NEXT);
    fake.answer(null); // the describe after the write: the schedule is paused now
    expect(await after).toBeNull();
    expect(await cache.get('a')).toBeNull();
    expect(fake.calls).toHaveLength(2);
  });

  it('when Temporal cannot answer, then null, nothing is cached, and the next call asks again', async () => {
    const fake = fakeSchedules();
    const cache = createNextRunCache({ schedules: fake.schedules, logger, now });
    const missing = cache.get('gone');
    await tick();
    fake.fail(new ScheduleNotFoundError('no such schedule', 'task-gone'));
    expect(await missing).toBeNull();
    const down = cache.get('gone');
    await tick();
    fake.fail(new Error('unavailable'));
    expect(await down).toBeNull();
    expect(fake.calls).toEqual(['gone', 'gone']);
  });
});
