import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../src/temporal/workflow-bundle';

/**
 * Runs that started under an earlier sendWebhook must go on under the current one: a worker of
 * the new version picks up their next workflow task (a rolling deploy, a retry minutes later) and
 * replays their history first. record-send-webhook-history.ts records them, with mocked activities:
 * - `local-first-attempt-*`: the workflow of commit 41a99c6, where reading the policy and the local
 *   first attempt were two local activities.
 * - `v0845ec0-*`: the workflow of commit 0845ec0 (the release before SPEC §13's waits): one local
 *   `getDeliveryPolicy` reads the policy and makes the first attempt, and a 429 is a retryable
 *   failure that the retry policy counts like a 5xx.
 * - `discord-*`: the workflow with the `discord-aware-delivery` patch (commit 614a0f6): the local
 *   call is `startDelivery`, and Discord's 429s, empty buckets and outages are waited out on
 *   timers. Later changes must keep these replaying too.
 */
const HISTORIES = path.join(__dirname, 'histories');

function read(name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(HISTORIES, `${name}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
}

function load(name: string): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(read(name));
}

type RecordedEvent = {
  eventId?: string;
  markerRecordedEventAttributes?: { markerName?: string };
  upsertWorkflowSearchAttributesEventAttributes?: unknown;
  timerStartedEventAttributes?: unknown;
  timerFiredEventAttributes?: { startedEventId?: string };
};

/** Event ids and references to them (`*EventId`), as if the events `gone` were never recorded. */
function renumbered(value: unknown, newId: (id: number) => number, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => renumbered(item, newId));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renumbered(v, newId, k)]));
  }
  return /(^e|E)ventId$/.test(key) && typeof value === 'string'
    ? String(newId(Number(value)))
    : value;
}

/** The recorded history without the events `drop` picks, as a run without them would have it. */
function loadWithout(
  name: string,
  drop: (event: RecordedEvent, events: RecordedEvent[]) => boolean,
): temporal.api.history.v1.History {
  const events = read(name)['events'] as RecordedEvent[];
  const gone = events.filter((e) => drop(e, events)).map((e) => Number(e.eventId));
  const kept = events.filter((e) => !drop(e, events));
  const newId = (id: number) => id - gone.filter((g) => g < id).length;
  return temporal.api.history.v1.History.fromObject(
    renumbered({ events: kept }, newId) as Record<string, unknown>,
  );
}

let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: new DefaultLogger('ERROR'),
  });
}, 120_000);

describe('sendWebhook replays histories of the earlier version', () => {
  it.each([
    'local-first-attempt-succeeds',
    'local-first-attempt-fails-then-regular-succeeds',
    'v0845ec0-first-attempt-succeeds',
    'v0845ec0-local-429-then-regular-succeeds',
    'v0845ec0-regular-exhausted-fails',
    'discord-429-wait-then-succeeds',
    'discord-down-wait-then-succeeds',
    'discord-paced-wait-then-succeeds',
    'replace-with-delete-after-starts-deletes',
  ])(
    'when a run recorded as "%s" is replayed, then the current workflow makes the same commands',
    async (name) => {
      await expect(
        Worker.runReplayHistory({ workflowBundle }, load(name)),
      ).resolves.toBeUndefined();
    },
  );

  it('when a recorded local activity is not the one the workflow calls, then the replay fails (the check above can fail)', async () => {
    const history = load('local-first-attempt-succeeds');
    const marker = history.events?.find((e) => e.markerRecordedEventAttributes);
    const details = marker?.markerRecordedEventAttributes?.details?.['data']?.payloads?.[0];
    if (!details?.data) throw new Error('the recorded history has no local activity marker');
    const data = JSON.parse(Buffer.from(details.data).toString('utf8')) as Record<string, unknown>;
    expect(data['activity_type']).toBe('getDeliveryPolicy');
    details.data = Buffer.from(JSON.stringify({ ...data, activity_type: 'somethingElse' }));

    await expect(Worker.runReplayHistory({ workflowBundle }, history)).rejects.toThrow(
      /[Nn]ondetermin/,
    );
  });

  it.each([
    'discord-429-wait-then-succeeds',
    'discord-down-wait-then-succeeds',
    'discord-paced-wait-then-succeeds',
  ])(
    'when "%s" is replayed without its discord-aware-delivery patch marker, then the workflow takes the earlier path and the replay fails (the new histories are guarded by the patch)',
    async (name) => {
      const history = loadWithout(
        name,
        (e) =>
          e.markerRecordedEventAttributes?.markerName === 'core_patch' ||
          // The patch's TemporalChangeVersion search attribute, written with its marker.
          e.upsertWorkflowSearchAttributesEventAttributes !== undefined,
      );
      expect(history.events).toHaveLength((read(name)['events'] as unknown[]).length - 2);

      await expect(Worker.runReplayHistory({ workflowBundle }, history)).rejects.toThrow(
        /[Nn]ondeterminism.*'startDelivery'.*'getDeliveryPolicy'/,
      );
    },
  );

  it('when a run that owed deletes is replayed without their child starts, then the replay fails (deletes are commands in the history, not lost with a worker)', async () => {
    type ChildEvent = RecordedEvent & {
      startChildWorkflowExecutionInitiatedEventAttributes?: unknown;
      childWorkflowExecutionStartedEventAttributes?: unknown;
    };
    const name = 'replace-with-delete-after-starts-deletes';
    const isChild = (e: ChildEvent) =>
      e.startChildWorkflowExecutionInitiatedEventAttributes !== undefined ||
      e.childWorkflowExecutionStartedEventAttributes !== undefined;
    const children = (read(name)['events'] as ChildEvent[]).filter(isChild);
    expect(children).toHaveLength(4);
    const history = loadWithout(name, (e) => isChild(e as ChildEvent));

    await expect(Worker.runReplayHistory({ workflowBundle }, history)).rejects.toThrow(
      /[Nn]ondetermin/,
    );
  });

  it("when a recorded 429 wait is replayed without its timer, then the replay fails (Discord's waits are durable timers)", async () => {
    const history = loadWithout('discord-429-wait-then-succeeds', (e, events) => {
      const firstTimer = events.find((t) => t.timerStartedEventAttributes)?.eventId;
      return e.eventId === firstTimer || e.timerFiredEventAttributes?.startedEventId === firstTimer;
    });
    expect(history.events?.filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);

    await expect(Worker.runReplayHistory({ workflowBundle }, history)).rejects.toThrow(
      /[Nn]ondetermin/,
    );
  });
});
