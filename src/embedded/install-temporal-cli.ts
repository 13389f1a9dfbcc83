/**
 * `npm run setup:temporal`: finds or provisions the pinned Temporal CLI into the user cache, so
 * that `npm start` does not have to on its first run.
 */
import { ensureTemporalCli } from './temporal-cli';

async function main(): Promise<void> {
  const started = performance.now();
  try {
    const cli = await ensureTemporalCli({ log: (line) => console.log(line) });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `temporal CLI ${cli.version} ready at ${cli.path} (route: ${cli.route}, ${seconds} s)`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}

void main();
