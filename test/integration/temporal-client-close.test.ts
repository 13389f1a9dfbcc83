import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/process';

describe('closing the Temporal client', () => {
  it('when a call is waiting to retry an unreachable Temporal, then close ends it (and any call made after) CANCELLED and nothing throws later', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/close-while-retrying.ts'],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    // Before the guard: exit code 1, "Error: Channel has been shut down" from the SDK's retry timer.
    expect(result.stderr).not.toMatch(/Channel has been shut down/);
    expect(result.status).toBe(0);
    const outcome = JSON.parse(result.stdout.trim()) as {
      settled: string;
      code: number | null;
      lateCallCode: number | string | null;
    };
    expect(outcome.settled).toBe('rejected');
    expect(outcome.code).toBe(1); // CANCELLED: the guard's answer, not UNAVAILABLE retried on
    expect(outcome.lateCallCode).toBe(1);
  }, 90_000);
});
