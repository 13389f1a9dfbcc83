import type { CalendarSpec, DayOfWeek, IntervalSpec, Month, Range } from '@temporalio/client';
import {
  isValidTimeZone,
  parseSchedule,
  ScheduleError,
  toScheduleSpec,
} from '../../src/schedule/cron';

function r<T>(start: T, end: T = start, step = 1): Range<T> {
  return { start, end, step };
}

const EVERY_DAY_OF_WEEK = [r<DayOfWeek>('SUNDAY', 'SATURDAY')];
const EVERY_DAY_OF_MONTH = [r(1, 31)];

/** A calendar as parseSchedule emits it: every field explicit, `*` as the full range. */
function cal(comment: string, fields: Partial<Omit<CalendarSpec, 'comment'>> = {}): CalendarSpec {
  return {
    second: [r(0)],
    minute: [r(0, 59)],
    hour: [r(0, 23)],
    dayOfMonth: EVERY_DAY_OF_MONTH,
    month: [r<Month>('JANUARY', 'DECEMBER')],
    dayOfWeek: EVERY_DAY_OF_WEEK,
    ...fields,
    comment,
  };
}

const MIDNIGHT = { minute: [r(0)], hour: [r(0)] };

/** [expression, expected calendars] for 5-field crons. */
const ACCEPTED_CRONS: [string, CalendarSpec[]][] = [
  ['* * * * *', [cal('* * * * *')]],
  ['*/5 * * * *', [cal('*/5 * * * *', { minute: [r(0, 59, 5)] })]],
  [
    '0 9 * * 1-5',
    [
      cal('0 9 * * 1-5', {
        minute: [r(0)],
        hour: [r(9)],
        dayOfWeek: [r<DayOfWeek>('MONDAY', 'FRIDAY')],
      }),
    ],
  ],
  [
    '0 9 * * MON-FRI',
    [
      cal('0 9 * * MON-FRI', {
        minute: [r(0)],
        hour: [r(9)],
        dayOfWeek: [r<DayOfWeek>('MONDAY', 'FRIDAY')],
      }),
    ],
  ],
  [
    '30 8 1,15 * *',
    [cal('30 8 1,15 * *', { minute: [r(30)], hour: [r(8)], dayOfMonth: [r(1), r(15)] })],
  ],
  [
    '0 0 1 JAN *',
    [cal('0 0 1 JAN *', { ...MIDNIGHT, dayOfMonth: [r(1)], month: [r<Month>('JANUARY')] })],
  ],
  [
    '0 12 * * 7',
    [cal('0 12 * * 7', { minute: [r(0)], hour: [r(12)], dayOfWeek: [r<DayOfWeek>('SUNDAY')] })],
  ],
  [
    '15 10 * * sun',
    [cal('15 10 * * sun', { minute: [r(15)], hour: [r(10)], dayOfWeek: [r<DayOfWeek>('SUNDAY')] })],
  ],
  [
    '0 0 13 * 5',
    [
      cal('0 0 13 * 5 (day-of-month part)', { ...MIDNIGHT, dayOfMonth: [r(13)] }),
      cal('0 0 13 * 5 (day-of-week part)', { ...MIDNIGHT, dayOfWeek: [r<DayOfWeek>('FRIDAY')] }),
    ],
  ],
  [
    '0 0 */2 * 1',
    [
      cal('0 0 */2 * 1', {
        ...MIDNIGHT,
        dayOfMonth: [r(1, 31, 2)],
        dayOfWeek: [r<DayOfWeek>('MONDAY')],
      }),
    ],
  ],
  ['5 4 * * *', [cal('5 4 * * *', { minute: [r(5)], hour: [r(4)] })]],
  [
    '0 22 * * 1-5',
    [
      cal('0 22 * * 1-5', {
        minute: [r(0)],
        hour: [r(22)],
        dayOfWeek: [r<DayOfWeek>('MONDAY', 'FRIDAY')],
      }),
    ],
  ],
  ['23 0-20/2 * * *', [cal('23 0-20/2 * * *', { minute: [r(23)], hour: [r(0, 20, 2)] })]],
  [
    '0 0,12 1 */2 *',
    [
      cal('0 0,12 1 */2 *', {
        minute: [r(0)],
        hour: [r(0), r(12)],
        dayOfMonth: [r(1)],
        month: [r<Month>('JANUARY', 'DECEMBER', 2)],
      }),
    ],
  ],
  ['0 4 8-14 * *', [cal('0 4 8-14 * *', { minute: [r(0)], hour: [r(4)], dayOfMonth: [r(8, 14)] })]],
  [
    '0 0 1 1 *',
    [cal('0 0 1 1 *', { ...MIDNIGHT, dayOfMonth: [r(1)], month: [r<Month>('JANUARY')] })],
  ],
  // Beyond the basics: 7 folded into Sunday, a/n, names in any case, steps and lists mixed.
  [
    '0 9 * * 5-7',
    [
      cal('0 9 * * 5-7', {
        minute: [r(0)],
        hour: [r(9)],
        dayOfWeek: [r<DayOfWeek>('FRIDAY', 'SATURDAY'), r<DayOfWeek>('SUNDAY')],
      }),
    ],
  ],
  ['0 0 * * 0-7', [cal('0 0 * * 0-7', { ...MIDNIGHT, dayOfWeek: EVERY_DAY_OF_WEEK })]],
  [
    // cronie: a/n runs to the field's maximum, and day-of-week's maximum is 7 (Sunday).
    '0 0 * * 1/2',
    [
      cal('0 0 * * 1/2', {
        ...MIDNIGHT,
        dayOfWeek: [r<DayOfWeek>('MONDAY', 'SATURDAY', 2), r<DayOfWeek>('SUNDAY')],
      }),
    ],
  ],
  ['5/15 * * * *', [cal('5/15 * * * *', { minute: [r(5, 59, 15)] })]],
  [
    '0 0 1 jan,Jul *',
    [
      cal('0 0 1 jan,Jul *', {
        ...MIDNIGHT,
        dayOfMonth: [r(1)],
        month: [r<Month>('JANUARY'), r<Month>('JULY')],
      }),
    ],
  ],
  [
    '0 8 * MAR-SEP/2 TUE,thu',
    [
      cal('0 8 * MAR-SEP/2 TUE,thu', {
        minute: [r(0)],
        hour: [r(8)],
        month: [r<Month>('MARCH', 'SEPTEMBER', 2)],
        dayOfWeek: [r<DayOfWeek>('TUESDAY'), r<DayOfWeek>('THURSDAY')],
      }),
    ],
  ],
  [
    '0,30 9-17 * * 1,3-5',
    [
      cal('0,30 9-17 * * 1,3-5', {
        minute: [r(0), r(30)],
        hour: [r(9, 17)],
        dayOfWeek: [r<DayOfWeek>('MONDAY'), r<DayOfWeek>('WEDNESDAY', 'FRIDAY')],
      }),
    ],
  ],
  [
    // Day-of-week starts with '*', so Vixie ANDs: the 13th when it is a Sun/Tue/Thu/Sat.
    '0 0 13 * */2',
    [
      cal('0 0 13 * */2', {
        ...MIDNIGHT,
        dayOfMonth: [r(13)],
        dayOfWeek: [r<DayOfWeek>('SUNDAY', 'SATURDAY', 2)],
      }),
    ],
  ],
  [
    // Neither starts with '*', so OR, even though 1-31 covers every day: it fires daily.
    '0 0 1-31 * 1',
    [
      cal('0 0 1-31 * 1 (day-of-month part)', { ...MIDNIGHT, dayOfMonth: [r(1, 31)] }),
      cal('0 0 1-31 * 1 (day-of-week part)', { ...MIDNIGHT, dayOfWeek: [r<DayOfWeek>('MONDAY')] }),
    ],
  ],
  ['00 07 * * *', [cal('00 07 * * *', { minute: [r(0)], hour: [r(7)] })]],
];

