import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startTemporalDevServer } from '../../src/embedded/temporal-dev-server';
import { TASK_ID_KEY, TASK_NAME_KEY } from '../../src/temporal/execution-metadata';
import { testEnv } from '../helpers/app';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';
import { callApi, createProduct, type Product, waitFor } from '../helpers/product';

const execFileAsync = promisify(execFile);

/**
 * SPEC §15 "executions by task", as an operator meets it: `npm start` (embedded Temporal dev
 * server and its Web UI), a task that ran on its schedule and by hand, then the Web UI's list
 * filtered by `TaskName = "<name>"` and by `TaskId = "<id>"`: through the `temporal` CLI and
 * through the Web UI's own HTTP API, which is what its list page asks. Each execution's summary
 * names the task.
 */
describe('executions found by task in the Temporal Web UI (npm start)', () => {
  let mock: MockDiscord;
  let product: Product;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    mock = await startMockDiscord();
    product = await createProduct({ env: { WEBHOOK_ALLOWED_ORIGINS: mock.url } });
    // The embedded state file of a version from before SPEC §15: a dev server that never had the
    // attributes. start-dev registers them only when it creates its state, so here they come
    // from the API's start.
    const before = await startTemporalDevServer({
      cliPath: testEnv().temporalCliPath,
      dbFilename: path.join(product.dataDir, 'temporal.db'),
      uiPort: false,
      searchAttributes: false,
    });
    await before.stop();
    await product.start();
    connection = await Connection.connect({ address: `127.0.0.1:${product.ports.temporal}` });
    client = new Client({ connection, namespace: 'default' });
  }, 180_000);
  afterAll(async () => {
    await connection?.close();
    await product?.dispose();
    await mock?.close();
  });

  /** The workflow ids `temporal workflow list --query` lists. */
  const listWithCli = async (query: string): Promise<string[]> => {
    const { stdout } = await execFileAsync(testEnv().temporalCliPath, [
      'workflow',
      'list',
      '--address',
      `127.0.0.1:${product.ports.temporal}`,
      '--namespace',
      'default',
      '--query',
      query,
      '--output',
      'json',
    ]);
    // The pinned CLI prints one JSON array.
    const listed = JSON.parse(stdout || '[]') as { execution: { workflowId: string } }[];
    return listed.map((execution) => execution.execution.workflowId);
  };

  /** The workflow ids the Web UI's list page gets for the query, from the UI server's API. */
  const listWithWebUi = async (query: string): Promise<string[]> => {
    const response = await fetch(
      `http://127.0.0.1:${product.ports.ui}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(query)}`,
      { signal: AbortSignal.timeout(10_000) },
    );
    if (response.status !== 200) throw new Error(`Web UI API: ${response.status}`);
    const body = (await response.json()) as {
      executions?: { execution: { workflowId: string } }[];
    };
    return (body.executions ?? []).map((execution) => execution.execution.workflowId);
  };

  it('when the embedded state file is from before the attributes, then npm start registers them', async () => {
    // The API registers them beside serving, as its start-up reconciliation runs.
    const registered = await waitFor('the API to register the attributes', () =>
      product
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg?: string; added?: string[]; durationMs?: number })
        .find((line) => line.msg === 'registered the task search attributes'),
    );
    expect(registered.added).toEqual(['TaskId', 'TaskName']);
    process.stderr.write(
      `[executions-by-task] registered at API start in ${registered.durationMs} ms\n`,
    );
    const { stdout } = await execFileAsync(testEnv().temporalCliPath, [
      ...['operator', 'search-attribute', 'list', '--output', 'json'],
      ...['--address', `127.0.0.1:${product.ports.temporal}`],
    ]);
    const listed = JSON.parse(stdout) as { customAttributes: Record<string, string> };
    expect(listed.customAttributes).toMatchObject({
      TaskId: 'INDEXED_VALUE_TYPE_KEYWORD',
      TaskName: 'INDEXED_VALUE_TYPE_KEYWORD',
    });
  });

  it('when a task ran on its schedule and by hand, then TaskName and TaskId queries each list both runs, in the CLI and in the Web UI, and each run is summarized by the task name', async () => {
    const name = `Stand-up reminder ${randomUUID().slice(0, 8)}`;
    const webhookUrl = mock.webhookUrl();
    const webhookId = webhookUrl.split('/').at(-2)!;
    const created = await callApi<{ id: string }>(product, 'POST', '/api/tasks', {
      name,
      schedule: '@every 5s',
      timezone: 'Europe/Paris',
      webhookUrl,
      payload: { content: 'stand-up in 5' },
    });
    expect(created.status).toBe(201);
    const taskId = created.body.id;

    // A scheduled run delivers; then the schedule is paused, so that the runs stay countable.
    await mock.waitForRequests(1, { webhookId, timeoutMs: 30_000 });
    expect((await callApi(product, 'POST', `/api/tasks/${taskId}/toggle`)).status).toBe(200);
    const triggered = await callApi<{ workflowId: string }>(
      product,
      'POST',
      `/api/tasks/${taskId}/trigger`,
    );
    expect(triggered.status).toBe(202);
    const manualId = triggered.body.workflowId;
    const deliveredAt = Date.now();
    await waitFor('the manual run to be delivered', async () => {
      const rows = await callApi<{ data: { workflowId: string; status: string }[] }>(
        product,
        'GET',
        `/api/tasks/${taskId}/logs`,
      );
      return rows.body.data.some((row) => row.workflowId === manualId && row.status === 'SUCCESS')
        ? true
        : undefined;
    });

    const scheduledRun = (ids: string[]) =>
      ids.some((id) => id.startsWith(`task-${taskId}-`) && !id.includes('-manual-'));
    const listsBoth = (ids: string[]) =>
      ids.includes(manualId) &&
      scheduledRun(ids) &&
      ids.every((id) => id.startsWith(`task-${taskId}-`));
    const queries = [`TaskName = "${name}"`, `TaskId = "${taskId}"`];
    const figures: Record<string, unknown> = {};
    for (const query of queries) {
      for (const [how, list] of [
        ['cli', listWithCli],
        ['webUi', listWithWebUi],
      ] as const) {
        const ids = await waitFor(
          `${how} to list both runs for ${query}`,
          async () => {
            const listed = await list(query);
            return listsBoth(listed) ? listed : undefined;
          },
          30_000,
          500,
        );
        figures[`${how} ${query.split(' ')[0]}`] = {
          runs: ids.length,
          visibleAfterMs: Date.now() - deliveredAt,
        };
      }
    }

    // Each run: its search attributes and a summary that names the task; the details link to
    // the console; nothing of the webhook URL.
    const ids = await listWithCli(`TaskId = "${taskId}"`);
    const token = webhookUrl.split('/').at(-1)!;
    for (const id of ids) {
      const description = await client.workflow.getHandle(id).describe();
      expect(description.typedSearchAttributes.get(TASK_ID_KEY)).toBe(taskId);
      expect(description.typedSearchAttributes.get(TASK_NAME_KEY)).toBe(name);
      const summary = await description.staticSummary();
      expect(summary).toContain(name);
      expect(summary).toContain('Europe/Paris');
      expect(await description.staticDetails()).toContain(
        `${product.url.replace('127.0.0.1', 'localhost')}/tasks/${taskId}`,
      );
      expect(JSON.stringify(description.raw)).not.toContain(token);
    }
    expect(await (await client.workflow.getHandle(manualId).describe()).staticSummary()).toContain(
      'manual run',
    );

    // The Web UI shows the summary from the same API: the execution's page asks for it there.
    const page = await fetch(
      `http://127.0.0.1:${product.ports.ui}/api/v1/namespaces/default/workflows/${encodeURIComponent(manualId)}`,
      { signal: AbortSignal.timeout(10_000) },
    );
    expect(page.status).toBe(200);
    const described = (await page.json()) as {
      executionConfig?: { userMetadata?: { summary?: { data?: string } } };
    };
    const summaryPayload = described.executionConfig?.userMetadata?.summary?.data;
    expect(summaryPayload && Buffer.from(summaryPayload, 'base64').toString('utf8')).toContain(
      name,
    );

    process.stderr.write(`[executions-by-task] ${JSON.stringify(figures)}\n`);
  }, 180_000);
});
