/**
 * The bare worker of bench/baseline.ts in a process of its own, so that its CPU is read from /proc
 * as our worker's is: one no-op activity per workflow, on the same SDK, with the worker options it
 * is given (our worker's sizing). Its one argument is a JSON `BareWorkerArgs`. It prints
 * "polling" once the worker runs, and stops on SIGTERM or SIGINT (the Runtime's default signals).
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { BareWorkerArgs } from './baseline';

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as BareWorkerArgs;
  // The SDK's INFO lines (worker state) would interleave with the bench's table.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: args.address });
  try {
    const worker = await Worker.create({
      ...args.options,
      connection,
      namespace: args.namespace,
      taskQueue: args.taskQueue,
      workflowBundle: { codePath: args.bundlePath },
      activities: { noop: async () => undefined },
    });
    const running = worker.run();
    process.stdout.write('polling\n');
    await running;
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