const ACCEPTED_MACROS: [string, CalendarSpec][] = [
  ['@yearly', cal('@yearly', { ...MIDNIGHT, dayOfMonth: [r(1)], month: [r<Month>('JANUARY')] })],
  [
    '@annually',
    cal('@annually', { ...MIDNIGHT, dayOfMonth: [r(1)], month: [r<Month>('JANUARY')] }),
  ],
  ['@monthly', cal('@monthly', { ...MIDNIGHT, dayOfMonth: [r(1)] })],
  ['@weekly', cal('@weekly', { ...MIDNIGHT, dayOfWeek: [r<DayOfWeek>('SUNDAY')] })],
  ['@daily', cal('@daily', MIDNIGHT)],
  ['@hourly', cal('@hourly', { minute: [r(0)] })],
  ['@DAILY', cal('@DAILY', MIDNIGHT)],
];

const ACCEPTED_INTERVALS: [string, IntervalSpec][] = [
  ['@every 30s', { every: 30_000 }],
  ['@every 15m', { every: 900_000 }],
  ['@every 2h', { every: 7_200_000 }],
  ['@every 1d', { every: 86_400_000 }],
  ['@every 1s', { every: 1_000 }],
  ['@every 90m', { every: 5_400_000 }],
  ['@every 3650d', { every: 3650 * 86_400_000 }],
];

