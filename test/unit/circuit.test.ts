import { createCircuit, createSharedProbe } from '../../src/circuit';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const never = () => new Promise<never>(() => undefined);

class Unavailable extends Error {}

/**
 * A dependency that is up, down (refuses) or frozen (answers nothing until it is thawed, like a
 * SIGSTOPped server after SIGCONT), probed by `probe`.
 */
function dependency() {
  let thaw: () => void = () => undefined;
  let thawed = Promise.resolve();
  const dep = {
    state: 'up' as 'up' | 'down' | 'frozen',
    probes: 0,
    set(state: 'up' | 'down' | 'frozen') {
      if (state === 'frozen') thawed = new Promise((resolve) => (thaw = resolve));
      else thaw();
      dep.state = state;
    },
    async probe() {
      dep.probes += 1;
      if (dep.state === 'frozen') await thawed;
      if (dep.state === 'down')
        throw Object.assign(new Error('connect ECONNREFUSED'), { outage: true });
    },
  };
  return dep;
}

function circuitFor(dep: ReturnType<typeof dependency>) {
  return createCircuit({
    name: 'test',
    probe: () => dep.probe(),
    isOutage: (error) => (error as { outage?: boolean }).outage === true,
    unavailable: () => new Unavailable('down'),
    suspectAfterMs: 50,
    probeTimeoutMs: 100,
    retryEveryMs: 200,
  });
}

describe('circuit', () => {
  it('when the dependency freezes under a call, then the call fails within about suspect + probe time and its work is told to stop', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    dep.set('frozen');
    let signal: AbortSignal | undefined;

    const started = Date.now();
    const error = await circuit
      .run((s) => {
        signal = s;
        return never();
      })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Unavailable);
    expect(Date.now() - started).toBeLessThan(1_000); // about 150 ms: 50 to suspect, 100 to probe
    expect(signal?.aborted).toBe(true);
    expect(circuit.isOpen()).toBe(true);
  });

  it('when it is known down, then calls fail at once without reaching the dependency', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    dep.set('down');
    await expect(
      circuit.run(async () =>
        Promise.reject(Object.assign(new Error('refused'), { outage: true })),
      ),
    ).rejects.toThrow('refused');
    await sleep(20); // the probe that the outage error started
    expect(circuit.isOpen()).toBe(true);

    const work = jest.fn(async () => 'answer');
    const started = Date.now();
    for (let i = 0; i < 100; i++)
      await expect(circuit.run(work)).rejects.toBeInstanceOf(Unavailable);
    expect(Date.now() - started).toBeLessThan(500);
    expect(work).not.toHaveBeenCalled();
  });

  it('when the dependency is back, then the next probe (at most one per retry period) closes the circuit and calls go through', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    dep.set('frozen');
    await circuit.run(never).catch(() => undefined);
    expect(circuit.isOpen()).toBe(true);

    dep.set('up');
    const probesBefore = dep.probes;
    for (let i = 0; i < 50; i++) circuit.isOpen(); // many callers inside one retry period
    await sleep(250);
    circuit.isOpen(); // the retry period has passed: probe again (it answers 'up')
    await sleep(20);
    expect(circuit.isOpen()).toBe(false);
    expect(dep.probes - probesBefore).toBeLessThanOrEqual(2);
    await expect(circuit.run(async () => 'answer')).resolves.toBe('answer');
  });

  it('when the dependency came back while no call was made, then the first call after waits for one probe and is served, not refused on the old verdict', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    dep.set('down');
    await circuit
      .run(async () => Promise.reject(Object.assign(new Error('refused'), { outage: true })))
      .catch(() => undefined);
    await sleep(20);
    dep.set('up');
    await sleep(300); // quiet: longer than the retry period, and nothing asks meanwhile

    const probesBefore = dep.probes;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => circuit.run(async () => 'answer')),
    );
    expect(answers).toEqual(Array(10).fill('answer'));
    expect(dep.probes - probesBefore).toBe(1);
    expect(circuit.isOpen()).toBe(false);
  });

  it('when the dependency is still frozen once the last verdict is old, then a call fails within the probe timeout without running its work', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    dep.set('frozen');
    await circuit.run(never).catch(() => undefined);
    await sleep(300);

    const work = jest.fn(async () => 'answer');
    const started = Date.now();
    await expect(circuit.run(work)).rejects.toBeInstanceOf(Unavailable);
    expect(Date.now() - started).toBeLessThan(500); // at most the probe timeout of 100 ms
    expect(work).not.toHaveBeenCalled();
    dep.set('up');
  });

  it('when a call is slow but the dependency answers its probes, then the call is not given up', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    const slow = circuit.run(async () => {
      await sleep(400);
      return 'late answer';
    });
    await expect(slow).resolves.toBe('late answer');
    expect(dep.probes).toBeGreaterThan(0);
    expect(circuit.isOpen()).toBe(false);
  });

  it('when many calls are slow at once, then they share one probe at a time', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    const started = Date.now();
    await Promise.all(Array.from({ length: 50 }, () => circuit.run(() => sleep(120))));
    // One probe per 50 ms of suspicion (however long a busy machine makes the 120 ms), not one
    // per call.
    expect(dep.probes).toBeGreaterThan(0);
    expect(dep.probes).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 50) + 1);
  });

  it('when a call fails for a reason that is not an outage, then its error passes and the circuit stays closed', async () => {
    const dep = dependency();
    const circuit = circuitFor(dep);
    await expect(
      circuit.run(async () => Promise.reject(new Error('refused by Temporal'))),
    ).rejects.toThrow('refused by Temporal');
    expect(dep.probes).toBe(0);
    expect(circuit.isOpen()).toBe(false);
  });
});

describe('shared probe', () => {
  it('when many ask while a check runs, then one check answers them all', async () => {
    let calls = 0;
    const probe = createSharedProbe(
      async () => {
        calls += 1;
        await sleep(30);
      },
      { timeoutMs: 1_000, reuseMs: 0 },
    );
    expect(await Promise.all(Array.from({ length: 20 }, () => probe.status()))).toEqual(
      Array(20).fill('up'),
    );
    expect(calls).toBe(1);
  });

  it('when a check hangs longer than the abandon time, then a new check is started', async () => {
    let calls = 0;
    let hang = true;
    const probe = createSharedProbe(
      async () => {
        calls += 1;
        if (hang) await never();
      },
      { timeoutMs: 30, reuseMs: 0, abandonAfterMs: 100 },
    );
    expect(await probe.status()).toBe('down');
    expect(await probe.status()).toBe('down');
    expect(calls).toBe(1);
    hang = false;
    await sleep(120);
    expect(await probe.status()).toBe('up');
    expect(calls).toBe(2);
  });
});
