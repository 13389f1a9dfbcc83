import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  type ScheduleDescription,
  type ScheduleSpec,
} from '@temporalio/client';
import { isValidTimeZone, toScheduleSpec } from '../../src/schedule/cron';

/**
 * Temporal agrees with src/schedule/cron.ts: every accepted expression becomes a schedule that
 * Temporal keeps exactly as sent, and the next fire times Temporal plans are the ones computed
 * here independently from the wall clock (not from our calendars).
 */

/** The accepted expressions of test/unit/cron.test.ts. */
const ACCEPTED = [
  '* * * * *',
  '*/5 * * * *',
  '0 9 * * 1-5',
  '0 9 * * MON-FRI',
  '30 8 1,15 * *',
  '0 0 1 JAN *',
  '0 12 * * 7',
  '15 10 * * sun',
  '0 0 13 * 5',
  '0 0 */2 * 1',
  '5 4 * * *',
  '0 22 * * 1-5',
  '23 0-20/2 * * *',
  '0 0,12 1 */2 *',
  '0 4 8-14 * *',
  '0 0 1 1 *',
  '0 9 * * 5-7',
  '0 0 * * 0-7',
  '0 0 * * 1/2',
  '5/15 * * * *',
  '0 0 1 jan,Jul *',
  '0 8 * MAR-SEP/2 TUE,thu',
  '0,30 9-17 * * 1,3-5',
  '0 0 13 * */2',
  '0 0 1-31 * 1',
  '00 07 * * *',
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@hourly',
  '@DAILY',
  '@every 30s',
  '@every 15m',
  '@every 2h',
  '@every 1d',
  '@every 1s',
  '@every 90m',
  '@every 3650d',
];

let connection: Connection;
let client: Client;

beforeAll(async () => {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('TEMPORAL_ADDRESS is not set; the integration global setup exports it');
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});

afterAll(async () => {
  await connection?.close();
});

/** Creates a paused schedule, describes it, deletes it. */
async function describeAsTemporal(spec: ScheduleSpec): Promise<ScheduleDescription> {
  const handle = await client.schedule.create({
    scheduleId: `cron-test-${randomUUID()}`,
    spec,
    action: {
      type: 'startWorkflow',
      workflowType: 'sendWebhook',
      taskQueue: 'cron-test',
      args: [],
    },
    state: { paused: true },
  });
  try {
    return await handle.describe();
  } finally {
    await handle.delete();
  }
}

