import {
  executionMetadata,
  SUMMARY_MAX_BYTES,
  TASK_ID_KEY,
  TASK_NAME_KEY,
  truncateBytes,
} from '../../src/temporal/execution-metadata';
import { buildScheduleOptions, type SchedulableTask } from '../../src/temporal/schedules';
import {
  devServerSearchAttributeFlags,
  registerCommand,
} from '../../src/temporal/search-attributes';

describe('the search attributes, summary and details of a task execution (SPEC §15)', () => {
  const task = {
    id: '0b0e6c1e-6f0a-4b7e-9d52-3f1d2a4c5b6e',
    name: 'Stand-up reminder',
    schedule: '0 9 * * 1-5',
    timezone: 'Europe/Paris',
  };

  it('when a scheduled run is described, then its summary names the task, says the schedule in words and the zone, and its details link the console', () => {
    const metadata = executionMetadata(task, {
      kind: 'scheduled',
      publicUrl: 'https://scheduler.example.com',
    });
    expect(metadata.staticSummary).toBe(
      'Stand-up reminder · At 09:00, Monday through Friday (Europe/Paris)',
    );
    expect(metadata.staticDetails).toContain('`0 9 * * 1-5`');
    expect(metadata.staticDetails).toContain(
      `[Open the task in the console](https://scheduler.example.com/tasks/${task.id})`,
    );
    expect(metadata.typedSearchAttributes).toEqual([
      { key: TASK_ID_KEY, value: task.id },
      { key: TASK_NAME_KEY, value: 'Stand-up reminder' },
    ]);
    expect(TASK_ID_KEY).toEqual({ name: 'TaskId', type: 'KEYWORD' });
    expect(TASK_NAME_KEY).toEqual({ name: 'TaskName', type: 'KEYWORD' });
  });

  it('when a manual run is described, then its summary says so, and without a public URL the details have no link', () => {
    const metadata = executionMetadata(task, { kind: 'manual' });
    expect(metadata.staticSummary).toBe(
      'Stand-up reminder · manual run · schedule At 09:00, Monday through Friday (Europe/Paris)',
    );
    expect(metadata.staticDetails).toContain('manual');
    expect(metadata.staticDetails).not.toContain('](');
  });

  it('when the name and the words are long, then the summary stays within what Temporal accepts, cut between characters', () => {
    const long = {
      ...task,
      name: '📣'.repeat(100),
      schedule: '0,5,10,15,20,25,30,35,40,45,50,55 0-12 1-15 * 1,2,3',
    };
    const { staticSummary, typedSearchAttributes } = executionMetadata(long, { kind: 'scheduled' });
    expect(Buffer.byteLength(staticSummary)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(staticSummary.endsWith('…')).toBe(true);
    expect(staticSummary).not.toContain('\uFFFD');
    // The attribute keeps the name whole: it is what the Web UI's query matches.
    expect(typedSearchAttributes[1]!.value).toBe(long.name);
    expect(truncateBytes('short', 10)).toBe('short');
  });

  it('when a name spans lines, then the summary is one line and the attribute is the name as stored', () => {
    const { staticSummary, typedSearchAttributes } = executionMetadata(
      { ...task, name: 'two\nlines' },
      { kind: 'scheduled' },
    );
    expect(staticSummary.startsWith('two lines · ')).toBe(true);
    expect(typedSearchAttributes[1]!.value).toBe('two\nlines');
  });

  it('when a schedule is built from a row that holds secrets, then nothing of them reaches Temporal', () => {
    const token = 'sEcReT-t0ken-value';
    const row = {
      ...task,
      maxRetry: 2,
      status: 'ACTIVE',
      webhookUrl: `https://discord.com/api/webhooks/123/${token}`,
      payload: { content: `secret payload ${token}` },
    } as SchedulableTask;
    const options = buildScheduleOptions(row, {
      taskQueue: 'q',
      catchupWindowMs: 60_000,
      publicUrl: 'https://scheduler.example.com',
    });
    expect(JSON.stringify(options)).not.toContain(token);
    expect(options.action.staticSummary).toContain('Stand-up reminder');
  });

  it('when the attributes are registered by hand or by the dev server, then the command and flags name both as Keyword', () => {
    expect(registerCommand('default')).toBe(
      'temporal operator search-attribute create --namespace default --name TaskId --name TaskName --type Keyword',
    );
    expect(devServerSearchAttributeFlags()).toEqual([
      '--search-attribute',
      'TaskId=Keyword',
      '--search-attribute',
      'TaskName=Keyword',
    ]);
  });
});
