import pino from 'pino';
import { nextFireTimes } from '../../src/schedule/next-fire';
import { createNextRuns } from '../../src/services/next-run';

const task = (
  schedule: string,
  timezone = 'UTC',
  status: 'ACTIVE' | 'INACTIVE' | 'FAILED' = 'ACTIVE',
) => ({
  id: 'a4b5c6d7-0000-4000-8000-000000000000',
  schedule,
  timezone,
  status,
});

describe('nextRunAt computed locally', () => {
  const at = (iso: string) => new Date(iso);

  it("when a task is ACTIVE, then nextRunAt is the calculator's next fire time after now", () => {
    const nextRuns = createNextRuns({ logger: pino({ level: 'silent' }) });
    const now = at('2027-03-13T12:34:56.789Z');
    for (const [schedule, timezone] of [
      ['*/5 * * * *', 'UTC'],
      ['30 2 * * *', 'America/New_York'],
      ['@every 90s', 'UTC'],
      ['0 9 1,15 * MON', 'Europe/Berlin'],
    ] as const) {
      expect(nextRuns.nextRunAt(task(schedule, timezone), now)).toEqual(
        nextFireTimes(schedule, timezone, now, 1)[0],
      );
    }
  });

  it('when a task is INACTIVE or FAILED, then nextRunAt is null (its schedule is paused)', () => {
    const nextRuns = createNextRuns({ logger: pino({ level: 'silent' }) });
    expect(nextRuns.nextRunAt(task('* * * * *', 'UTC', 'INACTIVE'))).toBeNull();
    expect(nextRuns.nextRunAt(task('* * * * *', 'UTC', 'FAILED'))).toBeNull();
  });

  it('when time passes, then the answer moves on exactly as the fire times pass, also backwards in time', () => {
    const nextRuns = createNextRuns({ logger: pino({ level: 'silent' }) });
    const every5 = task('*/5 * * * *');
    expect(nextRuns.nextRunAt(every5, at('2027-01-01T00:00:00.000Z'))).toEqual(
      at('2027-01-01T00:05:00.000Z'),
    );
    expect(nextRuns.nextRunAt(every5, at('2027-01-01T00:04:59.999Z'))).toEqual(
      at('2027-01-01T00:05:00.000Z'),
    );
    // At the fire time itself that run is being started: the next one is the answer.
    expect(nextRuns.nextRunAt(every5, at('2027-01-01T00:05:00.000Z'))).toEqual(
      at('2027-01-01T00:10:00.000Z'),
    );
    expect(nextRuns.nextRunAt(every5, at('2026-12-31T23:58:00.000Z'))).toEqual(
      at('2027-01-01T00:00:00.000Z'),
    );
  });

  it('when a stored schedule can no longer be compiled, then nextRunAt is null and it is logged once', () => {
    const warn = jest.fn();
    const logger = { warn } as unknown as pino.Logger;
    const nextRuns = createNextRuns({ logger });
    expect(nextRuns.nextRunAt(task('@reboot'))).toBeNull();
    expect(nextRuns.nextRunAt(task('@reboot'))).toBeNull();
    expect(nextRuns.nextRunAt(task('0 9 * * *', 'Mars/Olympus_Mons'))).toBeNull();
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('when a schedule never fires again, then nextRunAt is null', () => {
    const nextRuns = createNextRuns({ logger: pino({ level: 'silent' }) });
    expect(nextRuns.nextRunAt(task('0 0 1 1 *'), at('2100-06-01T00:00:00Z'))).toBeNull();
  });
});
