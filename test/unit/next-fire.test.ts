import { ScheduleError } from '../../src/schedule/cron';
import { compileFireTimes, nextFireTimes } from '../../src/schedule/next-fire';

/**
 * Pure cases of the fire-time calculator, each expectation worked out by hand from the cron's
 * meaning or, around daylight-saving changes, from Temporal's calendar.go. That they are what
 * Temporal really fires is test/integration/next-fire.test.ts's job.
 */

const iso = (times: readonly Date[]): string[] => times.map((time) => time.toISOString());
const next = (schedule: string, timezone: string, after: string, count: number): string[] =>
  iso(nextFireTimes(schedule, timezone, new Date(after), count));

describe('cron schedules', () => {
  it('when a task runs every minute, then it fires at the start of each following minute', () => {
    expect(next('* * * * *', 'UTC', '2027-01-01T00:00:30Z', 3)).toEqual([
      '2027-01-01T00:01:00.000Z',
      '2027-01-01T00:02:00.000Z',
      '2027-01-01T00:03:00.000Z',
    ]);
  });

  it('when asked from a fire time itself, then the next run is the following one', () => {
    expect(next('*/15 * * * *', 'UTC', '2027-01-01T00:15:00Z', 2)).toEqual([
      '2027-01-01T00:30:00.000Z',
      '2027-01-01T00:45:00.000Z',
    ]);
  });

  it('when a step starts at an offset, then it fires at the offset plus multiples of the step', () => {
    expect(next('5-59/15 * * * *', 'UTC', '2027-01-01T00:00:00Z', 5)).toEqual([
      '2027-01-01T00:05:00.000Z',
      '2027-01-01T00:20:00.000Z',
      '2027-01-01T00:35:00.000Z',
      '2027-01-01T00:50:00.000Z',
      '2027-01-01T01:05:00.000Z',
    ]);
  });

  it('when both day-of-month and day-of-week are restricted, then either one fires the task', () => {
    // April 2027: the 1st and 15th are Thursdays; the Mondays are the 5th, 12th, 19th, 26th.
    expect(next('0 9 1,15 * MON', 'UTC', '2027-03-31T12:00:00Z', 6)).toEqual([
      '2027-04-01T09:00:00.000Z',
      '2027-04-05T09:00:00.000Z',
      '2027-04-12T09:00:00.000Z',
      '2027-04-15T09:00:00.000Z',
      '2027-04-19T09:00:00.000Z',
      '2027-04-26T09:00:00.000Z',
    ]);
  });

  it('when a task runs on 29 February, then it fires in leap years only', () => {
    expect(next('0 0 29 2 *', 'UTC', '2027-01-01T00:00:00Z', 3)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
      '2036-02-29T00:00:00.000Z',
    ]);
  });

  it('when a task runs on the 31st, then months without one are skipped', () => {
    expect(next('0 0 31 * *', 'UTC', '2027-01-01T00:00:00Z', 5)).toEqual([
      '2027-01-31T00:00:00.000Z',
      '2027-03-31T00:00:00.000Z',
      '2027-05-31T00:00:00.000Z',
      '2027-07-31T00:00:00.000Z',
      '2027-08-31T00:00:00.000Z',
    ]);
  });

  it('when a day never occurs in its month, then the task has no next run', () => {
    expect(next('0 0 31 2 *', 'UTC', '2027-01-01T00:00:00Z', 3)).toEqual([]);
  });

  it('when a task runs in Kathmandu, then its wall-clock time is read at +05:45', () => {
    expect(next('0 9 * * *', 'Asia/Kathmandu', '2027-01-01T00:00:00Z', 2)).toEqual([
      '2027-01-01T03:15:00.000Z',
      '2027-01-02T03:15:00.000Z',
    ]);
  });

  it('when a macro is used, then it fires as its five fields would', () => {
    expect(next('@weekly', 'UTC', '2027-01-01T00:00:00Z', 2)).toEqual(
      next('0 0 * * 0', 'UTC', '2027-01-01T00:00:00Z', 2),
    );
    expect(next('@yearly', 'Europe/Berlin', '2027-01-01T00:00:00Z', 2)).toEqual([
      '2027-12-31T23:00:00.000Z',
      '2028-12-31T23:00:00.000Z',
    ]);
  });

  it('when the year 2100 is over, then Temporal fires no more and neither does the calculator', () => {
    expect(next('@yearly', 'UTC', '2099-06-01T00:00:00Z', 3)).toEqual(['2100-01-01T00:00:00.000Z']);
  });
});

