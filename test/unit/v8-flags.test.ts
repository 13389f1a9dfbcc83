import { ConfigError, loadConfig } from '../../src/config';
import { applyV8Flags } from '../../src/main/start';

describe('V8 flags of every role (V8_HEAP_GROWING_PERCENT)', () => {
  it('when nothing is set for a worker, then its heap may grow 50 % past what a full collection kept', () => {
    expect(applyV8Flags(loadConfig({ ROLE: 'worker' }))).toEqual(['--heap-growing-percent=50']);
  });

  it.each(['api', 'all'])(
    "when nothing is set for ROLE=%s (it serves the API), then no flag is set: V8's own factor",
    (role) => {
      expect(loadConfig({ ROLE: role }).heapGrowingPercent).toBe(0);
      expect(applyV8Flags(loadConfig({ ROLE: role }))).toEqual([]);
    },
  );

  it('when set for the API, then it applies there too', () => {
    expect(applyV8Flags(loadConfig({ ROLE: 'api', V8_HEAP_GROWING_PERCENT: '50' }))).toEqual([
      '--heap-growing-percent=50',
    ]);
  });

  it("when set to 0, then no flag is set and V8's own growing factor applies", () => {
    expect(applyV8Flags(loadConfig({ V8_HEAP_GROWING_PERCENT: '0' }))).toEqual([]);
  });

  it.each(['-1', '1001', 'half'])(
    'when set to %s, then the configuration is refused naming the variable',
    (value) => {
      expect(() => loadConfig({ V8_HEAP_GROWING_PERCENT: value })).toThrow(ConfigError);
      expect(() => loadConfig({ V8_HEAP_GROWING_PERCENT: value })).toThrow(
        /V8_HEAP_GROWING_PERCENT/,
      );
    },
  );
});
