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
 * replays their history first. These histories were recorded with the workflow of commit 41a99c6,
 * where reading the policy and the local first attempt were two local activities.
 */
const HISTORIES = path.join(__dirname, 'histories');

function load(name: string): temporal.api.history.v1.History {
  const json: unknown = JSON.parse(fs.readFileSync(path.join(HISTORIES, `${name}.json`), 'utf8'));
  return temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
}

let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: new DefaultLogger('ERROR'),
  });
}, 120_000);

describe('sendWebhook replays histories of the earlier version', () => {
  it.each(['local-first-attempt-succeeds', 'local-first-attempt-fails-then-regular-succeeds'])(
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
});
