import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DYNAMIC_CONFIG_PATH, loadDynamicConfig } from '../../src/embedded/dynamic-config';

describe('loadDynamicConfig', () => {
  it('when reading the shipped file, then the schedulers start-workflow rate is raised above the default of 30/s', () => {
    const values = loadDynamicConfig();

    expect(values['worker.schedulerNamespaceStartWorkflowRPS']).toEqual(expect.any(Number));
    expect(values['worker.schedulerNamespaceStartWorkflowRPS'] as number).toBeGreaterThan(30);
    expect(fs.existsSync(DYNAMIC_CONFIG_PATH)).toBe(true);
  });

  it("when reading the shipped file, then the server's own worker polls schedules' workflow tasks with more than its default 2 pollers", () => {
    const options = loadDynamicConfig()['worker.perNamespaceWorkerOptions'] as Record<
      string,
      unknown
    >;

    expect(options['MaxConcurrentWorkflowTaskPollers']).toEqual(expect.any(Number));
    expect(options['MaxConcurrentWorkflowTaskPollers'] as number).toBeGreaterThan(2);
  });

  it("when reading the shipped file, then the server's own worker keeps a schedule's workflow task on its sticky queue longer than the default 5 s", () => {
    const options = loadDynamicConfig()['worker.perNamespaceWorkerOptions'] as Record<
      string,
      unknown
    >;

    // A Go duration as the server parses it (test/integration/temporal-dev-server.test.ts
    // shows the server takes it); seconds only, as written.
    const [, seconds] = /^(\d+)s$/.exec(String(options['StickyScheduleToStartTimeout'])) ?? [];
    expect(Number(seconds)).toBeGreaterThan(5);
  });

  it('when a key has values with and without constraints, then the unconstrained one is taken', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dyn-')), 'dc.yaml');
    fs.writeFileSync(
      file,
      [
        'frontend.rps:',
        '  - value: 5',
        '    constraints: { namespace: other }',
        '  - value: 2400',
        '    constraints: {}',
        'system.enableEagerWorkflowStart:',
        '  - value: true',
      ].join('\n'),
    );

    expect(loadDynamicConfig(file)).toEqual({
      'frontend.rps': 2400,
      'system.enableEagerWorkflowStart': true,
    });
  });

  it('when a key is not a list of values, then the file is refused naming the key', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dyn-')), 'dc.yaml');
    fs.writeFileSync(file, 'frontend.rps: 5\n');

    expect(() => loadDynamicConfig(file)).toThrow(/frontend\.rps is not a list/);
  });
});
