import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findOnPath, isExecutableFile, toolCacheDir } from './temporal-cli';

const execFileAsync = promisify(execFile);

/**
 * The Temporal server release this project deploys (SPEC §11): the compose files' `temporalio/server`
 * and `temporalio/admin-tools` images carry this tag (test/deploy checks it), and the topology test
 * runs this server and this `temporal-sql-tool`, built from the Go module proxy. v1.31 and later
 * need a newer Go than the 1.26.8 met here.
 */
export const TEMPORAL_SERVER_VERSION = '1.30.4';

/**
 * History shards of the deployed server: fixed for the life of its database. The compose files set
 * NUM_HISTORY_SHARDS to this (test/deploy checks it), and the topology test runs with it.
 */
export const TEMPORAL_HISTORY_SHARDS = 4;

const GO_MODULE = 'go.temporal.io/server';
/** `go install` of the server takes about 3 minutes on 2 cores; a cold module download adds more. */
const GO_INSTALL_TIMEOUT_MS = 30 * 60_000;

export interface TemporalServerTools {
  version: string;
  /** The server binary (`temporal-server --allow-no-auth start`). */
  server: string;
  /** `temporal-sql-tool`, as deploy/temporal/setup-postgres.sh calls it. */
  sqlTool: string;
  /** The folder holding both, to put first on PATH. */
  binDir: string;
  /** The release's PostgreSQL schemas: `<schemaRoot>/temporal/versioned`, `<schemaRoot>/visibility/versioned`. */
  postgresSchemaRoot: string;
}

/** Where the provisioned server, sql tool and schemas live: outside the clone, shared by every clone. */
export function temporalServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(toolCacheDir(env), 'temporal-server', TEMPORAL_SERVER_VERSION);
}

function toolsIn(dir: string): TemporalServerTools {
  const binDir = path.join(dir, 'bin');
  return {
    version: TEMPORAL_SERVER_VERSION,
    server: path.join(binDir, 'temporal-server'),
    sqlTool: path.join(binDir, 'temporal-sql-tool'),
    binDir,
    postgresSchemaRoot: path.join(dir, 'schema', 'postgresql', 'v12'),
  };
}

/** True when every file of a provisioned copy is there (the last step writes the marker). */
async function complete(tools: TemporalServerTools, dir: string): Promise<boolean> {
  return (
    (await isExecutableFile(tools.server)) &&
    (await isExecutableFile(tools.sqlTool)) &&
    (await fs
      .stat(path.join(dir, '.complete'))
      .then((s) => s.isFile())
      .catch(() => false))
  );
}

/**
 * Finds the pinned Temporal server, its sql tool and its PostgreSQL schemas in the cache, or builds
 * them there with `go install` from the Go module proxy (once, minutes). The schemas come from the
 * module's source in the Go module cache and are copied beside the binaries, so the cache stands on
 * its own. Without a Go toolchain it fails with one message saying what to install.
 */
export async function ensureTemporalServer(
  opts: { log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<TemporalServerTools & { route: 'cache' | 'go-install' }> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  const dir = temporalServerCacheDir(env);
  const tools = toolsIn(dir);
  if (await complete(tools, dir)) return { ...tools, route: 'cache' };

  const go = await findOnPath('go', env);
  if (!go) {
    throw new Error(
      [
        `The Temporal server ${TEMPORAL_SERVER_VERSION} is not in ${dir} and there is no Go toolchain to build it:`,
        '`go` is not on PATH. Install Go 1.24 or newer (https://go.dev/dl/, or your package manager),',
        'then run `npm run setup:temporal-server` (about 3 minutes once; the result is cached).',
      ].join('\n'),
    );
  }

  await fs.mkdir(dir, { recursive: true });
  const work = path.join(dir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  const gobin = path.join(work, 'bin');
  await fs.mkdir(gobin, { recursive: true });
  try {
    const packages = [
      `${GO_MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}`,
      `${GO_MODULE}/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`,
    ];
    log(`go install ${packages.join(' ')} (a source build: about 3 minutes the first time)`);
    const started = performance.now();
    await execFileAsync(go, ['install', ...packages], {
      // Both are pure Go: no C compiler needed.
      env: { ...env, GOBIN: gobin, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
      timeout: GO_INSTALL_TIMEOUT_MS,
      maxBuffer: 32 * 1024 * 1024,
    }).catch((error: unknown) => {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
      throw new Error(
        `go install of the Temporal server ${TEMPORAL_SERVER_VERSION} failed: ${stderr.split('\n').slice(-5).join('\n') || String(error)}`,
        { cause: error },
      );
    });
    log(`built in ${((performance.now() - started) / 1000).toFixed(0)} s`);

    const { stdout } = await execFileAsync(go, ['env', 'GOMODCACHE'], { env });
    const moduleDir = path.join(stdout.trim(), `${GO_MODULE}@v${TEMPORAL_SERVER_VERSION}`);
    const staged = toolsIn(work);
    await fs.rename(path.join(gobin, 'server'), staged.server);
    await fs.rename(path.join(gobin, 'sql'), staged.sqlTool);
    await fs.cp(path.join(moduleDir, 'schema', 'postgresql', 'v12'), staged.postgresSchemaRoot, {
      recursive: true,
    });
    await makeWritable(path.join(work, 'schema'));

    // Into place; the marker comes last, so an interrupted run is redone, never half used.
    for (const sub of ['bin', 'schema']) {
      await fs.rm(path.join(dir, sub), { recursive: true, force: true });
      await fs.rename(path.join(work, sub), path.join(dir, sub));
    }
    await fs.writeFile(path.join(dir, '.complete'), `${TEMPORAL_SERVER_VERSION}\n`);
    return { ...tools, route: 'go-install' };
  } finally {
    await fs.rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The Go module cache is read-only; a copy of it must be removable like any cached file. */
async function makeWritable(root: string): Promise<void> {
  await fs.chmod(root, 0o755);
  for (const entry of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
    const dir = entry.parentPath ?? (entry as unknown as { path: string }).path;
    await fs.chmod(path.join(dir, entry.name), entry.isDirectory() ? 0o755 : 0o644);
  }
}
