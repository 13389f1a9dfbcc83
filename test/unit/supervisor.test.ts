import { Writable } from 'node:stream';
import {
  attemptsSpentAtDeath,
  type ExitStatus,
  RESTART_DELAYS_MS,
  restartDelay,
  type ServiceProcess,
  supervise,
} from '../../src/embedded/supervisor';
import { createLogger } from '../../src/logger';
import { exitsAtOnce, SAME_STOP_REQUEST_MS } from '../../src/main/start';
import { keepWorkerRunning, type RunningWorker, workerRestartDelay } from '../../src/main/worker';

interface FakeService extends ServiceProcess {
  die(status: ExitStatus): void;
  stopped: boolean;
}

let nextPid = 1000;
function fakeService(): FakeService {
  let end!: (status: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((resolve) => (end = resolve));
  const service: FakeService = {
    pid: nextPid++,
    exited,
    stopped: false,
    die: (status) => end(status),
    stop: async () => {
      service.stopped = true;
      end({ code: 0, signal: null });
    },
    kill: () => end({ code: null, signal: 'SIGKILL' }),
  };
  return service;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'info' }, destination), lines };
}

/** A clock the test moves, and a sleep that records its delay and moves the clock by it. */
function fakeTime() {
  let time = 0;
  const slept: number[] = [];
  return {
    now: () => time,
    advance: (ms: number) => (time += ms),
    slept,
    sleep: async (ms: number, signal: AbortSignal) => {
      if (signal.aborted) return;
      slept.push(ms);
      time += ms;
      await Promise.resolve();
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('restart backoff', () => {
  it('when a service keeps failing, then it is tried after 1, 2, 4, 8 and 16 s and then given up', () => {
    const delays = [0, 1, 2, 3, 4, 5].map((attempt) => restartDelay(attempt));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, undefined]);
    expect(RESTART_DELAYS_MS.reduce((a, b) => a + b, 0)).toBe(31_000);
  });

  it('when a restarted service ran a minute before dying again, then its restarts start over; sooner, they keep counting', () => {
    expect(attemptsSpentAtDeath(3, 60_000)).toBe(0);
    expect(attemptsSpentAtDeath(3, 59_999)).toBe(3);
    expect(attemptsSpentAtDeath(0, 10)).toBe(0);
  });

  it('when the worker keeps failing, then its restarts wait 1 s doubling to at most 30 s, without end', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(workerRestartDelay)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });
});

