import { atInstant, oneOffInstant, parseAtTime } from '../../src/schedule/at';
import { parseSchedule, toScheduleSpec } from '../../src/schedule/cron';
import { describeSchedule } from '../../src/schedule/describe';
import { compileFireTimes } from '../../src/schedule/next-fire';
import { isLastRun, nextScheduledRun } from '../../src/schedule/runs-ahead';

const instant = (expression: string, timezone: string) =>
  oneOffInstant(expression, timezone)?.toISOString();

describe('@at <date-time> (SPEC §14)', () => {
  it.each([
    ['@at 2026-12-24T18:00', 'UTC', '2026-12-24T18:00:00.000Z'],
    ['@at 2026-12-24T18:00:30', 'UTC', '2026-12-24T18:00:30.000Z'],
    ['@at 2026-12-24T18:00', 'Europe/Berlin', '2026-12-24T17:00:00.000Z'],
    ['@at 2026-07-01T09:15', 'America/New_York', '2026-07-01T13:15:00.000Z'],
    ['@at 2026-12-24T17:00:00Z', 'America/New_York', '2026-12-24T17:00:00.000Z'],
    ['@at 2026-12-24t17:00z', 'Asia/Tokyo', '2026-12-24T17:00:00.000Z'],
    ['@at 2026-12-24T18:00+01:00', 'America/New_York', '2026-12-24T17:00:00.000Z'],
    ['@at 2026-12-24T12:30-0530', 'UTC', '2026-12-24T18:00:00.000Z'],
    ['  @AT   2026-12-24 18:00 ', 'UTC', '2026-12-24T18:00:00.000Z'],
    ['@at 2028-02-29T00:00', 'UTC', '2028-02-29T00:00:00.000Z'],
    // A fraction (as toISOString() writes it) fires at the next whole second, never early.
    ['@at 2026-12-24T17:00:00.000Z', 'UTC', '2026-12-24T17:00:00.000Z'],
    ['@at 2026-12-24T17:00:00.250Z', 'UTC', '2026-12-24T17:00:01.000Z'],
    ['@at 2026-12-24T23:59:59.5', 'UTC', '2026-12-25T00:00:00.000Z'],
  ])('when the schedule is %j in %s, then it fires once at %s', (expression, zone, expected) => {
    expect(parseSchedule(expression).ok).toBe(true);
    expect(instant(expression, zone)).toBe(expected);
  });

  it('when a local time falls in the spring-forward gap (02:30 on 2027-03-14 in New York), then it is moved forward by the gap: 03:30 EDT', () => {
    expect(instant('@at 2027-03-14T02:30', 'America/New_York')).toBe('2027-03-14T07:30:00.000Z');
    // Either side of the gap: the clock as written.
    expect(instant('@at 2027-03-14T01:59', 'America/New_York')).toBe('2027-03-14T06:59:00.000Z');
    expect(instant('@at 2027-03-14T03:00', 'America/New_York')).toBe('2027-03-14T07:00:00.000Z');
  });

  it('when a local time is repeated by the fall-back overlap (01:30 on 2026-11-01 in New York), then it is the first one: 01:30 EDT', () => {
    expect(instant('@at 2026-11-01T01:30', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
    expect(instant('@at 2026-10-25T02:30', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z');
  });

  it.each([
    ['@at', '@at needs a date and time'],
    ['@at tomorrow', 'expected a date and time'],
    ['@at 2026-12-24', 'expected a date and time'],
    ['@at 2026-13-01T00:00', 'no month 13'],
    ['@at 2026-02-29T00:00', 'has no day 29'],
    ['@at 2026-04-31T10:00', 'has no day 31'],
    ['@at 2026-12-24T24:00', 'not a time of day'],
    ['@at 2026-12-24T18:60', 'not a time of day'],
    ['@at 2101-01-01T00:00', 'between 1970 and 2100'],
    ['@at 2026-12-24T18:00+19:00', 'at most ±18:00'],
    ['@at 2026-12-24T18:00 Europe/Paris', 'expected a date and time'],
    ['@at 1766599200', 'expected a date and time'],
  ])('when the schedule is %j, then it is rejected saying %j', (expression, reason) => {
    const parsed = parseSchedule(expression);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });

  it('when it becomes a ScheduleSpec, then it is one calendar of the instant in UTC, year included, that fires exactly once', () => {
    const spec = toScheduleSpec('@at 2026-12-24T18:00', 'Europe/Berlin');
    expect(spec.timezone).toBe('UTC');
    expect(spec.calendars).toEqual([
      {
        second: [{ start: 0, end: 0, step: 1 }],
        minute: [{ start: 0, end: 0, step: 1 }],
        hour: [{ start: 17, end: 17, step: 1 }],
        dayOfMonth: [{ start: 24, end: 24, step: 1 }],
        month: [{ start: 'DECEMBER', end: 'DECEMBER', step: 1 }],
        year: [{ start: 2026, end: 2026, step: 1 }],
        dayOfWeek: [{ start: 'SUNDAY', end: 'SATURDAY', step: 1 }],
        comment: '@at 2026-12-24T17:00:00.000Z',
      },
    ]);
    const times = compileFireTimes(spec).take(new Date('2026-01-01T00:00:00Z'), 3);
    expect(times.map((t) => t.toISOString())).toEqual(['2026-12-24T17:00:00.000Z']);
  });

  it('when it is described in words, then the local or written time is said', () => {
    expect(describeSchedule('@at 2026-12-24T18:00')).toBe('Once, on 2026-12-24 at 18:00');
    expect(describeSchedule('@at 2026-12-24T17:00:00Z')).toBe(
      'Once, on 2026-12-24 at 17:00:00 UTC',
    );
    expect(describeSchedule('@at 2026-12-24T18:00+01:00')).toBe(
      'Once, on 2026-12-24 at 18:00 UTC+01:00',
    );
  });

  it('when the same time is read in two zones, then the instants differ by their offsets', () => {
    const parsed = parseAtTime('2026-06-01T12:00');
    if (!parsed.ok) throw new Error(parsed.reason);
    const tokyo = atInstant(parsed.at, 'Asia/Tokyo').getTime();
    const london = atInstant(parsed.at, 'Europe/London').getTime();
    expect((london - tokyo) / 3_600_000).toBe(8);
  });
});

describe('runs ahead (SPEC §14)', () => {
  const every4s = { schedule: '@every 4s', timezone: 'UTC' };
  const t = (iso: string) => new Date(iso);

  it('when maxRuns is used up, then there is no next run and the run was the last', () => {
    expect(nextScheduledRun({ ...every4s, runsLeft: 0 }, t('2026-01-01T00:00:00Z'))).toBeNull();
    expect(isLastRun({ ...every4s, runsLeft: 0 }, t('2026-01-01T00:00:00Z'))).toBe(true);
    expect(isLastRun({ ...every4s, runsLeft: 1 }, t('2026-01-01T00:00:00Z'))).toBe(false);
  });

  it('when a one-off ran, then it was the last', () => {
    expect(
      isLastRun({ schedule: '@at 2026-12-24T18:00', timezone: 'UTC' }, t('2026-12-24T18:00:00Z')),
    ).toBe(true);
  });

  it('when endAt leaves no later fire time, then the run was the last; one before it is not', () => {
    const bounded = { ...every4s, endAt: t('2026-01-01T00:00:10Z') };
    expect(isLastRun(bounded, t('2026-01-01T00:00:04Z'))).toBe(false);
    expect(isLastRun(bounded, t('2026-01-01T00:00:08Z'))).toBe(true);
    expect(nextScheduledRun(bounded, t('2026-01-01T00:00:08Z'))).toBeNull();
  });

  it('when startAt is set, then no run comes before it, and runs go on after it', () => {
    const bounded = { schedule: '0 9 * * *', timezone: 'UTC', startAt: t('2026-03-10T12:00:00Z') };
    expect(nextScheduledRun(bounded, t('2026-03-01T00:00:00Z'))?.toISOString()).toBe(
      '2026-03-11T09:00:00.000Z',
    );
    expect(isLastRun(bounded, t('2026-03-11T09:00:00Z'))).toBe(false);
  });

  it('when a schedule has no bounds, then no run is the last', () => {
    expect(isLastRun({ schedule: '* * * * *', timezone: 'UTC' }, t('2026-01-01T00:00:00Z'))).toBe(
      false,
    );
  });
});