interface WallClock {
  minute: number;
  hour: number;
  day: number;
  month: number;
  /** 0 = Sunday */
  weekday: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(date: Date, timeZone: string): WallClock {
  if (timeZone === 'UTC') {
    return {
      minute: date.getUTCMinutes(),
      hour: date.getUTCHours(),
      day: date.getUTCDate(),
      month: date.getUTCMonth() + 1,
      weekday: date.getUTCDay(),
    };
  }
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      minute: 'numeric',
      hour: 'numeric',
      day: 'numeric',
      month: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(
    formatter.formatToParts(date).map((part) => [part.type, part.value]),
  );
  return {
    minute: Number(parts.minute),
    hour: Number(parts.hour),
    day: Number(parts.day),
    month: Number(parts.month),
    weekday: WEEKDAYS.indexOf(parts.weekday ?? ''),
  };
}

const MINUTE_MS = 60_000;

/** The first `count` whole minutes after `from` that `fires` accepts, by brute force. */
function fireTimesAfter(
  from: number,
  count: number,
  timeZone: string,
  fires: (wall: WallClock, at: Date) => boolean,
): Date[] {
  const times: Date[] = [];
  const limit = from + 400 * 24 * 60 * MINUTE_MS;
  for (
    let t = Math.floor(from / MINUTE_MS + 1) * MINUTE_MS;
    times.length < count && t < limit;
    t += MINUTE_MS
  ) {
    const at = new Date(t);
    if (fires(wallClock(at, timeZone), at)) times.push(at);
  }
  return times;
}

describe('Temporal accepts every schedule parseSchedule accepts', () => {
  it.each(ACCEPTED)(
    'when %j is created as a Temporal schedule, then Temporal keeps the spec and plans fire times',
    async (expression) => {
      const spec = toScheduleSpec(expression, 'UTC');
      const description = await describeAsTemporal(spec);

      expect(description.spec.calendars).toEqual(
        (spec.calendars ?? []).map((calendar) => ({ ...calendar, year: [] })),
      );
      // The client leaves `offset` undefined when the server reports none.
      const intervals = description.spec.intervals?.map(({ every, offset }) => ({
        every,
        offset: offset ?? 0,
      }));
      expect(intervals).toEqual((spec.intervals ?? []).map(({ every }) => ({ every, offset: 0 })));
      expect(description.spec.timezone).toBe('UTC');
      expect(description.state.paused).toBe(true);

      const times = description.info.nextActionTimes.map((time) => time.getTime());
      expect(times.length).toBeGreaterThan(0);
      // Strictly increasing: overlapping calendars (a Friday the 13th) never fire twice.
      times.slice(1).forEach((time, i) => expect(time).toBeGreaterThan(times[i] ?? Infinity));
    },
  );
});

interface FireTimeCase {
  expression: string;
  timeZone: string;
  /** Whether the task should fire at this wall-clock minute, written from the cron's meaning. */
  fires: (wall: WallClock, at: Date) => boolean;
}

const at = (hour: number, minute: number) => (w: WallClock) =>
  w.hour === hour && w.minute === minute;

const FIRE_TIME_CASES: FireTimeCase[] = [
  { expression: '0 9 * * *', timeZone: 'America/New_York', fires: at(9, 0) },
  {
    expression: '0 0 13 * 5',
    timeZone: 'UTC',
    fires: (w) => at(0, 0)(w) && (w.day === 13 || w.weekday === 5),
  },
  {
    expression: '0 0 */2 * 1',
    timeZone: 'UTC',
    fires: (w) => at(0, 0)(w) && w.day % 2 === 1 && w.weekday === 1,
  },
  {
    expression: '23 0-20/2 * * *',
    timeZone: 'UTC',
    fires: (w) => w.minute === 23 && w.hour % 2 === 0 && w.hour <= 20,
  },
  {
    expression: '0 9 * * 5-7',
    timeZone: 'UTC',
    fires: (w) => at(9, 0)(w) && [5, 6, 0].includes(w.weekday),
  },
  {
    expression: '0 0 * * 1/2',
    timeZone: 'UTC',
    fires: (w) => at(0, 0)(w) && [1, 3, 5, 0].includes(w.weekday),
  },
  { expression: '*/5 * * * *', timeZone: 'UTC', fires: (w) => w.minute % 5 === 0 },
  {
    expression: '0 22 * * 1-5',
    timeZone: 'Asia/Kolkata',
    fires: (w) => at(22, 0)(w) && w.weekday >= 1 && w.weekday <= 5,
  },
  { expression: '@hourly', timeZone: 'Asia/Kolkata', fires: (w) => w.minute === 0 },
  {
    expression: '0 8 * MAR-SEP/2 TUE,thu',
    timeZone: 'Europe/Berlin',
    fires: (w) => at(8, 0)(w) && [3, 5, 7, 9].includes(w.month) && [2, 4].includes(w.weekday),
  },
  {
    expression: '@every 15m',
    timeZone: 'UTC',
    fires: (_w, time) => time.getTime() % (15 * MINUTE_MS) === 0,
  },
];

describe("Temporal's next fire times match the cron's meaning", () => {
  it.each(FIRE_TIME_CASES)(
    'when $expression runs in $timeZone, then Temporal plans exactly the independently computed times',
    async ({ expression, timeZone, fires }) => {
      const before = Date.now();
      const description = await describeAsTemporal(toScheduleSpec(expression, timeZone));
      const planned = description.info.nextActionTimes.map((time) => time.toISOString());
      expect(planned.length).toBe(10);

      // A minute boundary may pass between `before` and Temporal's clock: allow a shift by one.
      const expected = fireTimesAfter(before, planned.length + 1, timeZone, fires).map((time) =>
        time.toISOString(),
      );
      expect([expected.slice(0, -1), expected.slice(1)]).toContainEqual(planned);
    },
  );

  it('when 0 9 * * * runs in America/New_York, then it is 13:00 UTC under daylight saving time and 14:00 otherwise', async () => {
    const description = await describeAsTemporal(toScheduleSpec('0 9 * * *', 'America/New_York'));
    const zoneName = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/New_York',
      timeZoneName: 'short',
    });
    for (const time of description.info.nextActionTimes) {
      const daylight = zoneName.format(time).endsWith('EDT');
      expect(time.getUTCHours()).toBe(daylight ? 13 : 14);
      expect(time.getUTCMinutes()).toBe(0);
    }
  });

  it('when both day fields are restricted (0 0 13 * 5), then the next ten times hold 13ths and Fridays, each at midnight', async () => {
    const description = await describeAsTemporal(toScheduleSpec('0 0 13 * 5', 'UTC'));
    const times = description.info.nextActionTimes;
    expect(times).toHaveLength(10);
    for (const time of times) {
      expect(time.getUTCDate() === 13 || time.getUTCDay() === 5).toBe(true);
      expect(time.toISOString()).toMatch(/T00:00:00\.000Z$/);
    }
    expect(times.some((time) => time.getUTCDate() === 13 && time.getUTCDay() !== 5)).toBe(true);
    expect(times.some((time) => time.getUTCDay() === 5 && time.getUTCDate() !== 13)).toBe(true);
  });

  it('when the schedule is @every 15m, then consecutive times are 15 minutes apart, on the quarter hour', async () => {
    const description = await describeAsTemporal(toScheduleSpec('@every 15m', 'UTC'));
    const times = description.info.nextActionTimes.map((time) => time.getTime());
    expect(times.length).toBe(10);
    times.slice(1).forEach((time, i) => expect(time - (times[i] ?? 0)).toBe(15 * MINUTE_MS));
    expect((times[0] ?? 1) % (15 * MINUTE_MS)).toBe(0);
  });
});

describe('isValidTimeZone agrees with Temporal', () => {
  const NAMES = [
    'UTC',
    'GMT',
    'America/New_York',
    'Asia/Kolkata',
    'Asia/Calcutta',
    'Europe/Kyiv',
    'US/Eastern',
    'Etc/GMT+5',
    'EST5EDT',
    'america/new_york',
    'utc',
    'Mars/Base',
    'SystemV/EST5',
    '+05:00',
  ];

  it.each(NAMES)(
    'when the zone is %j, then Temporal accepts it exactly when isValidTimeZone does',
    async (timeZone) => {
      const spec: ScheduleSpec = {
        calendars: [{ hour: 9, comment: 'time zone check' }],
        timezone: timeZone,
      };
      const accepted = await describeAsTemporal(spec).then(
        () => true,
        (error: Error) => {
          expect(error.message).toMatch(/time ?zone/i);
          return false;
        },
      );
      expect(accepted).toBe(isValidTimeZone(timeZone));
    },
  );
});