const FIELDS = 'use 5 fields minute hour day-of-month month day-of-week';

const REJECTED: [string, string][] = [
  ['@reboot', '@reboot is not supported: tasks run on a schedule, not at start-up'],
  ['* * * * * *', `6 fields: seconds (or a year) are not supported; ${FIELDS}`],
  ['0 0 * * * 2026', `6 fields: seconds (or a year) are not supported; ${FIELDS}`],
  ['0 0 0 * * * 2026', `7 fields: seconds and a year are not supported; ${FIELDS}`],
  ['60 * * * *', 'minute 60 is out of range 0-59'],
  ['* 24 * * *', 'hour 24 is out of range 0-23'],
  ['* * 0 * *', 'day-of-month 0 is out of range 1-31'],
  ['* * 32 * *', 'day-of-month 32 is out of range 1-31'],
  ['* * * 13 *', 'month 13 is out of range 1-12'],
  ['* * * 0 *', 'month 0 is out of range 1-12'],
  ['* * * * 8', 'day-of-week 8 is out of range 0-7'],
  ['0-60 * * * *', 'minute 60 is out of range 0-59'],
  ['*/0 * * * *', 'minute step 0 is out of range 1-59: a step must be at least 1'],
  ['*/60 * * * *', 'minute step 60 is out of range 1-59; for longer intervals use @every'],
  ['0 */24 * * *', 'hour step 24 is out of range 1-23; for longer intervals use @every'],
  ['*/x * * * *', "minute step 'x' is not a whole number"],
  ['1/2/3 * * * *', "minute '1/2/3' has more than one '/'"],
  ['/5 * * * *', "minute '/5' has nothing before '/'"],
  [
    '5-1 * * * *',
    'minute range 5-1 is reversed; wrap-around ranges are not supported, use a list such as 5-59,0-1',
  ],
  [
    '0 0 * * SAT-SUN',
    'day-of-week range SAT-SUN is reversed; wrap-around ranges are not supported, use a list such as 6,0',
  ],
  ['1,,2 * * * *', 'minute has an empty list item'],
  ['0 0 1, * *', 'day-of-month has an empty list item'],
  ['1-2-3 * * * *', "minute '1-2-3' is not a value, a range a-b, or '*'"],
  ['*-5 * * * *', "minute '*-5' is not a value, a range a-b, or '*'"],
  ['a * * * *', "minute 'a' is not a number (use 0-59)"],
  ['* * * FOO *', "unknown month name 'FOO' (use 1-12 or JAN-DEC)"],
  ['0 0 * * MONDAY', "unknown day-of-week name 'MONDAY' (use 0-7 (0 and 7 are Sunday) or SUN-SAT)"],
  ['0 0 * MON *', "unknown month name 'MON' (use 1-12 or JAN-DEC)"],
  ['0 0 ? * MON', "'?' in day-of-month is Quartz syntax, not standard cron; use '*'"],
  ['0 0 L * *', "'L' in day-of-month: 'L' (last) is Quartz syntax, not standard cron"],
  [
    '0 0 15W * *',
    "'15W' in day-of-month: 'W' (nearest weekday) is Quartz syntax, not standard cron",
  ],
  ['0 0 * * 5L', "'5L' in day-of-week: 'L' (last) is Quartz syntax, not standard cron"],
  [
    '0 0 * * MON#2',
    "'MON#2' in day-of-week: '#' (nth weekday of the month) is Quartz syntax, not standard cron",
  ],
  ['@every 0s', '@every 0s: the interval must be at least 1 second'],
  [
    '@every 500ms',
    '@every 500ms: milliseconds are not supported; the interval must be at least 1s',
  ],
  ['@every 10x', '@every 10x: expected a whole number followed by s, m, h or d, e.g. @every 15m'],
  ['@every 1.5h', '@every 1.5h: expected a whole number followed by s, m, h or d, e.g. @every 15m'],
  [
    '@every 1h30m',
    '@every 1h30m: expected a whole number followed by s, m, h or d, e.g. @every 15m',
  ],
  ['@every -5m', '@every -5m: expected a whole number followed by s, m, h or d, e.g. @every 15m'],
  ['@every 3651d', '@every 3651d: the interval must be at most 3650 days'],
  ['@every', '@every needs an interval: a whole number followed by s, m, h or d, e.g. @every 15m'],
  [
    '@midnight',
    "unknown macro '@midnight': use @daily; supported: @yearly, @annually, @monthly, @weekly, @daily, @hourly, " +
      '@every <n><s|m|h|d>, @at <date-time>, or 5 fields minute hour day-of-month month day-of-week',
  ],
  [
    '@fortnightly',
    "unknown macro '@fortnightly': supported: @yearly, @annually, @monthly, @weekly, @daily, @hourly, " +
      '@every <n><s|m|h|d>, @at <date-time>, or 5 fields minute hour day-of-month month day-of-week',
  ],
  ['@daily 5', '@daily takes nothing after it'],
  ['', 'schedule is empty'],
  [' \t ', 'schedule is empty'],
  ['hello', 'expected 5 fields (minute hour day-of-month month day-of-week), got 1'],
  ['* * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
  [
    'CRON_TZ=UTC 0 0 * * *',
    "a time zone prefix (CRON_TZ=/TZ=) is not supported; set the task's timezone",
  ],
];

describe('parseSchedule', () => {
  it.each(ACCEPTED_CRONS)(
    'when the cron is %j, then it becomes these calendars',
    (expression, calendars) => {
      expect(parseSchedule(expression)).toEqual({ ok: true, kind: 'cron', spec: { calendars } });
    },
  );

  it.each(ACCEPTED_MACROS)(
    'when the macro is %j, then it becomes its 5-field calendar',
    (expression, calendar) => {
      expect(parseSchedule(expression)).toEqual({
        ok: true,
        kind: 'macro',
        spec: { calendars: [calendar] },
      });
    },
  );

  it.each(ACCEPTED_INTERVALS)(
    'when the schedule is %j, then it becomes an interval',
    (expression, interval) => {
      expect(parseSchedule(expression)).toEqual({
        ok: true,
        kind: 'every',
        spec: { intervals: [interval] },
      });
    },
  );

  it.each(REJECTED)(
    'when the schedule is %j, then it is rejected saying why',
    (expression, reason) => {
      expect(parseSchedule(expression)).toEqual({ ok: false, reason });
    },
  );

  it('when the schedule is longer than 1000 characters, then it is rejected before parsing', () => {
    expect(parseSchedule(`${'1,'.repeat(600)}1 * * * *`)).toEqual({
      ok: false,
      reason: 'schedule is longer than 1000 characters',
    });
  });

  it('when fields are separated by runs of spaces and tabs, then they parse like single spaces', () => {
    expect(parseSchedule(' \t0\t9  * *   1-5 \n')).toEqual(parseSchedule('0 9 * * 1-5'));
    expect(parseSchedule('  @every\t15m ')).toEqual(parseSchedule('@every 15m'));
  });

  it('when the input is arbitrary text, then the result is a verdict, never an exception', () => {
    const junk = [
      '*',
      '@',
      '@@',
      ',',
      '-',
      '/',
      '* * * * ,',
      '- - - - -',
      '1-/2 * * * *',
      '\u0000',
      '🙂 * * * *',
      'L L L L L',
    ];
    for (const expression of junk) {
      const result = parseSchedule(expression);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
    }
  });
});

/** Our calendars always hold full Range arrays; read one field as numbers for matching. */
function matches<T>(field: unknown, value: number, toNumber: (unit: T) => number): boolean {
  return (field as Range<T>[]).some(({ start, end, step }) => {
    const [first, last] = [toNumber(start), toNumber(end)];
    return value >= first && value <= last && (value - first) % step === 0;
  });
}

const DAY_NAMES: string[] = [
  'SUNDAY',
  'MONDAY',
  'TUESDAY',
  'WEDNESDAY',
  'THURSDAY',
  'FRIDAY',
  'SATURDAY',
];
const MONTH_NAMES: string[] = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
];

