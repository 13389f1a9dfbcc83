/**
 * `npm run setup:temporal-server`: builds the pinned Temporal server and temporal-sql-tool from the
 * Go module proxy into the user cache (once, about 3 minutes), for the topology test
 * (`npm run test:topology`).
 */
import { ensureTemporalServer } from './temporal-server';

async function main(): Promise<void> {
  const started = performance.now();
  try {
    const tools = await ensureTemporalServer({ log: (line) => console.log(line) });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `Temporal server ${tools.version} ready at ${tools.server}, sql tool at ${tools.sqlTool}, schemas at ${tools.postgresSchemaRoot} (route: ${tools.route}, ${seconds} s)`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}

void main();