describe('supervise', () => {
  it('when the service dies, then an error line names it, its pid and the signal, and it is started again after 1 s', async () => {
    const { logger, lines } = capture();
    const time = fakeTime();
    const first = fakeService();
    const second = fakeService();
    const restart = jest.fn(async () => second);
    const onGiveUp = jest.fn();
    const supervised = supervise({
      name: 'embedded PostgreSQL',
      first,
      restart,
      logger,
      onGiveUp,
      now: time.now,
      sleep: time.sleep,
    });

    first.die({ code: null, signal: 'SIGKILL' });
    await settle();

    const death = lines.find((line) => line.level === 50);
    expect(death).toMatchObject({
      service: 'embedded PostgreSQL',
      childPid: first.pid,
      signal: 'SIGKILL',
      exitCode: null,
    });
    expect(death?.msg).toContain(`embedded PostgreSQL (pid ${first.pid}) died with signal SIGKILL`);
    expect(time.slept).toEqual([1_000]);
    expect(restart).toHaveBeenCalledTimes(1);
    expect(supervised.current()).toBe(second);
    expect(lines.some((line) => String(line.msg).includes(`restarted (pid ${second.pid})`))).toBe(
      true,
    );
    expect(onGiveUp).not.toHaveBeenCalled();

    await supervised.stop();
    expect(second.stopped).toBe(true);
  });

  it('when every restart fails, then it waits 1, 2, 4, 8, 16 s, gives up once, and the reason names the service and the last error', async () => {
    const { logger, lines } = capture();
    const time = fakeTime();
    const first = fakeService();
    const restart = jest.fn(async () => {
      throw new Error(
        'temporal server start-dev exited with code 1 before it was ready:\nbind: address already in use',
      );
    });
    const onGiveUp = jest.fn();
    const supervised = supervise({
      name: 'embedded Temporal dev server',
      first,
      restart,
      logger,
      onGiveUp,
      now: time.now,
      sleep: time.sleep,
    });

    first.die({ code: 2, signal: null });
    for (let i = 0; i < 20; i++) await settle();

    expect(time.slept).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(restart).toHaveBeenCalledTimes(5);
    expect(onGiveUp).toHaveBeenCalledTimes(1);
    const reason = onGiveUp.mock.calls[0]![0] as string;
    expect(reason).toContain(
      'embedded Temporal dev server died with exit code 2 and could not be restarted',
    );
    expect(reason).toContain(
      'exited with code 1 before it was ready: bind: address already in use',
    );
    expect(supervised.current()).toBeUndefined();
    expect(
      lines.filter((line) => line.msg === 'embedded Temporal dev server could not be restarted'),
    ).toHaveLength(5);
    await supervised.stop();
  });

  it('when restarted services keep dying at once, then it gives up after five restarts; one that ran a minute starts the count over', async () => {
    const { logger } = capture();
    const time = fakeTime();
    const services: FakeService[] = [];
    const first = fakeService();
    const restart = jest.fn(async () => {
      const service = fakeService();
      services.push(service);
      return service;
    });
    const onGiveUp = jest.fn();
    const supervised = supervise({
      name: 'svc',
      first,
      restart,
      logger,
      onGiveUp,
      now: time.now,
      sleep: time.sleep,
    });

    first.die({ code: null, signal: 'SIGKILL' });
    await settle();
    // Up a minute: recovered. Its death starts from 1 s again.
    time.advance(60_000);
    services.at(-1)!.die({ code: null, signal: 'SIGKILL' });
    await settle();
    expect(time.slept).toEqual([1_000, 1_000]);

    // Then a crash loop: each restarted process dies at once.
    for (let i = 0; i < 5; i++) {
      services.at(-1)!.die({ code: 1, signal: null });
      await settle();
    }
    expect(time.slept).toEqual([1_000, 1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(onGiveUp).toHaveBeenCalledTimes(1);
    expect(onGiveUp.mock.calls[0]![0]).toContain(
      'svc died with exit code 1 and could not be restarted (it kept dying',
    );
    await supervised.stop();
  });

  it('when a stop was requested before the service exited (Ctrl-C reaches the children too), then its exit is no death: nothing logged, nothing restarted', async () => {
    const { logger, lines } = capture();
    const time = fakeTime();
    const first = fakeService();
    const restart = jest.fn(async () => fakeService());
    const supervised = supervise({
      name: 'svc',
      first,
      restart,
      logger,
      onGiveUp: jest.fn(),
      sleep: time.sleep,
    });

    supervised.markStopping();
    first.die({ code: 0, signal: null });
    await settle();
    await supervised.stop();

    expect(lines.filter((line) => (line.level as number) >= 50)).toEqual([]);
    expect(restart).not.toHaveBeenCalled();
  });

  it('when stop() comes during the wait before a restart, then nothing is restarted and stop resolves', async () => {
    const { logger } = capture();
    const first = fakeService();
    const restart = jest.fn(async () => fakeService());
    const supervised = supervise({ name: 'svc', first, restart, logger, onGiveUp: jest.fn() });

    first.die({ code: null, signal: 'SIGKILL' });
    await settle();
    const started = Date.now();
    await supervised.stop();

    expect(Date.now() - started).toBeLessThan(500);
    expect(restart).not.toHaveBeenCalled();
  });

  it('when stop() comes while a restart is under way, then the restarted process is stopped too', async () => {
    const { logger } = capture();
    const time = fakeTime();
    const first = fakeService();
    const second = fakeService();
    let finishStart!: () => void;
    const restart = jest.fn(
      () => new Promise<FakeService>((resolve) => (finishStart = () => resolve(second))),
    );
    const supervised = supervise({
      name: 'svc',
      first,
      restart,
      logger,
      onGiveUp: jest.fn(),
      sleep: time.sleep,
    });

    first.die({ code: null, signal: 'SIGKILL' });
    await settle();
    expect(restart).toHaveBeenCalledTimes(1);
    const stopped = supervised.stop();
    finishStart();
    await stopped;

    expect(second.stopped).toBe(true);
  });
});

describe('a stop signal during a stop', () => {
  it('when a second SIGINT arrives within 2 s of the first, then it is the same request; a third, or one later, exits at once', () => {
    expect(exitsAtOnce([], 0)).toBe(false);
    expect(exitsAtOnce([1_000], 1_003)).toBe(false);
    expect(exitsAtOnce([1_000], 1_000 + SAME_STOP_REQUEST_MS - 1)).toBe(false);
    expect(exitsAtOnce([1_000, 1_003], 1_010)).toBe(true);
    expect(exitsAtOnce([1_000], 1_000 + SAME_STOP_REQUEST_MS)).toBe(true);
  });
});

describe('keepWorkerRunning', () => {
  interface FakeWorker extends RunningWorker {
    fail(error: Error): void;
    stopped: boolean;
  }
  function fakeWorker(): FakeWorker {
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const finished = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    finished.catch(() => undefined);
    const worker: FakeWorker = {
      finished,
      stopped: false,
      state: () => (worker.stopped ? 'STOPPED' : 'RUNNING'),
      fail: (error) => reject(error),
      shutdown: async () => {
        worker.stopped = true;
        resolve();
        await finished.catch(() => undefined);
      },
    };
    return worker;
  }

  it('when the worker’s run() fails, then the failure is logged and a new worker is started, and shutdown stops that one', async () => {
    const { logger, lines } = capture();
    const time = fakeTime();
    const workers: FakeWorker[] = [];
    const start = jest.fn(async () => {
      const worker = fakeWorker();
      workers.push(worker);
      return worker;
    });
    const running = await keepWorkerRunning(start, logger, { now: time.now, sleep: time.sleep });
    expect(running.state()).toBe('RUNNING');

    workers[0]!.fail(new Error('Poll failed: transport error'));
    for (let i = 0; i < 5; i++) await settle();

    expect(start).toHaveBeenCalledTimes(2);
    expect(time.slept).toEqual([1_000]);
    const failure = lines.find((line) => line.msg === 'worker failed; restarting it');
    expect(failure).toMatchObject({ level: 50, err: { message: 'Poll failed: transport error' } });
    expect(running.state()).toBe('RUNNING');

    await running.shutdown();
    await running.finished;
    expect(workers[1]!.stopped).toBe(true);
    expect(start).toHaveBeenCalledTimes(2);
  });

  it('when restarting fails too, then it keeps trying with growing waits until a worker starts', async () => {
    const { logger } = capture();
    const time = fakeTime();
    const first = fakeWorker();
    let calls = 0;
    const start = jest.fn(async () => {
      calls += 1;
      if (calls === 1) return first;
      if (calls < 4) throw new Error('connection refused');
      return fakeWorker();
    });
    const running = await keepWorkerRunning(start, logger, { now: time.now, sleep: time.sleep });
    first.fail(new Error('gone'));
    for (let i = 0; i < 10; i++) await settle();

    expect(time.slept).toEqual([1_000, 2_000, 4_000]);
    expect(start).toHaveBeenCalledTimes(4);
    expect(running.state()).toBe('RUNNING');
    await running.shutdown();
  });

  it('when shutdown comes while waiting to restart, then no worker is started and the state says STOPPED', async () => {
    const { logger } = capture();
    const first = fakeWorker();
    const start = jest.fn(async () => first);
    const running = await keepWorkerRunning(start, logger);
    first.fail(new Error('gone'));
    await settle();
    expect(running.state()).toBe('RESTARTING');

    await running.shutdown();
    await running.finished;
    expect(start).toHaveBeenCalledTimes(1);
    expect(running.state()).toBe('STOPPED');
  });
});