/** Temporal's rule, applied independently: a time fires when all fields of some calendar match. */
function firesAt(calendars: CalendarSpec[], date: Date): boolean {
  const same = (n: number) => n;
  return calendars.some(
    (c) =>
      matches(c.minute, date.getUTCMinutes(), same) &&
      matches(c.hour, date.getUTCHours(), same) &&
      matches(c.dayOfMonth, date.getUTCDate(), same) &&
      matches(c.month, date.getUTCMonth() + 1, (m: string) => MONTH_NAMES.indexOf(m) + 1) &&
      matches(c.dayOfWeek, date.getUTCDay(), (d: string) => DAY_NAMES.indexOf(d)),
  );
}

function midnightsOf2026(): Date[] {
  return Array.from({ length: 365 }, (_, i) => new Date(Date.UTC(2026, 0, 1 + i)));
}

describe('day-of-month and day-of-week together (Vixie cron rules)', () => {
  function firingDays(expression: string): Date[] {
    const parsed = parseSchedule(expression);
    if (!parsed.ok || parsed.kind === 'at') throw new Error(String(parsed.ok || parsed.reason));
    return midnightsOf2026().filter((day) => firesAt(parsed.spec.calendars ?? [], day));
  }

  it('when both are restricted (0 0 13 * 5), then the task fires on every 13th and on every Friday', () => {
    const expected = midnightsOf2026().filter((d) => d.getUTCDate() === 13 || d.getUTCDay() === 5);
    expect(firingDays('0 0 13 * 5')).toEqual(expected);
    // 2026 has 52 Fridays and 12 thirteenths, and Friday the 13th happens in February, March and November.
    expect(expected).toHaveLength(52 + 12 - 3);
  });

  it('when day-of-month starts with * (0 0 */2 * 1), then both must match: Mondays on odd dates', () => {
    const expected = midnightsOf2026().filter(
      (d) => d.getUTCDate() % 2 === 1 && d.getUTCDay() === 1,
    );
    expect(firingDays('0 0 */2 * 1')).toEqual(expected);
    expect(expected.length).toBeGreaterThan(20);
    expect(expected.length).toBeLessThan(30);
  });

  it('when only day-of-week is restricted (0 0 * * 1), then it fires on Mondays only', () => {
    expect(firingDays('0 0 * * 1')).toEqual(midnightsOf2026().filter((d) => d.getUTCDay() === 1));
  });
});

