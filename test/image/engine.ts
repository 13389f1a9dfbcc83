import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/process';
import { descendantsOf, waitFor } from '../helpers/product';
import { spawnInGroup, type TopologyProcess } from '../topology/cluster';

const run = promisify(execFile);

/** What `scripts/build-image.sh` reports on its last line. */
export interface ImageBuild {
  engine: 'docker' | 'buildah';
  image: string;
  /** How the base image was had: pulled (Docker), made, imported from the cache, or reused. */
  base: 'pulled' | 'made' | 'imported' | 'reused';
  baseSeconds: number;
  buildSeconds: number;
}

/** The parts of the image's configuration (Docker's format) that a container runtime applies. */
export interface ImageConfig {
  User: string;
  WorkingDir: string;
  Env: string[];
  Cmd: string[];
  StopSignal?: string;
  Healthcheck?: { Test: string[] };
}

export interface CommandResult {
  code: number;
  output: string;
}

/** A container running the image's main command. */
export interface Container {
  readonly name: string;
  /** The runtime's client process (`buildah run` or `docker run`) and what it printed. */
  readonly process: TopologyProcess;
  /** PID, on this host, of the container's main process (its `node`). */
  readonly pid: number;
  /** Sends `signal` to the container's main process, as `docker stop` / `docker kill` do. */
  signal(signal: NodeJS.Signals): Promise<void>;
  /** A command run inside this container, with its environment (what Docker's HEALTHCHECK does). */
  exec(command: string[]): Promise<CommandResult>;
  remove(): Promise<void>;
}

export interface Engine {
  readonly kind: ImageBuild['engine'];
  readonly image: string;
  config(): Promise<ImageConfig>;
  /** Starts `command` in a new container of the image, on the host's network. */
  start(name: string, env: Record<string, string>, command: string[]): Promise<Container>;
  /** Runs `command` to its end in a container of its own, removed afterwards. */
  runOnce(env: Record<string, string>, command: string[]): Promise<CommandResult>;
  /** Removes containers that earlier runs of this test left behind (killed before cleaning up). */
  removeLeftovers(): Promise<void>;
}

