import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadDynamicConfig } from '../../src/embedded/dynamic-config';
import { ensureTemporalCli } from '../../src/embedded/temporal-cli';
import {
  startTemporalDevServer,
  type TemporalDevServer,
} from '../../src/embedded/temporal-dev-server';
import { acceptsConnections } from '../helpers/process';
import { descendantsOf } from '../helpers/product';

jest.setTimeout(60_000);

async function cliPath(): Promise<string> {
  return process.env.TEMPORAL_CLI_PATH || (await ensureTemporalCli()).path;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Like Promise.all, but when one start fails the others are stopped, not left running. */
async function startAll<T extends readonly Promise<TemporalDevServer>[]>(
  starts: T,
): Promise<{ -readonly [K in keyof T]: TemporalDevServer }> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(
      results.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)),
    );
    throw failed.reason;
  }
  return results.map((result) => (result as PromiseFulfilledResult<TemporalDevServer>).value) as {
    -readonly [K in keyof T]: TemporalDevServer;
  };
}

/**
 * A stand-in for the CLI whose first `runs` starts fail as the real one does when another
 * process binds one of its internal ports first (an ERROR line, then a Go panic, exit 2); later
 * starts run the real CLI.
 */
async function cliFailingFirst(dir: string, runs: number, realCli: string): Promise<string> {
  const script = path.join(dir, 'temporal');
  const counter = path.join(dir, 'runs');
  await fs.writeFile(
    script,
    [
      '#!/bin/sh',
      `n=$(cat '${counter}' 2>/dev/null || echo 0); echo $((n + 1)) > '${counter}'`,
      `if [ "$n" -lt ${runs} ]; then`,
      `  echo 'time=2026-11-29T00:00:00Z level=ERROR msg="Failed to start gRPC listener" error="listen tcp 127.0.0.1:40404: bind: address already in use" service=history' >&2`,
      `  echo 'panic: runtime error: invalid memory address or nil pointer dereference' >&2`,
      `  for i in $(seq 1 40); do echo "	goroutine frame $i" >&2; done`,
      '  exit 2',
      'fi',
      `exec '${realCli}' "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return script;
}

describe('startTemporalDevServer', () => {
  it('when started in memory, then the frontend answers with namespace default, and after stop() the port is closed and the process gone', async () => {
    const server = await startTemporalDevServer({ cliPath: await cliPath(), uiPort: false });
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.uiUrl).toBeUndefined();
    try {
      const connection = await Connection.connect({ address: server.address });
      try {
        const info = await connection.workflowService.getSystemInfo({});
        expect(info.serverVersion).toMatch(/^\d+\.\d+/);
        const namespace = await connection.workflowService.describeNamespace({
          namespace: 'default',
        });
        expect(namespace.namespaceInfo?.name).toBe('default');
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }

    expect(await acceptsConnections(portOf(server.address))).toBe(false);
    expect(isRunning(server.pid)).toBe(false);
    await expect(server.stop()).resolves.toBeUndefined();
  });

  it('when two servers run side by side with a UI and their own namespace and SQLite file, then each serves its namespace and UI on its own ports', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-dev-server-'));
    const cli = await cliPath();
    const dbFilename = path.join(dir, 'not', 'yet', 'there', 'temporal.db');
    const [a, b] = await startAll([
      startTemporalDevServer({ cliPath: cli, namespace: 'tasks-a', dbFilename }),
      startTemporalDevServer({ cliPath: cli, namespace: 'tasks-b' }),
    ] as const);
    try {
      expect(a.address).not.toBe(b.address);
      expect(a.uiUrl).toBeDefined();
      expect(b.uiUrl).toBeDefined();
      expect(a.uiUrl).not.toBe(b.uiUrl);
      await expect(fs.stat(dbFilename)).resolves.toBeTruthy();

      for (const [server, namespace] of [
        [a, 'tasks-a'],
        [b, 'tasks-b'],
      ] as const) {
        const connection = await Connection.connect({ address: server.address });
        try {
          const described = await connection.workflowService.describeNamespace({ namespace });
          expect(described.namespaceInfo?.name).toBe(namespace);
        } finally {
          await connection.close();
        }
        const ui = await fetch(server.uiUrl ?? '');
        expect(ui.status).toBe(200);
        await ui.body?.cancel();
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when started with the shipped dynamic config, then the server takes every value (a value it cannot read is logged and replaced by its default)', async () => {
    // The server reads a value when it first uses it, and one it cannot convert to its type
    // (e.g. a duration it cannot parse) only costs a WARN line: the whole setting, pollers
    // included, silently falls back to Temporal's default. A copy with one unreadable duration
    // started beside the shipped file shows the line this test looks for, and when it appears.
    const cli = await cliPath();
    const shipped = loadDynamicConfig();
    const options = shipped['worker.perNamespaceWorkerOptions'] as Record<string, unknown>;
    const linesOf = (lines: string[]) => (line: string) => void lines.push(line);
    const shippedLines: string[] = [];
    const brokenLines: string[] = [];
    const refused = (lines: string[]) =>
      lines.filter((line) => /Failed to convert value/.test(line));
    const [good, broken] = await startAll([
      startTemporalDevServer({ cliPath: cli, uiPort: false, log: linesOf(shippedLines) }),
      startTemporalDevServer({
        cliPath: cli,
        uiPort: false,
        log: linesOf(brokenLines),
        dynamicConfig: {
          ...shipped,
          'worker.perNamespaceWorkerOptions': { ...options, StickyScheduleToStartTimeout: 'soon' },
        },
      }),
    ] as const);
    try {
      const deadline = Date.now() + 30_000;
      while (refused(brokenLines).length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect(refused(brokenLines).join('\n')).toMatch(
        /key=worker\.perNamespaceWorkerOptions .*StickyScheduleToStartTimeout/i,
      );
      // Both servers started together: by then the shipped one has read its values too; 2 s more
      // for a slower start.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(refused(shippedLines)).toEqual([]);
      expect(options['StickyScheduleToStartTimeout']).toEqual(expect.any(String));
    } finally {
      await Promise.all([good.stop(), broken.stop()]);
    }
  });

  it('when a state file written with SQLite defaults is started again with ours, then it switches to the write-ahead log and keeps its state', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-dev-server-'));
    const cli = await cliPath();
    const dbFilename = path.join(dir, 'temporal.db');
    // SQLite's header: bytes 18 and 19 are 2 in WAL mode, 1 with the rollback journal.
    const journalVersion = async () =>
      (await fs.readFile(dbFilename)).subarray(18, 20).toJSON().data;
    const connect = async (address: string) => {
      const connection = await Connection.connect({ address });
      return { client: new Client({ connection }), connection };
    };
    try {
      const legacy = await startTemporalDevServer({
        cliPath: cli,
        uiPort: false,
        dbFilename,
        sqlitePragmas: {},
      });
      try {
        const { client, connection } = await connect(legacy.address);
        await client.schedule.create({
          scheduleId: 'kept-across-restart',
          spec: { intervals: [{ every: '365d' }] },
          action: { type: 'startWorkflow', workflowType: 'none', taskQueue: 'none', args: [] },
          state: { paused: true },
        });
        await connection.close();
      } finally {
        await legacy.stop();
      }
      expect(await journalVersion()).toEqual([1, 1]);

      const server = await startTemporalDevServer({ cliPath: cli, uiPort: false, dbFilename });
      try {
        expect(await journalVersion()).toEqual([2, 2]);
        const { client, connection } = await connect(server.address);
        const description = await client.schedule.getHandle('kept-across-restart').describe();
        expect(description.state.paused).toBe(true);
        await connection.close();
      } finally {
        await server.stop();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when the server dies at start because another process bound one of its ports, then it starts again on other ports', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-dev-server-'));
    const lines: string[] = [];
    try {
      const server = await startTemporalDevServer({
        cliPath: await cliFailingFirst(dir, 1, await cliPath()),
        uiPort: false,
        log: (line) => lines.push(line),
      });
      try {
        const connection = await Connection.connect({ address: server.address });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
      } finally {
        await server.stop();
      }
      expect(await fs.readFile(path.join(dir, 'runs'), 'utf8')).toBe('2\n');
      expect(lines).toContain('port 40404 was taken meanwhile; starting again on other ports');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when every start dies that way, then it gives up after three and the error leads with the lines that say why', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-dev-server-'));
    try {
      const started = startTemporalDevServer({
        cliPath: await cliFailingFirst(dir, 99, await cliPath()),
        uiPort: false,
      });
      await expect(started).rejects.toThrow(
        /exited with code 2 before it was ready:\n.*level=ERROR msg="Failed to start gRPC listener".*address already in use.*\npanic: runtime error/,
      );
      expect(await fs.readFile(path.join(dir, 'runs'), 'utf8')).toBe('3\n');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when the asked-for port is taken, then start rejects with the error the server printed', async () => {
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(
        startTemporalDevServer({
          cliPath: await cliPath(),
          port,
          uiPort: false,
          readyTimeoutMs: 20_000,
        }),
      ).rejects.toThrow(
        new RegExp(
          `exited with code \\d+ before it was ready:[\\s\\S]*${port}.*address already in use`,
        ),
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('when the server is killed, then exited reports the signal, and a start on the same port and state file finds what it held', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-devserver-kill-'));
    const dbFilename = path.join(dir, 'temporal.db');
    try {
      const first = await startTemporalDevServer({
        cliPath: await cliPath(),
        uiPort: false,
        dbFilename,
      });
      const port = portOf(first.address);
      const connection = await Connection.connect({ address: first.address });
      await new Client({ connection }).schedule.create({
        scheduleId: 'kept-across-kill',
        spec: { intervals: [{ every: '1h' }] },
        action: { type: 'startWorkflow', workflowType: 'sendWebhook', taskQueue: 'none', args: [] },
        state: { paused: true },
      });
      await connection.close();

      process.kill(first.pid, 'SIGKILL');
      expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
      await expect(first.stop()).resolves.toBeUndefined();

      const second = await startTemporalDevServer({
        cliPath: await cliPath(),
        uiPort: false,
        dbFilename,
        port,
      });
      try {
        expect(second.address).toBe(first.address);
        const again = await Connection.connect({ address: second.address });
        const description = await new Client({ connection: again }).schedule
          .getHandle('kept-across-kill')
          .describe();
        await again.close();
        expect(description.state.paused).toBe(true);
      } finally {
        await second.stop();
      }
      expect(await second.exited).toMatchObject({ signal: null });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when the start is aborted while the server comes up, then it rejects saying so and the process is gone', async () => {
    const devServers = () =>
      descendantsOf(process.pid)
        .filter(({ args }) => /\bserver start-dev\b/.test(args))
        .map(({ pid }) => pid);
    const before = devServers();
    const controller = new AbortController();
    const started = startTemporalDevServer({
      cliPath: await cliPath(),
      uiPort: false,
      signal: controller.signal,
    });
    let spawned: number[] = [];
    for (let i = 0; i < 100 && spawned.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      spawned = devServers().filter((pid) => !before.includes(pid));
    }
    expect(spawned).toHaveLength(1);
    controller.abort();

    await expect(started).rejects.toThrow(
      'temporal dev server start interrupted: a stop was requested',
    );
    expect(isRunning(spawned[0]!)).toBe(false);
  });
});
