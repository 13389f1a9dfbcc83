import { startEmbeddedPostgres } from '../../src/embedded/postgres';

/** See postgres-process.ts: `node --import tsx postgres-process.main.ts <dataDir> <port> <database>`. */
async function main(): Promise<void> {
  const [dataDir, port, database] = process.argv.slice(2);
  if (!dataDir || !port || !database)
    throw new Error('usage: postgres-process.main.ts <dataDir> <port> <database>');
  const postgres = await startEmbeddedPostgres({ dataDir, port: Number(port), database });
  process.stdout.write(`ready ${postgres.pid} ${postgres.databaseUrl}\n`);
  const stop = () => void postgres.stop().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Killed from outside (the fault being tested): nothing left to serve.
  void postgres.exited.then(() => process.exit(0));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