/** Builds the image with scripts/build-image.sh, its progress shown on stderr. */
export async function buildImage(): Promise<ImageBuild> {
  const child = spawn('bash', ['scripts/build-image.sh'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
    process.stderr.write(chunk);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const report = /^image-build: (\{.*\})$/m.exec(out)?.[1];
  if (code !== 0 || !report) {
    throw new Error(`scripts/build-image.sh exited ${code}:\n${out.slice(-6000)}`);
  }
  return JSON.parse(report) as ImageBuild;
}

async function capture(command: string, args: string[]): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(command, args, {
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      output: `${e.stdout ?? ''}${e.stderr ?? ''}`,
    };
  }
}

async function checked(command: string, args: string[]): Promise<string> {
  const result = await capture(command, args);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.output}`);
  }
  return result.output;
}

/** Kills `pid` when this test process goes (Jest killed by CI's timeout, a crash). */
function killWithUs(pid: number): void {
  spawn(
    '/bin/sh',
    [
      '-c',
      `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 2; done; kill -s KILL ${pid} 2>/dev/null`,
    ],
    { detached: true, stdio: 'ignore' },
  ).unref();
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for the host PID of a container's main process; fails at once when the runtime exits. */
async function mainPid(
  name: string,
  runtime: TopologyProcess,
  find: () => Promise<number | undefined> | number | undefined,
): Promise<number> {
  const pid = await waitFor(
    `the main process of ${name}`,
    async () => (runtime.running() ? await find() : -1),
    30_000,
    100,
  );
  if (pid === -1) throw new Error(`${name}: the runtime exited:\n${runtime.output()}`);
  return pid;
}

/** Containers of this test are named after it and the PID of the Jest process that made them. */
const PREFIX = 'dts-image-test-';
const envArgs = (flag: string, env: Record<string, string>) =>
  Object.entries(env).flatMap(([key, value]) => [flag, `${key}=${value}`]);

/**
 * buildah with chroot isolation: each container is a working container (`buildah from`) whose
 * commands (`buildah run`) are processes of this host, on its network, as the image's USER, in
 * its WORKDIR, with its ENV. A `buildah run` applies the image's environment but not that of
 * another `buildah run` in the same container, so `exec` passes the container's again.
 */
export function buildahEngine(image: string): Engine {
  const create = async (name: string) => {
    await checked('buildah', ['from', '--pull=never', '--name', name, image]);
    return name;
  };
  const runArgs = (name: string, env: Record<string, string>, command: string[]) => [
    'run',
    '--isolation',
    'chroot',
    ...envArgs('--env', env),
    name,
    '--',
    ...command,
  ];
  return {
    kind: 'buildah',
    image,
    async config() {
      const info = JSON.parse(await checked('buildah', ['inspect', '--type', 'image', image])) as {
        Docker: { config: ImageConfig };
      };
      return info.Docker.config;
    },
    async start(role, env, command) {
      const name = await create(`${PREFIX}${process.pid}-${role}`);
      const proc = spawnInGroup(role, 'buildah', runArgs(name, env, command), { env: process.env });
      const pid = await mainPid(
        name,
        proc,
        () => descendantsOf(proc.child.pid!).find(({ args }) => /^\S*\/node\s/.test(args))?.pid,
      );
      killWithUs(pid);
      return {
        name,
        process: proc,
        pid,
        async signal(signal) {
          process.kill(pid, signal);
        },
        exec: (inside) => capture('buildah', runArgs(name, env, inside)),
        async remove() {
          proc.signal('SIGKILL');
          await capture('buildah', ['rm', name]);
        },
      };
    },
    async runOnce(env, command) {
      const name = await create(`${PREFIX}${process.pid}-once-${Date.now()}`);
      try {
        return await capture('buildah', runArgs(name, env, command));
      } finally {
        await capture('buildah', ['rm', name]);
      }
    },
    async removeLeftovers() {
      const names = (await checked('buildah', ['containers', '--format', '{{.ContainerName}}']))
        .split('\n')
        .filter((name) => name.startsWith(PREFIX));
      for (const name of names) {
        const owner = Number(name.slice(PREFIX.length).split('-')[0]);
        if (owner !== process.pid && !isRunning(owner)) await capture('buildah', ['rm', name]);
      }
    },
  };
}

/** Docker (untested here, where no engine runs): `docker run --network host`, `docker exec`. */
export function dockerEngine(image: string): Engine {
  return {
    kind: 'docker',
    image,
    async config() {
      const [info] = JSON.parse(await checked('docker', ['image', 'inspect', image])) as {
        Config: ImageConfig;
      }[];
      return info!.Config;
    },
    async start(role, env, command) {
      const name = `${PREFIX}${process.pid}-${role}`;
      await capture('docker', ['rm', '-f', name]);
      const proc = spawnInGroup(
        role,
        'docker',
        [
          'run',
          '--rm',
          '--name',
          name,
          '--network',
          'host',
          ...envArgs('-e', env),
          image,
          ...command,
        ],
        { env: process.env },
      );
      const pid = await mainPid(name, proc, async () => {
        const state = await capture('docker', ['inspect', '--format', '{{.State.Pid}}', name]);
        return Number(state.output.trim()) || undefined;
      });
      spawn(
        '/bin/sh',
        ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; docker rm -f ${name}`],
        {
          detached: true,
          stdio: 'ignore',
        },
      ).unref();
      return {
        name,
        process: proc,
        pid,
        async signal(signal) {
          await checked('docker', ['kill', '--signal', signal, name]);
        },
        exec: (inside) => capture('docker', ['exec', name, ...inside]),
        async remove() {
          await capture('docker', ['rm', '-f', name]);
        },
      };
    },
    runOnce: (env, command) =>
      capture('docker', [
        'run',
        '--rm',
        '--network',
        'host',
        ...envArgs('-e', env),
        image,
        ...command,
      ]),
    async removeLeftovers() {
      // `docker run --rm` removes each container, and the watchdog of start() those left running.
    },
  };
}

/** The engine the build used. */
export function engineFor(build: ImageBuild): Engine {
  return build.engine === 'docker' ? dockerEngine(build.image) : buildahEngine(build.image);
}

/** The UID the process runs as (real, effective, saved and filesystem: all four must agree). */
export async function uidsOf(pid: number): Promise<number[]> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const line = /^Uid:\s+(.*)$/m.exec(status)?.[1] ?? '';
  return line.trim().split(/\s+/).map(Number);
}
