import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** Lints `source` as if it were a file in workflows/, with the project's own ESLint config. */
async function lintWorkflow(source: string): Promise<string[]> {
  // ESLint loads its flat config with a dynamic import, which Jest's VM cannot do in-process.
  const result = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/eslint/bin/eslint.js'),
      '--stdin',
      '--stdin-filename',
      'workflows/probe.workflow.ts',
      '--format',
      'json',
    ],
    { cwd: ROOT, input: source, encoding: 'utf8' },
  );
  const [report] = JSON.parse(result.stdout) as {
    messages: { ruleId: string; message: string }[];
  }[];
  return (report?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the workflows/ lint rule', () => {
  it('when workflow code imports a Node built-in, then lint fails', async () => {
    const messages = await lintWorkflow("import fs from 'node:fs';\nexport const f = fs;\n");
    expect(messages).toEqual([expect.stringContaining("'node:fs' import is restricted")]);
  });

  it('when workflow code imports another package or a value from outside workflows/, then lint fails', async () => {
    const messages = await lintWorkflow(
      "import axios from 'axios';\nimport { loadConfig } from '../src/config';\nexport const f = [axios, loadConfig];\n",
    );
    expect(messages).toHaveLength(2);
  });

  it('when workflow code uses process or Buffer, then lint fails', async () => {
    const messages = await lintWorkflow(
      'export const f = () => [process.env.X, Buffer.from("x")];\n',
    );
    expect(messages.filter((m) => m.startsWith('no-restricted-globals'))).toHaveLength(2);
  });

  it('when workflow code imports @temporalio/workflow, siblings and types, then lint passes', async () => {
    const messages = await lintWorkflow(
      "import { proxyActivities } from '@temporalio/workflow';\nimport { sendWebhook } from './send-webhook.workflow';\nimport type { SendWebhookInput } from '../src/temporal/contracts';\nexport const f = [proxyActivities, sendWebhook] as unknown as SendWebhookInput;\n",
    );
    expect(messages).toEqual([]);
  });
});
