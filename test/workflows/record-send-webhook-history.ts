import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
} from '@temporalio/worker';
import type {
  DeliverWebhookInput,
  DeliverWebhookResult,
  DeliveryPolicy,
  DeliveryStart,
  InfrastructureFailureDetails,
} from '../../src/temporal/contracts';

/**
 * Records the histories that send-webhook.replay.test.ts replays: runs sendWebhook of a given
 * checkout (e.g. a `git worktree` of an earlier release) on a Temporal dev server, with mocked
 * activities whose outcomes each scenario fixes, and writes the run's history as JSON.
 *
 *   TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx test/workflows/record-send-webhook-history.ts \
 *     <checkout> <scenario>... && npx prettier --write test/workflows/histories
 *
 * Scenarios for the workflow before SPEC §13's waits (first local call `getDeliveryPolicy`) start
 * with `v0845ec0-`; the others are for the workflow with the `discord-aware-delivery` patch.
 */

const POLICY: DeliveryPolicy = {
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumIntervalMs: 10_000,
  activityTimeoutMs: 5000,
  firstAttemptLocal: true,
};

const OK: DeliverWebhookResult = { status: 'SUCCESS', messageId: '1234', httpStatus: 200 };

interface Scenario {
  /** The first local call's name in the workflow it is recorded with. */
  startedBy: 'getDeliveryPolicy' | 'startDelivery';
  maxRetry: number;
  /** The outcome of attempt `n` (1-based, over the whole run). */
  deliver: (n: number, input: DeliverWebhookInput) => DeliverWebhookResult;
  outcome: 'completed' | 'failed';
}

/** Before SPEC §13: a 429 or a 5xx was a retryable failure the retry policy counted. */
const retryable = (type: string, message: string, retryDelayMs: number) =>
  ApplicationFailure.create({
    message,
    type,
    nextRetryDelay: type === 'DiscordRateLimited' ? retryDelayMs : undefined,
    details: [{ retryDelayMs }],
  });

/** SPEC §13: Discord's limits and outages, thrown for the workflow to wait out. */
const discordWait = (type: string, details: InfrastructureFailureDetails) =>
  ApplicationFailure.create({ message: type, type, nonRetryable: true, details: [details] });