describe('toScheduleSpec', () => {
  it('when the schedule and zone are valid, then the spec carries the calendars and the time zone', () => {
    expect(toScheduleSpec('0 9 * * MON-FRI', 'Europe/Berlin')).toEqual({
      calendars: [
        cal('0 9 * * MON-FRI', {
          minute: [r(0)],
          hour: [r(9)],
          dayOfWeek: [r<DayOfWeek>('MONDAY', 'FRIDAY')],
        }),
      ],
      timezone: 'Europe/Berlin',
    });
    expect(toScheduleSpec('@every 15m', 'UTC')).toEqual({
      intervals: [{ every: 900_000 }],
      timezone: 'UTC',
    });
  });

  it('when the schedule is invalid, then a ScheduleError for the schedule field carries the reason', () => {
    expect(() => toScheduleSpec('@reboot', 'UTC')).toThrow(ScheduleError);
    try {
      toScheduleSpec('60 * * * *', 'UTC');
      throw new Error('expected a ScheduleError');
    } catch (error) {
      expect(error).toBeInstanceOf(ScheduleError);
      expect(error).toMatchObject({
        name: 'ScheduleError',
        field: 'schedule',
        message: 'minute 60 is out of range 0-59',
      });
    }
  });

  it('when the time zone is unknown, then a ScheduleError names the timezone field', () => {
    expect(() => toScheduleSpec('0 9 * * *', 'Mars/Base')).toThrow(
      expect.objectContaining({
        field: 'timezone',
        message: expect.stringContaining("unknown time zone 'Mars/Base'"),
      }),
    );
  });
});

