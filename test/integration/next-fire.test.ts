import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { optionalDateToTs, tsToDate } from '@temporalio/common/lib/time';
import { toScheduleSpec } from '../../src/schedule/cron';
import { compileFireTimes, MAX_MATCHING_TIMES } from '../../src/schedule/next-fire';

/**
 * The local calculator (src/schedule/next-fire.ts) fires exactly when Temporal does. Each spec of
 * the corpus becomes a paused schedule on the real dev server; the server's own answers
 * (ListScheduleMatchingTimes over windows that hold the 2027 daylight-saving changes, and
 * describe()'s next action times from now) must equal the calculator's, time for time. Nothing
 * here is an expected list written by hand: the server is the oracle.
 */

const NAMESPACE = 'default';

interface Window {
  label: string;
  start: string;
  end: string;
}

const span = (label: string, start: string, end: string): Window => ({ label, start, end });

/** Three days around each 2027 transition (UTC instants), or two month ends where there is none. */
const TRANSITIONS: Record<string, Window[]> = {
  'America/New_York': [
    span('spring forward 2027-03-14', '2027-03-13T00:00:00Z', '2027-03-16T00:00:00Z'),
    span('fall back 2027-11-07', '2027-11-06T00:00:00Z', '2027-11-09T00:00:00Z'),
  ],
  'Europe/Berlin': [
    span('spring forward 2027-03-28', '2027-03-27T00:00:00Z', '2027-03-30T00:00:00Z'),
    span('fall back 2027-10-31', '2027-10-30T00:00:00Z', '2027-11-02T00:00:00Z'),
  ],
  'Australia/Lord_Howe': [
    span('fall back 30 min 2027-04-04', '2027-04-02T12:00:00Z', '2027-04-05T12:00:00Z'),
    span('spring forward 30 min 2027-10-03', '2027-10-01T12:00:00Z', '2027-10-04T12:00:00Z'),
  ],
  'Asia/Kathmandu': [
    span('end of February 2027', '2027-02-26T00:00:00Z', '2027-03-02T00:00:00Z'),
    span('end of December 2027', '2027-12-30T00:00:00Z', '2028-01-02T00:00:00Z'),
  ],
  UTC: [
    span('end of February 2027', '2027-02-26T00:00:00Z', '2027-03-02T00:00:00Z'),
    span('end of February 2028 (leap)', '2028-02-27T00:00:00Z', '2028-03-02T00:00:00Z'),
  ],
};

/** All of 2027 (in UTC, a few hours either side of any zone's year): both transitions, every month end. */
const YEAR_2027 = span('2027', '2026-12-31T00:00:00Z', '2028-01-01T12:00:00Z');
/** Six years: two 29 Februaries (2028, 2032), months with and without a 31st. */
const YEARS = span('2027-2032', '2027-01-01T00:00:00Z', '2033-01-01T00:00:00Z');

interface Case {
  schedule: string;
  timezone: string;
  /** Extra windows beyond the zone's transitions, for specs that fire rarely. */
  windows?: Window[];
}

