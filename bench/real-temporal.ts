/**
 * The real Temporal server for a bench (`npm run bench -- --only fleet --fleet-temporal real`), as
 * the topology setup runs it: the pinned `temporal-server` (built once from the Go module proxy,
 * `npm run setup:temporal-server`), all services in one process, its state in a PostgreSQL of its
 * own (so that the app's PostgreSQL figures stay the app's), the schemas set up and the namespace
 * created by the compose files' one-shot scripts (deploy/temporal/*.sh).
 */
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/embedded/postgres';
import { getFreePort } from '../src/embedded/ports';
import { ensureTemporalCli } from '../src/embedded/temporal-cli';
import { ensureTemporalServer } from '../src/embedded/temporal-server';
import { folderBytes } from './proc';
import {
  runDeployScript,
  startTemporalServer,
  stopProcess,
  writeNcShim,
} from '../test/topology/cluster';

const ROOT = path.resolve(__dirname, '..');

export interface RealTemporal {
  address: string;
  /** The server's process (all its services). */
  pid: number;
  /** Its PostgreSQL's postmaster. */
  postgresPid: number;
  /** Its PostgreSQL's tables and indexes (the data folder's base/, no WAL), bytes. */
  databasesBytes(): Promise<number>;
}

export async function startRealTemporal(options: {
  dir: string;
  cleanups: (() => Promise<unknown>)[];
}): Promise<RealTemporal> {
  const server = await ensureTemporalServer();
  const cli = await ensureTemporalCli();
  const dataDir = path.join(options.dir, 'postgres');
  const pg = await startEmbeddedPostgres({ dataDir, port: await getFreePort() });
  options.cleanups.push(() => pg.stop());

  const shimDir = path.join(options.dir, 'bin');
  await writeNcShim(shimDir);
  const toolEnv = {
    PATH: [server.binDir, path.dirname(cli.path), shimDir, process.env.PATH].join(path.delimiter),
    HOME: process.env.HOME,
  };
  await runDeployScript('setup-postgres.sh', {
    ...toolEnv,
    POSTGRES_SEEDS: '127.0.0.1',
    DB_PORT: String(pg.port),
    POSTGRES_USER: 'postgres',
    SQL_PASSWORD: 'postgres',
    SCHEMA_ROOT: server.postgresSchemaRoot,
  });
  const temporal = await startTemporalServer({
    binary: server.server,
    postgresPort: pg.port,
    dynamicConfigFile: path.join(ROOT, 'deploy/temporal/dynamicconfig.yaml'),
  });
  options.cleanups.push(() => stopProcess(temporal, 30_000));
  await runDeployScript('create-namespace.sh', {
    ...toolEnv,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
  });
  return {
    address: temporal.address,
    pid: temporal.child.pid!,
    postgresPid: pg.pid,
    databasesBytes: () => folderBytes(path.join(dataDir, 'base')),
  };
}