const SCENARIOS: Record<string, Scenario> = {
  'v0845ec0-first-attempt-succeeds': {
    startedBy: 'getDeliveryPolicy',
    maxRetry: 2,
    deliver: () => OK,
    outcome: 'completed',
  },
  'v0845ec0-local-429-then-regular-succeeds': {
    startedBy: 'getDeliveryPolicy',
    maxRetry: 2,
    deliver: (n) => {
      if (n === 1)
        throw retryable('DiscordRateLimited', 'HTTP 429: You are being rate limited.', 1500);
      return OK;
    },
    outcome: 'completed',
  },
  // The last attempt's 429 fails the task: before SPEC §13 a 429 counted like a 5xx.
  'v0845ec0-regular-exhausted-fails': {
    startedBy: 'getDeliveryPolicy',
    maxRetry: 2,
    deliver: (n) => {
      if (n === 3)
        throw retryable('DiscordRateLimited', 'HTTP 429: You are being rate limited.', 500);
      throw retryable('DiscordUnavailable', 'HTTP 500: Internal Server Error', 1000);
    },
    outcome: 'failed',
  },
  // A 429 on the local first attempt, then on the regular activity: two waits, no retry used.
  'discord-429-wait-then-succeeds': {
    startedBy: 'startDelivery',
    maxRetry: 2,
    deliver: (n) => {
      if (n <= 2)
        throw discordWait('DiscordRateLimited', {
          attemptsMade: n,
          failuresCounted: 0,
          retryDelayMs: 1000,
        });
      return OK;
    },
    outcome: 'completed',
  },
  // Discord down for everyone: the outage backoff (no retryDelayMs), then Discord's own delay.
  'discord-down-wait-then-succeeds': {
    startedBy: 'startDelivery',
    maxRetry: 0,
    deliver: (n) => {
      if (n === 1) throw discordWait('DiscordDown', { attemptsMade: 1, failuresCounted: 0 });
      if (n === 2)
        throw discordWait('DiscordDown', {
          attemptsMade: 2,
          failuresCounted: 0,
          retryDelayMs: 500,
        });
      return OK;
    },
    outcome: 'completed',
  },
  // The webhook's 500 counts; then its bucket is empty (attempt 2 not made) and the run waits.
  'discord-paced-wait-then-succeeds': {
    startedBy: 'startDelivery',
    maxRetry: 2,
    deliver: (n, input) => {
      if (n === 1) throw retryable('DiscordUnavailable', 'HTTP 500: Internal Server Error', 1000);
      if (input.failuresCounted === 1 && input.rateLimitedSince === undefined)
        throw discordWait('DiscordPaced', {
          attemptsMade: 1,
          failuresCounted: 1,
          retryDelayMs: 300,
        });
      return OK;
    },
    outcome: 'completed',
  },
  // SPEC §13 message modes: a replace run that deletes its message an hour after the post starts
  // two deleteMessage children (the replaced message now, its own later) and completes.
  'replace-with-delete-after-starts-deletes': {
    startedBy: 'startDelivery',
    maxRetry: 1,
    deliver: () => ({
      ...OK,
      followUp: {
        messageId: '1234',
        replacedMessageId: '1111',
        deleteAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    }),
    outcome: 'completed',
  },
};

function mockActivities(scenario: Scenario) {
  async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
    return scenario.deliver((input.attemptOffset ?? 0) + Context.current().info.attempt, input);
  }
  // Given the first attempt's input (with the policy's firstAttemptLocal), it makes that attempt.
  async function start(first?: DeliverWebhookInput): Promise<DeliveryStart> {
    return first ? { ...POLICY, firstAttempt: await deliverWebhook(first) } : POLICY;
  }
  const common = {
    getDeliveryPolicy: start,
    deliverWebhook,
    markTaskFailed: async () => undefined,
    recordAttempt: async () => undefined,
    deleteDiscordMessage: async () => ({ status: 'DELETED' as const }),
  };
  return scenario.startedBy === 'startDelivery' ? { ...common, startDelivery: start } : common;
}

async function record(
  address: string,
  checkout: string,
  name: string,
  scenario: Scenario,
): Promise<void> {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: path.join(checkout, 'workflows'),
    logger: new DefaultLogger('ERROR'),
  });
  const taskQueue = `record-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle,
      activities: mockActivities(scenario),
    });
    const client = new Client({ connection: clientConnection });
    const handle = await client.workflow.start('sendWebhook', {
      taskQueue,
      workflowId: `task-${randomUUID()}-recorded`,
      args: [{ taskId: randomUUID(), maxRetry: scenario.maxRetry }],
    });
    const outcome = await worker.runUntil(
      handle.result().then(
        () => 'completed',
        (error: unknown) => {
          if (error instanceof WorkflowFailedError) return 'failed';
          throw error;
        },
      ),
    );
    if (outcome !== scenario.outcome)
      throw new Error(`${name}: the run ${outcome}, expected ${scenario.outcome}`);
    const history = temporal.api.history.v1.History.create(await handle.fetchHistory());
    const file = path.join(__dirname, 'histories', `${name}.json`);
    fs.writeFileSync(file, `${JSON.stringify(history.toJSON(), null, 2)}\n`);
    console.log(`${name}: ${outcome}, ${history.events.length} events -> ${file}`);
  } finally {
    await clientConnection.close();
    await connection.close();
  }
}

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const [checkout, ...names] = process.argv.slice(2);
  if (!address || !checkout || names.length === 0) {
    throw new Error(
      `usage: TEMPORAL_ADDRESS=host:port tsx ${path.basename(__filename)} <checkout> <scenario>...\n` +
        `scenarios: ${Object.keys(SCENARIOS).join(', ')}`,
    );
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`unknown scenario ${name}`);
    await record(address, path.resolve(checkout), name, scenario);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