const CORPUS: Case[] = [
  // every minute, straight through each kind of transition
  { schedule: '* * * * *', timezone: 'UTC' },
  { schedule: '* * * * *', timezone: 'America/New_York' },
  { schedule: '* * * * *', timezone: 'Europe/Berlin' },
  { schedule: '* * * * *', timezone: 'Australia/Lord_Howe' },
  { schedule: '* * * * *', timezone: 'Asia/Kathmandu' },
  // steps
  { schedule: '*/7 * * * *', timezone: 'UTC' },
  { schedule: '*/7 * * * *', timezone: 'Europe/Berlin' },
  { schedule: '5-59/15 * * * *', timezone: 'America/New_York' },
  { schedule: '23 0-20/2 * * *', timezone: 'Asia/Kathmandu', windows: [YEAR_2027] },
  // lists, ranges, names
  { schedule: '0,30 9-17 * * 1,3-5', timezone: 'Europe/Berlin', windows: [YEAR_2027] },
  { schedule: '0 8 * MAR-SEP/2 TUE,thu', timezone: 'America/New_York', windows: [YEAR_2027] },
  { schedule: '0 0 1 jan,Jul *', timezone: 'UTC', windows: [YEARS] },
  { schedule: '15 10 * * sun', timezone: 'Australia/Lord_Howe', windows: [YEAR_2027] },
  // day-of-month OR day-of-week
  { schedule: '0 9 1,15 * MON', timezone: 'Europe/Berlin', windows: [YEAR_2027] },
  { schedule: '0 9 1,15 * MON', timezone: 'America/New_York', windows: [YEAR_2027] },
  { schedule: '0 0 13 * 5', timezone: 'UTC', windows: [YEARS] },
  // 29 February, last days of months
  { schedule: '0 0 29 2 *', timezone: 'UTC', windows: [YEARS] },
  { schedule: '0 0 29 2 *', timezone: 'America/New_York', windows: [YEARS] },
  { schedule: '0 0 31 * *', timezone: 'Europe/Berlin', windows: [YEARS] },
  { schedule: '0 0 30,31 * *', timezone: 'Asia/Kathmandu', windows: [YEARS] },
  // macros
  { schedule: '@hourly', timezone: 'Australia/Lord_Howe' },
  { schedule: '@daily', timezone: 'America/New_York', windows: [YEAR_2027] },
  { schedule: '@weekly', timezone: 'Europe/Berlin', windows: [YEARS] },
  { schedule: '@monthly', timezone: 'Asia/Kathmandu', windows: [YEARS] },
  { schedule: '@yearly', timezone: 'Australia/Lord_Howe', windows: [YEARS] },
  // intervals: aligned to the Unix epoch, whatever the zone
  { schedule: '@every 90s', timezone: 'UTC' },
  { schedule: '@every 7m', timezone: 'Europe/Berlin' },
  { schedule: '@every 2h', timezone: 'America/New_York', windows: [YEAR_2027] },
  { schedule: '@every 1d', timezone: 'Australia/Lord_Howe', windows: [YEARS] },
  // inside the transition hours
  { schedule: '30 2 * * *', timezone: 'America/New_York', windows: [YEAR_2027] },
  { schedule: '30 2 * * *', timezone: 'Europe/Berlin', windows: [YEAR_2027] },
  { schedule: '30 2 * * *', timezone: 'Australia/Lord_Howe', windows: [YEAR_2027] },
  { schedule: '30 1 * * *', timezone: 'America/New_York', windows: [YEAR_2027] },
  { schedule: '0 1-3 * * *', timezone: 'America/New_York', windows: [YEAR_2027] },
  { schedule: '0 1-3 * * *', timezone: 'Europe/Berlin', windows: [YEAR_2027] },
  { schedule: '0 1-3 * * *', timezone: 'Australia/Lord_Howe', windows: [YEAR_2027] },
  { schedule: '*/30 * * * *', timezone: 'America/New_York' },
  { schedule: '*/30 * * * *', timezone: 'Europe/Berlin' },
  { schedule: '*/30 * * * *', timezone: 'Australia/Lord_Howe' },
  { schedule: '*/15 1-2 * * *', timezone: 'Australia/Lord_Howe', windows: [YEAR_2027] },
  { schedule: '*/30 * * * *', timezone: 'Asia/Kathmandu' },
  { schedule: '45 23 * * *', timezone: 'Asia/Kathmandu', windows: [YEAR_2027] },
];

let connection: Connection;
let client: Client;

beforeAll(async () => {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('TEMPORAL_ADDRESS is not set; the integration global setup exports it');
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace: NAMESPACE });
});

afterAll(async () => {
  await connection?.close();
});

