import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type RunResult, runTool } from './tools';

export const ROOT = path.resolve(__dirname, '../..');
export const SHELL_SCRIPTS = [
  'deploy/temporal/setup-postgres.sh',
  'deploy/temporal/create-namespace.sh',
];

/** hadolint over the Dockerfile with the repository's .hadolint.yaml (every finding fails). */
export function lintDockerfile(hadolint: string): Promise<RunResult> {
  return runTool(
    hadolint,
    ['--config', path.join(ROOT, '.hadolint.yaml'), '--no-color', 'Dockerfile'],
    { cwd: ROOT },
  );
}

/** ShellCheck over the scripts the Temporal containers run (POSIX sh: they run under /bin/sh). */
export function lintShellScripts(shellcheck: string): Promise<RunResult> {
  return runTool(shellcheck, ['--shell=sh', '--severity=style', ...SHELL_SCRIPTS], { cwd: ROOT });
}

export type ComposeResult = { ok: true; project: ComposeProject } | { ok: false; error: string };

/** The parts of compose-go's resolved project that the checks read. */
export interface ComposeProject {
  name: string;
  services: Record<string, ComposeService>;
  networks?: Record<string, { name?: string; external?: boolean }>;
  volumes?: Record<string, unknown>;
}

export interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  deploy?: {
    replicas?: number;
    resources?: {
      limits?: { cpus?: number; memory?: string | number };
      reservations?: { memory?: string | number };
    };
  };
  restart?: string;
  ports?: { target: number; published?: string; host_ip?: string }[];
  networks?: Record<string, unknown>;
  labels?: Record<string, string>;
  volumes?: { source?: string; target: string; read_only?: boolean }[];
  stop_grace_period?: string;
}

/**
 * Loads a Compose file as `docker compose config` would (compose-check, over compose-go), with
 * exactly the given variables for interpolation: neither the process environment nor a local .env
 * leaks in, so the outcome is the same on every machine.
 */
export async function loadCompose(
  composeCheck: string,
  file: string,
  variables: Record<string, string> | { envFile: string },
): Promise<ComposeResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'compose-env-'));
  try {
    let envFile: string;
    if ('envFile' in variables && typeof variables.envFile === 'string') {
      envFile = path.resolve(ROOT, variables.envFile);
    } else {
      envFile = path.join(dir, 'vars.env');
      await fs.writeFile(
        envFile,
        Object.entries(variables)
          .map(([key, value]) => `${key}=${value}`)
          .join('\n') + '\n',
      );
    }
    const result = await runTool(
      composeCheck,
      ['-project-directory', ROOT, '-env-file', envFile, '-f', path.resolve(ROOT, file)],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
      },
    );
    if (result.code !== 0)
      return { ok: false, error: result.stderr.trim() || result.stdout.trim() };
    return { ok: true, project: JSON.parse(result.stdout) as ComposeProject };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The variables the local stack needs: only an API key (what README tells to put in .env). */
export const LOCAL_COMPOSE_VARIABLES = {
  API_KEY: 'local-compose-key-0123456789',
  ENCRYPTION_KEYS: 'bG9jYWwtY29tcG9zZS1lbmNyeXB0aW9uLWtleS0zMiE=',
};
export const PRODUCTION_ENV_EXAMPLE = '.env.production.example';
