/**
 * `npx tsx bench/api-overhead.ts`: where a `GET /api/tasks?limit=20` request's CPU goes in the
 * API process. Serves the same 20-task page three ways, each in its own child process under the
 * same load (autocannon, 32 connections, 5 s), and prints req/s and the server's CPU per request:
 *
 * - `express`: a bare Express app answering the page from memory (the framework's floor);
 * - `stack`:   our app (request id, access log, helmet, metrics, API-key auth, OpenAPI request
 *              validation, error handling) with the task service answering from memory;
 * - `full`:    our app and our service on an embedded PostgreSQL holding 1,000 tasks.
 *
 * `BENCH_CPU_PROF=<dir>` also writes a V8 CPU profile of each server process there. `--path
 * /api/logs?limit=20` measures another read. `--variants '[{}, {"NODE_OPTIONS": "…"}]'
 * --rounds 5` instead runs `full` under each environment in alternating rounds and prints each
 * one's median CPU per request (an A/B of a flag or an `if (process.env.…)` experiment).
 *
 * The difference between two lines is what that layer costs. Tasks are INACTIVE so that no
 * Temporal server is needed (their nextRunAt is null without asking Temporal).
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuMs } from './proc';
import express, { type Express } from 'express';
import { createApp } from '../src/api/app';
import { initOrm, prepareDatabase } from '../src/db/orm';
import { startEmbeddedPostgres } from '../src/embedded/postgres';
import { getFreePort } from '../src/embedded/ports';
import { createLogger } from '../src/logger';
import { createMetrics } from '../src/metrics';
import { createServices } from '../src/services';

const MODES = ['express', 'stack', 'full'] as const;
type Mode = (typeof MODES)[number];
const API_KEY = 'bench-key-0123456789abcdef';

const samplePage = () => ({
  data: Array.from({ length: 20 }, (_, i) => ({
    id: '7e4e84b1-0d21-4337-8407-a35a4cf22c57',
    name: `bench task ${i}`,
    schedule: '0 0 1 1 *',
    timezone: 'UTC',
    webhookUrl: 'https://discord.com/api/webhooks/1000001/****abcd',
    payload: { content: 'bench {{task.name}}' },
    maxRetry: 0,
    status: 'INACTIVE',
    nextRunAt: null,
    lastExecutionAt: null,
    lastExecutionStatus: null,
    createdAt: '2026-11-28T23:31:05.123Z',
    updatedAt: '2026-11-28T23:31:05.123Z',
  })),
  meta: { page: 1, limit: 20, total: 1000, totalPages: 50 },
});

/** The child: serves one mode on a free port and reports the port. */
async function serve(mode: Mode): Promise<void> {
  let app: Express;
  if (mode === 'express') {
    const page = samplePage();
    app = express();
    app.get('/api/tasks', (_req, res) => {
      res.json(page);
    });
  } else {
    const logger = createLogger({ level: 'warn' });
    let services: Parameters<typeof createApp>[0]['services'];
    if (mode === 'stack') {
      const page = samplePage();
      services = { tasks: { list: async () => page }, logs: {}, stats: {} } as never;
    } else {
      const orm = await initOrm({ databaseUrl: process.env.DATABASE_URL! });
      services = createServices({
        config: {
          temporalTaskQueue: 'unused',
          scheduleCatchupWindowMs: 60_000,
          webhookAllowedOrigins: ['https://discord.com'],
          encryptionKeys: [randomBytes(32)],
        },
        orm,
        temporal: { client: { connection: {} } } as never,
        logger,
      });
    }
    app = createApp({
      logger,
      metrics: createMetrics(),
      orm: {} as never,
      temporal: {} as never,
      apiKeys: [API_KEY],
      services,
      // As in production (per-key limit, in memory), set too high to ever answer 429 here.
      rateLimit: { perMinute: 1_000_000_000 },
    });
  }
  process.on('SIGTERM', () => process.exit(0));
  const server = app.listen(0, '127.0.0.1', () =>
    process.send!((server.address() as AddressInfo).port),
  );
}

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dts-overhead-'));
  await fs.chmod(tmp, 0o755);
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(tmp, 'postgres'),
    port: await getFreePort(),
  });
  try {
    await prepareDatabase(pg.databaseUrl, createLogger({ level: 'error' }));
    const orm = await initOrm({ databaseUrl: pg.databaseUrl });
    await orm.em.getConnection().execute(
      `insert into tasks (id, name, schedule, timezone, webhook_url, payload, max_retry, status, created_at, updated_at)
       select gen_random_uuid(), 'bench task ' || g, '0 0 1 1 *', 'UTC',
              'https://discord.com/api/webhooks/' || (1000000 + g) || '/' || md5(g::text) || md5(g::text),
              '{"content":"bench {{task.name}}"}', 0, 'INACTIVE', now() - g * interval '1 second', now()
       from generate_series(1, 1000) g`,
    );
    await orm.em.getConnection().execute('vacuum analyze tasks');
    await orm.close();

    const measure = async (mode: Mode, env: Record<string, string> = {}) => {
      const child = fork(__filename, ['--serve', mode], {
        execArgv: [
          ...process.execArgv,
          ...(process.env.BENCH_CPU_PROF
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
            : []),
        ],
        env: { ...process.env, ...env, DATABASE_URL: pg.databaseUrl },
      });
      const port = await new Promise<number>((resolve) =>
        child.once('message', (p) => resolve(p as number)),
      );
      const options = {
        url: `http://127.0.0.1:${port}${option('--path') ?? '/api/tasks?limit=20'}`,
        headers: { 'X-API-Key': API_KEY },
      };
      await autocannon({ ...options, connections: 8, duration: 2 }); // warm-up
      const before = cpuMs(child.pid!);
      const result = await autocannon({ ...options, connections: 32, duration: 5 });
      const perRequest = (cpuMs(child.pid!) - before) / Math.max(1, result.requests.total);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      return {
        reqPerS: Math.round(result.requests.average),
        perRequest,
        failed: result.non2xx + result.errors,
      };
    };

    const variants = option('--variants');
    if (variants === undefined) {
      console.log('mode     req/s   API CPU per request');
      for (const mode of MODES) {
        const { reqPerS, perRequest, failed } = await measure(mode);
        console.log(
          `${mode.padEnd(8)} ${String(reqPerS).padStart(5)}   ${perRequest.toFixed(2)} ms${failed ? `  (${failed} failed)` : ''}`,
        );
      }
      return;
    }
    // An A/B of environments (e.g. a V8 flag in NODE_OPTIONS), in alternating rounds of `full`,
    // since this machine's speed drifts within minutes: the median of each is what compares.
    const envs = JSON.parse(variants) as Record<string, string>[];
    const rounds = Number(option('--rounds') ?? 5);
    const cpu = envs.map((): number[] => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, env] of envs.entries()) {
        const { perRequest, failed } = await measure('full', env);
        cpu[i]!.push(perRequest);
        if (failed) console.log(`${JSON.stringify(env)}: ${failed} failed requests`);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
    for (const [i, env] of envs.entries()) {
      console.log(
        `${JSON.stringify(env)}: API CPU per request, median ${median(cpu[i]!).toFixed(3)} ms (${cpu[i]!.map((v) => v.toFixed(3)).join(', ')})`,
      );
    }
  } finally {
    await pg.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** The value after `name` on the command line. */
function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const serveAt = process.argv.indexOf('--serve');
(serveAt >= 0 ? serve(process.argv[serveAt + 1] as Mode) : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