/** Every time the server lists in (start, end], paging past its 1000-per-query limit. */
async function serverMatchingTimes(scheduleId: string, start: Date, end: Date): Promise<Date[]> {
  const out: Date[] = [];
  let from = start;
  for (;;) {
    const response = await client.workflowService.listScheduleMatchingTimes({
      namespace: NAMESPACE,
      scheduleId,
      startTime: optionalDateToTs(from),
      endTime: optionalDateToTs(end),
    });
    const page = (response.startTime ?? []).map((ts) => tsToDate(ts));
    out.push(...page);
    const last = page.at(-1);
    if (page.length < MAX_MATCHING_TIMES || !last) return out;
    from = last;
  }
}

const iso = (times: readonly Date[]): string[] => times.map((time) => time.toISOString());

/**
 * Every spec of the corpus fires on second 0 or 30 of a minute. describe() lists the times after
 * the moment the schedule started, which is createdAt give or take a few milliseconds; creating
 * it at least 2 s away from those marks keeps a fire time from falling in between.
 */
async function awayFromFireMarks(): Promise<void> {
  const intoHalfMinute = Date.now() % 30_000;
  if (intoHalfMinute > 28_000) await sleep(30_000 - intoHalfMinute + 500);
}

describe('the calculator fires exactly when Temporal fires', () => {
  it.each(CORPUS)(
    'when $schedule runs in $timezone, then the calculator gives the times the server lists and plans',
    async ({ schedule, timezone, windows = [] }) => {
      const spec = toScheduleSpec(schedule, timezone);
      const calculator = compileFireTimes(spec);
      await awayFromFireMarks();
      const handle = await client.schedule.create({
        scheduleId: `next-fire-${randomUUID()}`,
        spec,
        action: {
          type: 'startWorkflow',
          workflowType: 'sendWebhook',
          taskQueue: 'next-fire-test',
          args: [],
        },
        state: { paused: true },
      });
      try {
        let listed = 0;
        for (const { label, start, end } of [...(TRANSITIONS[timezone] ?? []), ...windows]) {
          const [from, to] = [new Date(start), new Date(end)];
          const server = await serverMatchingTimes(handle.scheduleId, from, to);
          listed += server.length;
          expect({ window: label, times: iso(calculator.between(from, to)) }).toEqual({
            window: label,
            times: iso(server),
          });
        }

        // Not a vacuous comparison: the windows hold fire times.
        expect(listed).toBeGreaterThan(0);

        const { info } = await handle.describe();
        expect(info.nextActionTimes).toHaveLength(10);
        // The precondition of awayFromFireMarks.
        expect(info.nextActionTimes.filter((time) => time.getTime() % 30_000 !== 0)).toEqual([]);
        expect(iso(calculator.take(info.createdAt, 10))).toEqual(iso(info.nextActionTimes));
      } finally {
        await handle.delete();
      }
    },
  );
});

/**
 * SPEC §14: one-off `@at` times (local ones across the 2027 daylight-saving changes, and ones with
 * an offset) and `startAt`/`endAt` bounds, against the server's answers as above. An `@at` spec
 * fires once; bounds cut the times of an ordinary spec at both ends.
 */
interface BoundedCase extends Case {
  startAt?: string;
  endAt?: string;
  /** Times the server must list in the windows (the comparison is not vacuous). */
  fires: number;
}

const around = (label: string, at: string, hours = 24): Window =>
  span(
    label,
    new Date(Date.parse(at) - hours * 3_600_000).toISOString(),
    new Date(Date.parse(at) + hours * 3_600_000).toISOString(),
  );

