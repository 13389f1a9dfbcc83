import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { removeStalePidFile } from '../../src/embedded/postgres';

/**
 * A postmaster killed with -9 leaves postmaster.pid behind; PostgreSQL then refuses to start
 * while the pid in it names any process. The restart removes the file only when the postmaster
 * it names is gone: no such process, a zombie, or an unrelated process that reused the number.
 */
const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

describeOnLinux('removeStalePidFile', () => {
  let dir: string;
  let pidFile: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-pidfile-'));
    pidFile = path.join(dir, 'postmaster.pid');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** postmaster.pid as PostgreSQL writes it; its shared memory segment (line 7) does not exist. */
  const writePidFile = (pid: number) =>
    fs.writeFile(
      pidFile,
      `${pid}\n${dir}\n1764590000\n5432\n\n127.0.0.1\n  1234567 2147483646\nready   \n`,
    );

  /** A long-running process whose name (comm) is "postgres": `sleep` under that name. */
  async function fakePostgres(args: string[] = ['30']): Promise<ChildProcess> {
    const sleep = ['/bin/sleep', '/usr/bin/sleep'].find((candidate) => existsSync(candidate))!;
    const link = path.join(dir, 'postgres');
    if (!existsSync(link)) await fs.symlink(sleep, link);
    const child = spawn(link, args, { stdio: 'ignore' });
    children.push(child);
    return child;
  }

  it('when the postmaster it names no longer exists, then the file is removed', async () => {
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => gone.once('exit', resolve));
    await writePidFile(gone.pid!);
    const log = jest.fn();

    expect(await removeStalePidFile(dir, log)).toBe(true);
    expect(existsSync(pidFile)).toBe(false);
    expect(log).toHaveBeenCalledWith(
      expect.stringContaining(`stale ${pidFile} of postmaster ${gone.pid}`),
    );
  });

  it('when its pid now belongs to an unrelated process, then the file is removed', async () => {
    await writePidFile(process.pid);

    expect(await removeStalePidFile(dir, () => undefined)).toBe(true);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('when the postmaster it names is a zombie nobody reaps, then the file is removed', async () => {
    // sh starts a subshell in the background and becomes a sleep that never reaps it; the
    // subshell becomes "postgres" and exits only after that (a child that exited while sh was
    // still a shell could be reaped by it: seen once under load, ENOENT below).
    await fakePostgres(); // creates the link
    const parent = spawn(
      'sh',
      ['-c', `(sleep 0.3; exec ${path.join(dir, 'postgres')} 0) & echo $!; exec sleep 30`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    children.push(parent);
    const zombie = await new Promise<number>((resolve) =>
      parent.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    for (let i = 0; i < 250; i++) {
      const stat = await fs.readFile(`/proc/${zombie}/stat`, 'utf8');
      if (stat.includes(') Z ')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await fs.readFile(`/proc/${zombie}/stat`, 'utf8')).toContain('(postgres) Z ');
    await writePidFile(zombie);

    expect(await removeStalePidFile(dir, () => undefined)).toBe(true);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('when the postmaster it names is still running, then the file stays (PostgreSQL says why it cannot start)', async () => {
    const live = await fakePostgres();
    await writePidFile(live.pid!);

    expect(await removeStalePidFile(dir, () => undefined)).toBe(false);
    expect(existsSync(pidFile)).toBe(true);
  });

  it('when there is no pid file, or it holds no pid, then nothing happens', async () => {
    expect(await removeStalePidFile(dir, () => undefined)).toBe(false);
    await fs.writeFile(pidFile, 'garbage\n');
    expect(await removeStalePidFile(dir, () => undefined)).toBe(false);
    expect(existsSync(pidFile)).toBe(true);
  });
});