describe('isValidTimeZone', () => {
  it.each([
    'UTC',
    'GMT',
    'Etc/UTC',
    'America/New_York',
    'Asia/Kolkata',
    'Asia/Calcutta',
    'Europe/Kyiv',
    'Europe/Berlin',
    'America/Port-au-Prince',
    'Etc/GMT+5',
    'US/Eastern',
    'EST5EDT',
  ])('when the zone is the IANA name %j, then it is valid', (name) => {
    expect(isValidTimeZone(name)).toBe(true);
  });

  it.each([
    'Mars/Base',
    '',
    ' UTC',
    '+05:00',
    '-08:00',
    '+05',
    'UTC+5',
    'GMT+05:00',
    'utc',
    'america/new_york',
    'Local',
    'Z',
    'SystemV/EST5',
    'Factory',
    '../etc/passwd',
  ])('when the zone is %j, then it is rejected', (name) => {
    expect(isValidTimeZone(name)).toBe(false);
  });
});

describe('a day-of-month no listed month has (issue 10)', () => {
  it.each([
    [
      '0 0 31 2 *',
      'day-of-month 31 never occurs in February (at most 29 days), so this schedule would never fire',
    ],
    [
      '0 0 30 2 *',
      'day-of-month 30 never occurs in February (at most 29 days), so this schedule would never fire',
    ],
    [
      '0 0 31 4,6,9,11 *',
      'day-of-month 31 never occurs in April, June, September or November (at most 30 days), so this schedule would never fire',
    ],
    [
      '0 0 30-31 FEB *',
      'day-of-month 30-31 never occurs in February (at most 29 days), so this schedule would never fire',
    ],
    [
      '0 0 31 2 */2',
      'day-of-month 31 never occurs in February (at most 29 days), so this schedule would never fire',
    ],
  ])(
    'when the cron is %j, then it is rejected saying it would never fire',
    (expression, reason) => {
      expect(parseSchedule(expression)).toEqual({ ok: false, reason });
    },
  );

  it.each(['0 0 29 2 *', '0 0 31 * *', '0 0 31 1-2 *', '0 0 30,31 2,3 *', '0 0 */30 2 *'])(
    'when the cron is %j, then it is accepted: some listed month has that day',
    (expression) => {
      expect(parseSchedule(expression).ok).toBe(true);
    },
  );

  it('when the day falls only on a leap day (0 0 29 2 *), then it fires on February 29', () => {
    const parsed = parseSchedule('0 0 29 2 *');
    if (!parsed.ok || parsed.kind === 'at') throw new Error(String(parsed.ok || parsed.reason));
    expect(firesAt(parsed.spec.calendars ?? [], new Date(Date.UTC(2028, 1, 29)))).toBe(true);
  });

  it('when a day-of-week is set too (0 0 31 2 1), then it is accepted: cron fires on either, so on February Mondays', () => {
    const parsed = parseSchedule('0 0 31 2 1');
    if (!parsed.ok || parsed.kind === 'at') throw new Error(String(parsed.ok || parsed.reason));
    const mondayInFebruary = new Date(Date.UTC(2026, 1, 2));
    expect(mondayInFebruary.getUTCDay()).toBe(1);
    expect(firesAt(parsed.spec.calendars ?? [], mondayInFebruary)).toBe(true);
  });

  it('when a task stored before this rule is turned into a spec, then it still is (it idles)', () => {
    expect(toScheduleSpec('0 0 31 2 *', 'UTC').calendars).toHaveLength(1);
  });
});
