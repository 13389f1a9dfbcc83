import {
  buildScheduleOptions,
  fingerprintInNote,
  noteText,
  scheduleFingerprint,
  type SchedulableTask,
  type ScheduleSettings,
  specDrift,
  specKey,
} from '../../src/temporal/schedules';

/**
 * scheduleFingerprint of the task below since SPEC §15 (search attributes, summary and details on
 * the schedule's action). It was '40ed4713787c' from before SPEC §14 until then: the hash changed
 * on purpose, so that the next reconciliation describes each schedule written before, finds it
 * without TaskId, TaskName and summary (scheduleDrift), and updates it (test/integration/
 * executions-by-task.test.ts proves that on a real server).
 */
const FINGERPRINT_SINCE_SEARCH_ATTRIBUTES = '264ea50b0318';

describe('scheduleFingerprint', () => {
  const settings: ScheduleSettings = { taskQueue: 'discord-webhooks', catchupWindowMs: 300_000 };
  const task: SchedulableTask = {
    id: '0b0e6c1e-6f0a-4b7e-9d52-3f1d2a4c5b6e',
    name: 'standup reminder',
    schedule: '*/10 * * * *',
    timezone: 'Europe/Paris',
    maxRetry: 2,
    status: 'ACTIVE',
  };
  const fingerprint = scheduleFingerprint(task, settings);

  it('when the same task is fingerprinted twice, then the hash is the same 12 hex digits', () => {
    expect(fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(scheduleFingerprint({ ...task }, { ...settings })).toBe(fingerprint);
  });

  it('when a task has no bounds, then its hash is the same as with bounds unset, and pinned', () => {
    expect(
      scheduleFingerprint(
        { ...task, startAt: null, endAt: null, maxRuns: null, runsLeft: null },
        settings,
      ),
    ).toBe(fingerprint);
    // Pinned: a change to the hash's input makes every schedule look changed once, which must
    // be a decision, never an accident.
    expect(fingerprint).toBe(FINGERPRINT_SINCE_SEARCH_ATTRIBUTES);
  });

  it('when maxRuns counts down, then the hash stays (Temporal counts its own actions)', () => {
    const limited = { ...task, maxRuns: 3, runsLeft: 3 };
    expect(scheduleFingerprint({ ...limited, runsLeft: 1 }, settings)).toBe(
      scheduleFingerprint(limited, settings),
    );
  });

  it('when a task has bounds and maxRuns, then its schedule has them: spec bounds and limited actions', () => {
    const options = buildScheduleOptions(
      {
        ...task,
        startAt: new Date('2030-01-01T00:00:00Z'),
        endAt: new Date('2030-02-01T00:00:00Z'),
        maxRuns: 5,
        runsLeft: 2,
      },
      settings,
    );
    expect(options.spec.startAt).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(options.spec.endAt).toEqual(new Date('2030-02-01T00:00:00Z'));
    expect(options.state?.remainingActions).toBe(2);
    const unlimited = buildScheduleOptions(task, settings);
    expect(unlimited.state?.remainingActions).toBeUndefined();
    expect(unlimited.spec.startAt).toBeUndefined();
  });

  it('when a task is COMPLETED, then its schedule is paused with a note that says so', () => {
    const options = buildScheduleOptions({ ...task, status: 'COMPLETED' }, settings);
    expect(options.state?.paused).toBe(true);
    expect(noteText(options.state?.note)).toBe('completed: no run ahead');
  });

  it('when anything the schedule runs with changes, then the hash changes', () => {
    const variants: [string, SchedulableTask, typeof settings][] = [
      ['maxRetry', { ...task, maxRetry: 3 }, settings],
      ['schedule', { ...task, schedule: '*/5 * * * *' }, settings],
      ['time zone', { ...task, timezone: 'UTC' }, settings],
      ['paused', { ...task, status: 'INACTIVE' }, settings],
      ['task id', { ...task, id: '1b0e6c1e-6f0a-4b7e-9d52-3f1d2a4c5b6e' }, settings],
      ['task queue', task, { ...settings, taskQueue: 'other' }],
      ['catch-up window', task, { ...settings, catchupWindowMs: 60_000 }],
      ['startAt', { ...task, startAt: new Date('2030-01-01T00:00:00Z') }, settings],
      ['endAt', { ...task, endAt: new Date('2030-01-01T00:00:00Z') }, settings],
      ['maxRuns', { ...task, maxRuns: 3, runsLeft: 3 }, settings],
      // TaskName, the summary and the details name the task (SPEC §15): a rename updates them.
      ['name', { ...task, name: 'renamed' }, settings],
      // The details link to the console.
      ['console address', task, { ...settings, publicUrl: 'https://scheduler.example.com' }],
    ];
    const hashes = variants.map(([what, t, s]) => [what, scheduleFingerprint(t, s)]);
    for (const [what, hash] of hashes) expect([what, hash]).not.toEqual([what, fingerprint]);
    expect(new Set(hashes.map(([, hash]) => hash)).size).toBe(variants.length);
  });

  it('when only the spelling of the same times changes, then the spec is the same but the hash follows the words the runs show', () => {
    const respelled = { ...task, schedule: '0-59/10 * * * *' };
    expect(
      specDrift(
        buildScheduleOptions(respelled, settings).spec,
        buildScheduleOptions(task, settings).spec,
      ),
    ).toEqual([]);
    // The summary says the schedule in words and the details quote it: both change with it.
    expect(scheduleFingerprint(respelled, settings)).not.toBe(fingerprint);
  });

  it('when the task is INACTIVE or FAILED, then both are paused schedules with the same hash', () => {
    expect(scheduleFingerprint({ ...task, status: 'FAILED' }, settings)).toBe(
      scheduleFingerprint({ ...task, status: 'INACTIVE' }, settings),
    );
  });
});

describe('specKey', () => {
  const settings: ScheduleSettings = { taskQueue: 'discord-webhooks', catchupWindowMs: 300_000 };
  const specOf = (schedule: string, timezone = 'UTC') =>
    buildScheduleOptions(
      {
        id: '0b0e6c1e-6f0a-4b7e-9d52-3f1d2a4c5b6e',
        name: 'n',
        schedule,
        timezone,
        maxRetry: 0,
        status: 'ACTIVE',
      },
      settings,
    ).spec;

  it('when two specs have no drift between them, then their keys are equal, and they differ wherever specDrift finds one', () => {
    const schedules = [
      '*/10 * * * *',
      '0-59/10 * * * *',
      '0 9 * * 1-5',
      '0 9 * * 1',
      '@every 90s',
      '30 4 1 * *',
    ];
    const zones = ['UTC', 'Europe/Paris'];
    const specs = schedules.flatMap((schedule) => zones.map((zone) => specOf(schedule, zone)));
    for (const a of specs)
      for (const b of specs) expect(specKey(a) === specKey(b)).toBe(specDrift(a, b).length === 0);
    // Not every pair is equal: the check above compares something.
    expect(new Set(specs.map(specKey)).size).toBe(specs.length - 2);
  });

  it("when a spec comes back as describe() shows it (comments, empty years), then its key is the desired one's", () => {
    const desired = specOf('0 9 * * 1-5', 'Europe/Paris');
    const described = {
      ...desired,
      calendars: desired.calendars!.map((calendar) => ({
        ...calendar,
        comment: 'written by the console',
        year: [],
      })),
    };
    expect(specKey(described)).toBe(specKey(desired));
    expect(specKey({ ...described, timezone: 'UTC' })).not.toBe(specKey(desired));
  });
});

describe('schedule note', () => {
  const settings = { taskQueue: 'discord-webhooks', catchupWindowMs: 300_000 };
  const task: SchedulableTask = {
    id: '0b0e6c1e-6f0a-4b7e-9d52-3f1d2a4c5b6e',
    name: 'standup reminder',
    schedule: '@daily',
    timezone: 'UTC',
    maxRetry: 0,
    status: 'ACTIVE',
  };

  it('when a schedule is built, then its note keeps the readable status and ends with the fingerprint', () => {
    const fingerprint = scheduleFingerprint(task, settings);
    expect(buildScheduleOptions(task, settings).state?.note).toBe(`active · config ${fingerprint}`);
    const off = { ...task, status: 'INACTIVE' as const };
    expect(buildScheduleOptions(off, settings).state?.note).toBe(
      `paused: task toggled off · config ${scheduleFingerprint(off, settings)}`,
    );
  });

  it('when a note is read back, then the fingerprint and the readable text are told apart', () => {
    expect(fingerprintInNote('active · config 3f9a1c2e4b7d')).toBe('3f9a1c2e4b7d');
    expect(noteText('active · config 3f9a1c2e4b7d')).toBe('active');
    expect(fingerprintInNote('config 3f9a1c2e4b7d')).toBe('3f9a1c2e4b7d');
    expect(fingerprintInNote('active')).toBeUndefined();
    expect(fingerprintInNote(undefined)).toBeUndefined();
    expect(fingerprintInNote('paused due to workflow failure: task-1: boom')).toBeUndefined();
    expect(noteText('paused due to workflow failure: task-1: boom')).toBe(
      'paused due to workflow failure: task-1: boom',
    );
  });
});
