import { describeSchedule } from '../../src/schedule/describe';

describe('describeSchedule (the schedule in words, for the preview route and the console)', () => {
  it.each([
    ['30 9 * * MON-FRI', 'At 09:30, Monday through Friday'],
    ['*/5 * * * *', 'Every 5 minutes'],
    ['0 9 1 * MON', 'At 09:00, on day 1 of the month, and on Monday'],
    ['0 0 * * 7', 'At 00:00, only on Sunday'],
    ['@daily', 'At 00:00'],
    ['@HOURLY', 'Every hour'],
    ['@yearly', 'At 00:00, on day 1 of the month, only in January'],
    ['@every 1h', 'Every hour (counted from 00:00 UTC)'],
    ['@every 90s', 'Every 90 seconds (counted from 00:00 UTC)'],
    ['  0   12  *  *  * ', 'At 12:00'],
  ])('when the schedule is %j, then it reads %j', (schedule, words) => {
    expect(describeSchedule(schedule)).toBe(words);
  });

  it('when a schedule cannot be described, then the expression itself is shown', () => {
    expect(describeSchedule('not a cron')).toBe('not a cron');
  });
});