const BOUNDED_CASES: BoundedCase[] = [
  // local, in the spring-forward gap (moved forward by it) and the fall-back overlap (the first)
  {
    schedule: '@at 2027-03-14T02:30',
    timezone: 'America/New_York',
    windows: [around('gap', '2027-03-14T07:00:00Z')],
    fires: 1,
  },
  {
    schedule: '@at 2027-11-07T01:30',
    timezone: 'America/New_York',
    windows: [around('overlap', '2027-11-07T06:00:00Z')],
    fires: 1,
  },
  {
    schedule: '@at 2027-10-31T02:30',
    timezone: 'Europe/Berlin',
    windows: [around('overlap', '2027-10-31T01:00:00Z')],
    fires: 1,
  },
  {
    schedule: '@at 2027-10-03T02:15',
    timezone: 'Australia/Lord_Howe',
    windows: [around('30 min gap', '2027-10-02T15:30:00Z')],
    fires: 1,
  },
  {
    schedule: '@at 2027-06-01T12:00:30',
    timezone: 'Asia/Kathmandu',
    windows: [around('local', '2027-06-01T06:00:00Z')],
    fires: 1,
  },
  // with an offset: the task's zone does not matter
  {
    schedule: '@at 2027-06-01T12:00:00Z',
    timezone: 'America/New_York',
    windows: [around('Z', '2027-06-01T12:00:00Z')],
    fires: 1,
  },
  {
    schedule: '@at 2027-06-01T12:00+05:45',
    timezone: 'UTC',
    windows: [around('+05:45', '2027-06-01T06:15:00Z')],
    fires: 1,
  },
  // bounds off the fire marks, inside a window that holds times on both sides of each
  {
    schedule: '* * * * *',
    timezone: 'America/New_York',
    startAt: '2027-03-14T06:57:30Z',
    endAt: '2027-03-14T07:03:00Z',
    windows: [around('spring forward, bounded', '2027-03-14T07:00:00Z', 1)],
    fires: 6,
  },
  {
    schedule: '@every 90s',
    timezone: 'UTC',
    startAt: '2027-06-01T00:00:10Z',
    endAt: '2027-06-01T00:30:00Z',
    windows: [around('interval, bounded', '2027-06-01T00:15:00Z', 1)],
    fires: 20,
  },
  {
    schedule: '0 9 * * *',
    timezone: 'Europe/Berlin',
    startAt: '2027-10-30T08:00:00+02:00',
    endAt: '2027-11-02T08:00:00Z',
    windows: [around('daily across fall back, bounded', '2027-10-31T12:00:00Z', 96)],
    fires: 4,
  },
  {
    schedule: '0 9 * * *',
    timezone: 'Europe/Berlin',
    startAt: '2027-10-30T07:00:00Z',
    endAt: '2027-10-30T07:00:00Z',
    windows: [around('both bounds on the fire time (inclusive)', '2027-10-30T07:00:00Z', 48)],
    fires: 1,
  },
];

const BOUNDED = BOUNDED_CASES.map((c) => ({
  ...c,
  bounds: c.startAt || c.endAt ? `${c.startAt ?? '-'} to ${c.endAt ?? '-'}` : 'none',
}));

describe('one-off times and bounds fire exactly when Temporal fires (SPEC §14)', () => {
  it.each(BOUNDED)(
    'when $schedule runs in $timezone (bounds: $bounds), then the calculator gives the times the server lists and plans',
    async ({ schedule, timezone, windows = [], startAt, endAt, fires }) => {
      const spec = toScheduleSpec(schedule, timezone, {
        startAt: startAt ? new Date(startAt) : null,
        endAt: endAt ? new Date(endAt) : null,
      });
      const calculator = compileFireTimes(spec);
      const handle = await client.schedule.create({
        scheduleId: `next-fire-${randomUUID()}`,
        spec,
        action: {
          type: 'startWorkflow',
          workflowType: 'sendWebhook',
          taskQueue: 'next-fire-test',
          args: [],
        },
        state: { paused: true },
      });
      try {
        let listed = 0;
        for (const { label, start, end } of windows) {
          const [from, to] = [new Date(start), new Date(end)];
          const server = await serverMatchingTimes(handle.scheduleId, from, to);
          listed += server.length;
          expect({ window: label, times: iso(calculator.between(from, to)) }).toEqual({
            window: label,
            times: iso(server),
          });
        }
        expect(listed).toBe(fires);

        const { info } = await handle.describe();
        expect(info.nextActionTimes.length).toBeGreaterThan(0);
        expect(iso(calculator.take(info.createdAt, 10))).toEqual(iso(info.nextActionTimes));
      } finally {
        await handle.delete();
      }
    },
  );
});
