/**
 * Run as its own process by test/integration/temporal-client-close.test.ts: a Temporal client
 * whose call retries UNAVAILABLE (nothing listens on the port) is closed while a retry is
 * pending, as the API is when it shuts down with Temporal unreachable. Prints how the call ended
 * once every retry timer the SDK could still have pending has fired; an uncaught exception from
 * such a timer ends the process with exit code 1 before that line.
 */
import { getFreePort } from '../../src/embedded/ports';
import { createTemporalClient } from '../../src/temporal/client';

async function main(): Promise<void> {
  const port = await getFreePort();
  const temporal = createTemporalClient({
    address: `127.0.0.1:${port}`,
    namespace: 'default',
    closeGraceMs: 300,
  });
  const startedAt = Date.now();
  const call = temporal.connection.workflowService.getSystemInfo({}).then(
    () => ({ settled: 'resolved' as const, code: null }),
    (error: { code?: number }) => ({ settled: 'rejected' as const, code: error.code ?? null }),
  );
  // The first attempts fail within milliseconds; by 500 ms a retry is waiting on its timer.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await temporal.close();
  const closedAt = Date.now();
  const outcome = await call;
  const settledMs = Date.now() - closedAt;
  // A call made after close (a health probe that fires late) ends the same way.
  const late = await temporal.connection.workflowService.getSystemInfo({}).then(
    () => 'resolved',
    (error: { code?: number }) => error.code ?? null,
  );
  // The SDK waits at most 5 s (+20% jitter) between attempts: after 7 s every timer it scheduled
  // has fired.
  await new Promise((resolve) => setTimeout(resolve, 7_000));
  process.stdout.write(
    `${JSON.stringify({ ...outcome, lateCallCode: late, settledAfterCloseMs: settledMs, closedAfterMs: closedAt - startedAt })}\n`,
  );
}

void main();
