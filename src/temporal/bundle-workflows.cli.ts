import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH, WORKFLOWS_PATH } from './workflow-bundle';

/**
 * Part of `npm run build`: bundles workflows/ once into dist/workflow-bundle.js, which
 * production workers load instead of running webpack at every start.
 */
async function run(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
  console.log(`wrote ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1024).toFixed(0)} KiB)`);
}

run().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