describe('@every intervals', () => {
  it('when a task runs @every 90s, then it fires on multiples of 90 s since the Unix epoch', () => {
    const times = nextFireTimes('@every 90s', 'UTC', new Date('2027-01-01T00:00:10Z'), 3);
    // 2027-01-01T00:00:00Z is 1798761600 s after the epoch, a multiple of 90.
    expect(iso(times)).toEqual([
      '2027-01-01T00:01:30.000Z',
      '2027-01-01T00:03:00.000Z',
      '2027-01-01T00:04:30.000Z',
    ]);
  });

  it('when a task runs @every 1d in any time zone, then it fires at midnight UTC', () => {
    expect(next('@every 1d', 'Australia/Lord_Howe', '2027-01-01T10:00:00Z', 2)).toEqual([
      '2027-01-02T00:00:00.000Z',
      '2027-01-03T00:00:00.000Z',
    ]);
  });

  it('when an interval has an offset, then it fires that long after each multiple', () => {
    const calculator = compileFireTimes({ intervals: [{ every: '1h', offset: '15m' }] });
    expect(iso(calculator.take(new Date('2027-01-01T00:20:00Z'), 2))).toEqual([
      '2027-01-01T01:15:00.000Z',
      '2027-01-01T02:15:00.000Z',
    ]);
  });
});

describe("daylight-saving changes, as Temporal's calendar.go handles them", () => {
  it('when 02:30 does not exist in New York (2027-03-14), then that day has no run', () => {
    expect(next('30 2 * * *', 'America/New_York', '2027-03-13T12:00:00Z', 2)).toEqual([
      '2027-03-15T06:30:00.000Z',
      '2027-03-16T06:30:00.000Z',
    ]);
  });

  it('when 01:30 happens twice in New York (2027-11-07), then both copies fire', () => {
    expect(next('30 1 * * *', 'America/New_York', '2027-11-06T12:00:00Z', 3)).toEqual([
      '2027-11-07T05:30:00.000Z',
      '2027-11-07T06:30:00.000Z',
      '2027-11-08T06:30:00.000Z',
    ]);
  });

  it('when 02:00-02:59 happens twice in Berlin (2027-10-31), then only some half hours fire', () => {
    // Go's time.Date resolves an ambiguous time east of Greenwich to its second copy, so after
    // 02:00 CEST (00:00Z) the search lands on 02:30 CET (01:30Z): 02:30 CEST and 02:00 CET do
    // not fire. Temporal really does this (test/integration/next-fire.test.ts).
    expect(next('*/30 * * * *', 'Europe/Berlin', '2027-10-30T22:45:00Z', 5)).toEqual([
      '2027-10-30T23:00:00.000Z',
      '2027-10-30T23:30:00.000Z',
      '2027-10-31T00:00:00.000Z',
      '2027-10-31T01:30:00.000Z',
      '2027-10-31T02:00:00.000Z',
    ]);
  });

  it('when Lord Howe skips 02:00-02:29 (2027-10-03), then 02:15 does not fire that night', () => {
    // 01:45 is +10:30 (15:15Z); at 02:00 the clocks go to 02:30 +11.
    expect(next('*/15 1-2 * * *', 'Australia/Lord_Howe', '2027-10-02T15:00:00Z', 4)).toEqual([
      '2027-10-02T15:15:00.000Z',
      '2027-10-02T15:30:00.000Z',
      '2027-10-02T15:45:00.000Z',
      '2027-10-03T14:00:00.000Z',
    ]);
  });
});

describe('the compiled calculator', () => {
  const hourly = { calendars: [{ minute: 0, hour: '*' as const }] };

  it('when listing a window, then it gives the times after its start up to and including its end', () => {
    const calculator = compileFireTimes(hourly);
    expect(
      iso(calculator.between(new Date('2027-01-01T01:00:00Z'), new Date('2027-01-01T03:00:00Z'))),
    ).toEqual(['2027-01-01T02:00:00.000Z', '2027-01-01T03:00:00.000Z']);
    expect(
      calculator.between(new Date('2027-01-01T00:00:00Z'), new Date('2027-01-02T00:00:00Z'), 5),
    ).toHaveLength(5);
  });

  it('when the spec has skip, startAt and endAt, then only the times they allow fire', () => {
    const calculator = compileFireTimes({
      ...hourly,
      skip: [{ hour: 6, minute: '*' }],
      startAt: new Date('2027-01-01T05:00:00Z'),
      endAt: new Date('2027-01-01T08:00:00Z'),
    });
    expect(iso(calculator.take(new Date('2027-01-01T00:00:00Z'), 10))).toEqual([
      '2027-01-01T05:00:00.000Z',
      '2027-01-01T07:00:00.000Z',
      '2027-01-01T08:00:00.000Z',
    ]);
    expect(calculator.next(new Date('2027-01-01T08:00:00Z'))).toBeNull();
  });

  it('when the spec asks for what only the server can compute, then compiling it throws', () => {
    expect(() => compileFireTimes({ ...hourly, jitter: '1m' })).toThrow(/jitter/);
    expect(() => compileFireTimes({ cronExpressions: ['0 * * * *'] })).toThrow(/cronExpressions/);
  });

  it('when the schedule or the time zone is invalid, then the reason comes as a ScheduleError', () => {
    expect(() => nextFireTimes('61 * * * *', 'UTC', new Date(), 1)).toThrow(ScheduleError);
    expect(() => nextFireTimes('* * * * *', 'Mars/Olympus', new Date(), 1)).toThrow(
      expect.objectContaining({ field: 'timezone' }),
    );
  });
});
