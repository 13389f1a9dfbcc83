/**
 * The other side of `npm run bench -- --only reads --against <commit>` (issue 25 item 6): the API
 * of an earlier commit, measured in the same run and on the same seed as ours, so that a
 * regression of the reads shows as a ratio instead of as a figure to hold against an older run's.
 *
 * The commit is checked out in a detached worktree in a temporary folder, on this checkout's
 * node_modules (checked: every package it names is pinned at our version), and run the way our
 * API runs: built to dist/ with its own `tsc -p tsconfig.build.json` (its start:prod must be ours:
 * the same layout), or from its sources under tsx with `--from-sources`. It starts as ROLE=api
 * with our API's environment, on a database of its own on the bench's PostgreSQL (its start-up
 * creates the schema with its own migrations) and a namespace of its own on the bench's Temporal:
 * its start-up reconciliation deletes every `task-*` schedule without a row in its database, which
 * in a shared namespace would be all of ours.
 *
 * Its seed: one task created through its API, cloned by SQL to as many rows as ours has, and our
 * log rows copied over (task by task, in creation order), then each task given its schedule by its
 * own reconcile CLI: at cc56d51 a task's nextRunAt is its schedule's, read from Temporal and
 * cached a minute, and a task without a schedule is described again on every read, which no
 * deployment sees. The namespace stays on the server (the dev server's goes with its folder).
 */
