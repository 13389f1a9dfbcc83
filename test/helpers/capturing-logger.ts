import { createLogger } from '../../src/logger';

/** A logger whose JSON lines land in `lines`, for tests that assert what was logged. */
export function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    { level: 'info', name: 'test' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}
