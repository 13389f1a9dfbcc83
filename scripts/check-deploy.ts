import {
  LOCAL_COMPOSE_VARIABLES,
  PRODUCTION_ENV_EXAMPLE,
  lintDockerfile,
  lintShellScripts,
  loadCompose,
} from './deploy-check/checks';
import { ensureComposeCheck, ensureHadolint, ensureShellcheck } from './deploy-check/tools';

/**
 * `npm run check:deploy`: validates the deployment files without a Docker engine. hadolint lints
 * the Dockerfile, ShellCheck the Temporal setup scripts, and compose-go (the library behind
 * `docker compose config`) loads both Compose files: docker-compose.yml with only API_KEY set,
 * docker-compose.prod.yml with .env.production.example. The tools are provisioned and cached on
 * first use (see deploy-check/tools.ts). Exit code 1 when anything fails.
 */
async function main(): Promise<number> {
  const log = (line: string) => console.log(`  ${line}`);
  const [hadolint, shellcheck, composeCheck] = await Promise.all([
    ensureHadolint(log),
    ensureShellcheck(log),
    ensureComposeCheck(log),
  ]);
  let failed = 0;
  const report = (name: string, ok: boolean, detail: string) => {
    if (!ok) failed += 1;
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `\n${detail.replace(/^/gm, '     ')}` : ''}`,
    );
  };

  const docker = await lintDockerfile(hadolint);
  report('hadolint Dockerfile', docker.code === 0, (docker.stdout + docker.stderr).trim());
  const shell = await lintShellScripts(shellcheck);
  report('shellcheck deploy/temporal/*.sh', shell.code === 0, (shell.stdout + shell.stderr).trim());
  const local = await loadCompose(composeCheck, 'docker-compose.yml', LOCAL_COMPOSE_VARIABLES);
  report(
    'compose docker-compose.yml (API_KEY set)',
    local.ok,
    local.ok ? `services: ${Object.keys(local.project.services).sort().join(', ')}` : local.error,
  );
  const prod = await loadCompose(composeCheck, 'docker-compose.prod.yml', {
    envFile: PRODUCTION_ENV_EXAMPLE,
  });
  report(
    `compose docker-compose.prod.yml (--env-file ${PRODUCTION_ENV_EXAMPLE})`,
    prod.ok,
    prod.ok ? `services: ${Object.keys(prod.project.services).sort().join(', ')}` : prod.error,
  );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