import { execFile, type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { initOrm, type Orm } from '../src/db/orm';
import { getFreePort } from '../src/embedded/ports';

const execFileAsync = promisify(execFile);

const DATABASE = 'scheduler_against';
const NAMESPACE = 'bench-against';

/** The earlier commit's API, up and seeded like ours. */
export interface AgainstSide {
  /** The commit as git abbreviates it. */
  readonly commit: string;
  readonly base: string;
  readonly pid: number;
  /** A task of its own for `GET /api/tasks/:id`: the one created through its API. */
  readonly taskId: string;
  /** Stops its API, drops its database, removes the worktree; once, whoever calls it. */
  stop(): Promise<void>;
}

export async function startAgainst(options: {
  commit: string;
  /** This checkout: its package.json and node_modules. */
  root: string;
  /** Run from the sources under tsx, as our API does with `--from-sources`; else the build. */
  fromSources: boolean;
  /** The node and V8 flags our API runs with. */
  nodeArgs: string[];
  /** Our API's environment: DATABASE_URL, PORT and TEMPORAL_NAMESPACE are its own. */
  env: NodeJS.ProcessEnv;
  /** The bench's database: where its database is created, and the seed it copies. */
  orm: Orm;
  databaseUrl: string;
  temporal: Connection;
  headers: Record<string, string>;
  /** A create body as the bench's own tasks have. */
  taskBody: object;
  waitForHealth: (base: string) => Promise<void>;
  cleanups: (() => Promise<unknown>)[];
  log: (line: string) => void;
}): Promise<AgainstSide> {
  const { root, log } = options;
  const git = (...args: string[]) => execFileAsync('git', args, { cwd: root });
  const commit = (await git('rev-parse', '--short', `${options.commit}^{commit}`)).stdout.trim();

  // Undone in reverse by stop(), each step whatever became of the one before.
  const undo: (() => Promise<unknown>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const step of undo.splice(0).reverse())
        await step().catch((e: unknown) => log(`against ${commit}: ${String(e)}`));
    })());
  options.cleanups.push(stop);

  try {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-against-'));
    undo.push(() => fs.rm(tmp, { recursive: true, force: true }));
    const tree = path.join(tmp, 'tree');
    await git('worktree', 'add', '--detach', tree, commit);
    undo.push(() => git('worktree', 'remove', '--force', tree));
    await fs.symlink(path.join(root, 'node_modules'), path.join(tree, 'node_modules'), 'dir');
    await checkSameDependencies(root, tree, commit);
    const entry = (file: string) =>
      options.fromSources ? ['--import', 'tsx', `src/${file}.ts`] : [`dist/src/${file}.js`];
    if (!options.fromSources) {
      log(`building ${commit} (tsc -p tsconfig.build.json and its assets; no workflow bundle)`);
      await execFileAsync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: tree });
      await execFileAsync(process.execPath, ['scripts/copy-assets.mjs'], { cwd: tree });
    }

    // Its database, on the bench's server; its start-up migrates it.
    const databaseUrl = new URL(options.databaseUrl);
    databaseUrl.pathname = `/${DATABASE}`;
    const server = options.orm.em.getConnection();
    const drop = () => server.execute(`drop database if exists ${DATABASE} with (force)`);
    await drop();
    await server.execute(`create database ${DATABASE}`);
    undo.push(drop);
    await options.temporal.workflowService
      .registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: msToTs('1d') })
      .catch((error: unknown) => {
        if ((error as { code?: number }).code !== status.ALREADY_EXISTS) throw error;
      });

    const env: NodeJS.ProcessEnv = {
      ...options.env,
      ROLE: 'api',
      DATABASE_URL: databaseUrl.toString(),
      PORT: String(await getFreePort()),
      TEMPORAL_NAMESPACE: NAMESPACE,
    };
    const api = spawn(process.execPath, [...options.nodeArgs, ...entry('main/start')], {
      cwd: tree,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    undo.push(() => terminate(api));
    const base = `http://127.0.0.1:${env.PORT}`;
    await options.waitForHealth(base);
    const taskId = await createTask(base, options.headers, options.taskBody);

    const theirs = await initOrm({ databaseUrl: databaseUrl.toString(), poolMax: 2 });
    undo.push(() => theirs.close());
    await seedLike(options.orm, theirs, taskId);
    const [ours, their] = await Promise.all([counts(options.orm), counts(theirs)]);
    if (ours.tasks !== their.tasks || ours.logs !== their.logs)
      throw new Error(
        `seed differs: ours ${JSON.stringify(ours)}, ${commit}'s ${JSON.stringify(their)}`,
      );
    log(`${commit} seeded like ours: ${their.tasks} tasks, ${their.logs} logs`);
    const reconciled = await execFileAsync(process.execPath, entry('temporal/reconcile.cli'), {
      cwd: tree,
      env,
    });
    log(`${commit}: ${reconciled.stdout.trim()}`);
    return { commit, base, pid: api.pid!, taskId, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Every package the commit names must be pinned at our version: it runs on our node_modules. */
async function checkSameDependencies(root: string, tree: string, commit: string): Promise<void> {
  const manifest = async (dir: string) => {
    const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
      scripts?: Record<string, string>;
    };
    return {
      pins: { ...pkg.dependencies, ...pkg.devDependencies },
      start: pkg.scripts?.['start:prod'],
    };
  };
  const [ours, theirs] = await Promise.all([manifest(root), manifest(tree)]);
  const differ = Object.entries(theirs.pins)
    .filter(([name, version]) => ours.pins[name] !== version)
    .map(([name, version]) => `${name} ${version} (ours ${ours.pins[name] ?? 'none'})`);
  if (differ.length > 0)
    throw new Error(`${commit} pins other versions than ours: ${differ.join(', ')}`);
  if (theirs.start !== ours.start)
    throw new Error(`${commit} starts as "${theirs.start}", not as ours does ("${ours.start}")`);
}

/** One task through its API; its namespace reaches the frontend's cache a few seconds late. */
async function createTask(base: string, headers: Record<string, string>, body: object) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${base}/api/tasks`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    if (res.status === 201) return ((await res.json()) as { id: string }).id;
    if (Date.now() > deadline)
      throw new Error(`POST /api/tasks -> ${res.status}: ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Its task cloned to as many rows as ours, a second apart; our log rows copied task by task. */
async function seedLike(ours: Orm, theirs: Orm, taskId: string): Promise<void> {
  const { tasks } = await counts(ours);
  const into = theirs.em.getConnection();
  await into.execute(
    `insert into tasks
     select (jsonb_populate_record(null::tasks, to_jsonb(c) || jsonb_build_object(
       'id', gen_random_uuid(), 'name', 'fleet-' || g, 'created_at', c.created_at - g * interval '1 second'))).*
     from tasks c, generate_series(1, ?) g where c.id = ?`,
    [tasks - 1, taskId],
  );
  // A task's place in creation order names it on both sides; columns it lacks are left out.
  const byRank = `(select id, row_number() over (order by created_at, id) as task_rank from tasks)`;
  const [copied] = await ours.em.getConnection().execute<{ logs: string }[]>(
    `select coalesce(jsonb_agg(to_jsonb(l) || jsonb_build_object('task_rank', r.task_rank)), '[]')::text as logs
     from task_logs l join ${byRank} r on r.id = l.task_id`,
  );
  await into.execute(
    `insert into task_logs
     select (jsonb_populate_record(null::task_logs, l || jsonb_build_object('task_id', t.id))).*
     from jsonb_array_elements(?::jsonb) l join ${byRank} t on t.task_rank = (l ->> 'task_rank')::bigint`,
    [copied?.logs ?? '[]'],
  );
  await Promise.all(
    [ours, theirs].map((orm) => orm.em.getConnection().execute('analyze tasks; analyze task_logs')),
  );
}

async function counts(orm: Orm): Promise<{ tasks: number; logs: number }> {
  const [row] = await orm.em
    .getConnection()
    .execute<{ tasks: number; logs: number }[]>(
      'select (select count(*)::int from tasks) as tasks, (select count(*)::int from task_logs) as logs',
    );
  return row ?? { tasks: 0, logs: 0 };
}

/** SIGTERM, and SIGKILL if it has not exited within 15 s. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited.finally(() => clearTimeout(timer));
}
