import { ConfigError, loadConfig } from '../../src/config';
import { applyV8Flags } from '../../src/main/start';

describe('V8 flags of every role (V8_HEAP_GROWING_PERCENT)', () => {
  it('when nothing is set, then the heap may grow 50 % past what a full collection kept', () => {
    expect(applyV8Flags(loadConfig({}))).toEqual(['--heap-growing-percent=50']);
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
