import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOpenApiDocument } from '../../src/api/openapi';
import { openApiForPublicPath } from '../../src/api/public-path';
import { loadConfig, parseDuration } from '../../src/config';
import {
  TEMPORAL_HISTORY_SHARDS,
  TEMPORAL_SERVER_VERSION,
} from '../../src/embedded/temporal-server';
import { shutdownGraceMs } from '../../src/main/worker';
import {
  type ComposeProject,
  type ComposeService,
  LOCAL_COMPOSE_VARIABLES,
  lintDockerfile,
  lintShellScripts,
  loadCompose,
  PRODUCTION_ENV_EXAMPLE,
  ROOT,
} from '../../scripts/deploy-check/checks';
import {
  ensureComposeCheck,
  ensureHadolint,
  ensureShellcheck,
} from '../../scripts/deploy-check/tools';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const log = (line: string) => process.stderr.write(`[deploy-tools] ${line}\n`);

let hadolint: string;
let shellcheck: string;
let composeCheck: string;

beforeAll(async () => {
  [hadolint, shellcheck, composeCheck] = await Promise.all([
    ensureHadolint(log),
    ensureShellcheck(log),
    ensureComposeCheck(log),
  ]);
}, 600_000);

/** KEY=value lines of an env file. */
function envFile(file: string): Record<string, string> {
  return Object.fromEntries(
    read(file)
      .split('\n')
      .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

async function load(file: string, variables: Record<string, string>): Promise<ComposeProject> {
  const result = await loadCompose(composeCheck, file, variables);
  if (!result.ok) throw new Error(`${file} did not load: ${result.error}`);
  return result.project;
}

/** The file a `node dist/<x>.js` command runs, as a TypeScript source of this repository. */
function sourceOf(distFile: string): string {
  return distFile.replace(/^dist\//, '').replace(/\.js$/, '.ts');
}

/** Every service some other service waits for is able to satisfy that wait. */
function expectDependenciesSatisfiable(
  project: ComposeProject,
  imageHealthcheck: (s: ComposeService) => boolean,
) {
  for (const [name, service] of Object.entries(project.services)) {
    for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
      const dependency = project.services[target];
      expect({ service: name, dependsOn: target, defined: !!dependency }).toEqual({
        service: name,
        dependsOn: target,
        defined: true,
      });
      if (condition === 'service_healthy') {
        const hasCheck =
          (!!dependency!.healthcheck?.test && !dependency!.healthcheck.disable) ||
          imageHealthcheck(dependency!);
        expect({ service: name, waitsForHealthy: target, hasHealthcheck: hasCheck }).toMatchObject({
          hasHealthcheck: true,
        });
      }
      if (condition === 'service_completed_successfully') {
        // A one-shot: it must not be restarted forever once it exits 0.
        expect({ oneShot: target, restart: dependency!.restart }).toMatchObject({
          restart: expect.stringMatching(/^(no|on-failure(:\d+)?)$/),
        });
      }
    }
  }
}

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.find((stage) => /AS runtime/.test(stage.split('\n')[0]!))!;

  it('when hadolint lints it, then it reports nothing', async () => {
    const result = await lintDockerfile(hadolint);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('when the image is built, then the build stage gets every source that tsconfig.build.json compiles through .dockerignore', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/\*\*$/, ''));
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(' '),
    );
    for (const source of copied) {
      expect({ source, exists: fs.existsSync(path.join(ROOT, source)) }).toEqual({
        source,
        exists: true,
      });
      expect({ source, inContext: allowed.includes(source) }).toEqual({ source, inContext: true });
    }
    const { include } = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    expect(copied).toEqual(
      expect.arrayContaining([
        ...include,
        'tsconfig.json',
        'tsconfig.build.json',
        'scripts/copy-assets.mjs',
      ]),
    );
  });

  it('when the image runs, then it runs the compiled entry point as a non-root user, with a health check and production dependencies only', () => {
    expect(runtime).toMatch(/^USER (?!0\b|root\b)\S+$/m);
    const healthcheck = /^HEALTHCHECK [\s\S]*?CMD \["node", "([^"]+)"\]/m.exec(runtime)?.[1];
    const cmd = /^CMD \["node", "([^"]+)"\]/m.exec(runtime)?.[1];
    expect([healthcheck, cmd]).toEqual([
      'dist/src/main/healthcheck.cli.js',
      'dist/src/main/start.js',
    ]);
    for (const file of [healthcheck!, cmd!])
      expect(fs.existsSync(path.join(ROOT, sourceOf(file)))).toBe(true);
    // node_modules of the runtime come from the stage that installed without devDependencies.
    const from = /^COPY --from=(\S+) \/app\/node_modules/m.exec(runtime)?.[1];
    const depsStage = stages.find((stage) => stage.split('\n')[0]!.endsWith(`AS ${from}`))!;
    expect(depsStage).toMatch(/npm ci --omit=dev/);
    expect(stages[0]!.split('\n')[0]).toMatch(/bookworm-slim/);
  });
});

describe('deploy/temporal scripts', () => {
  it('when ShellCheck checks them as POSIX sh, then it reports nothing', async () => {
    const result = await lintShellScripts(shellcheck);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('docker-compose.yml (the full stack on one host)', () => {
  let project: ComposeProject;
  beforeAll(async () => {
    project = await load('docker-compose.yml', LOCAL_COMPOSE_VARIABLES);
  });
  const app = () => ['migrate', 'api', 'worker'].map((name) => project.services[name]!);

  it('when loaded with only API_KEY set, then it runs PostgreSQL, Temporal on PostgreSQL, the Web UI, migrations, the API and two workers sharing Redis', () => {
    expect(Object.keys(project.services).sort()).toEqual(
      [
        'api',
        'migrate',
        'postgres',
        'redis',
        'temporal',
        'temporal-namespace',
        'temporal-schema',
        'temporal-ui',
        'worker',
      ].sort(),
    );
    const temporal = project.services.temporal!;
    expect(temporal.image).toMatch(/^temporalio\/server:\d/);
    expect(temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(project.services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d/);
    expect(project.services['temporal-ui']!.ports).toEqual([
      expect.objectContaining({ target: 8080, published: '8080' }),
    ]);
    expect(project.services.worker!.deploy?.replicas).toBe(2);
    expect(project.services.api!.ports).toEqual([
      expect.objectContaining({ target: 3005, published: '3005' }),
    ]);
  });

  it('when brought up, then each service waits for what it needs: migrations and the namespace before the API and workers', () => {
    expect(project.services.api!.depends_on).toMatchObject({
      migrate: { condition: 'service_completed_successfully' },
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
    expect(project.services.worker!.depends_on).toEqual(project.services.api!.depends_on);
    expect(project.services.migrate!.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
    });
    expect(project.services.temporal!.depends_on).toMatchObject({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expectDependenciesSatisfiable(project, () => false);
  });

  it('when the app services run, then they share one image, each in its role, pointed at the stack’s PostgreSQL and Temporal', () => {
    const [migrate, api, worker] = app();
    expect(new Set(app().map((s) => s.image)).size).toBe(1);
    expect(app().every((s) => s.build?.target === 'runtime')).toBe(true);
    expect([api!.environment?.ROLE, worker!.environment?.ROLE]).toEqual(['api', 'worker']);
    expect(migrate!.command).toEqual(['node', 'dist/src/db/migrate.cli.js']);
    expect(fs.existsSync(path.join(ROOT, sourceOf(migrate!.command![1]!)))).toBe(true);
    for (const service of app()) {
      expect(service.environment).toMatchObject({
        NODE_ENV: 'production',
        API_KEY: LOCAL_COMPOSE_VARIABLES.API_KEY,
        ENCRYPTION_KEYS: LOCAL_COMPOSE_VARIABLES.ENCRYPTION_KEYS,
      });
      expect(Object.keys(project.services)).toContain(
        new URL(service.environment!.DATABASE_URL!).hostname,
      );
      expect(Object.keys(project.services)).toContain(
        service.environment!.TEMPORAL_ADDRESS!.split(':')[0],
      );
      // The configuration schema accepts what the stack gives each process.
      expect(() => loadConfig(service.environment as NodeJS.ProcessEnv)).not.toThrow();
    }
  });

  it('when a worker is stopped, then Compose waits longer than the worker’s drain grace period before killing it', () => {
    const config = loadConfig(project.services.worker!.environment as NodeJS.ProcessEnv);
    expect(parseDuration(project.services.worker!.stop_grace_period!)).toBeGreaterThan(
      shutdownGraceMs(config),
    );
  });

  it('when API_KEY or ENCRYPTION_KEYS is not set, then Compose refuses to start and says so', async () => {
    const result = await loadCompose(composeCheck, 'docker-compose.yml', {});
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('API_KEY') });
    const { ENCRYPTION_KEYS: _omitted, ...withoutKeys } = LOCAL_COMPOSE_VARIABLES;
    const noKeys = await loadCompose(composeCheck, 'docker-compose.yml', withoutKeys);
    expect(noKeys).toMatchObject({ ok: false, error: expect.stringContaining('ENCRYPTION_KEYS') });
  });
});

describe('docker-compose.prod.yml (beside Traefik, postgres-main and redis)', () => {
  const example = envFile(PRODUCTION_ENV_EXAMPLE);
  let project: ComposeProject;
  let api: ComposeService;
  let labels: Record<string, string>;
  beforeAll(async () => {
    project = await load('docker-compose.prod.yml', example);
    api = project.services['task-scheduler-api']!;
    labels = api.labels ?? {};
  });

  it('when loaded with .env.production.example, then it joins the external attendance-network and uses postgres-main and redis without defining them', () => {
    expect(project.networks?.['attendance-network']).toMatchObject({
      external: true,
      name: 'attendance-network',
    });
    for (const name of ['postgres-main', 'redis', 'traefik'])
      expect(project.services[name]).toBeUndefined();
    expect(new URL(api.environment!.DATABASE_URL!).hostname).toBe('postgres-main');
    expect(new URL(api.environment!.REDIS_URL!).hostname).toBe('redis');
    expect(project.services['task-scheduler-temporal']!.environment).toMatchObject({
      POSTGRES_SEEDS: 'postgres-main',
    });
    for (const name of ['task-scheduler-api', 'task-scheduler-worker', 'task-scheduler-temporal']) {
      expect(Object.keys(project.services[name]!.networks ?? {})).toContain('attendance-network');
    }
    expectDependenciesSatisfiable(project, () => false);
    expect(() => loadConfig(api.environment as NodeJS.ProcessEnv)).not.toThrow();
  });

  it('when Traefik reads the API’s labels, then https://DOMAIN/api/task-scheduler/* goes to the API’s port over TLS from Let’s Encrypt', () => {
    expect(labels).toMatchObject({
      'traefik.enable': 'true',
      'traefik.docker.network': 'attendance-network',
      'traefik.http.routers.task-scheduler.rule': `Host(\`${example.DOMAIN}\`) && PathPrefix(\`/api/task-scheduler\`)`,
      'traefik.http.routers.task-scheduler.entrypoints': 'websecure',
      'traefik.http.routers.task-scheduler.tls': 'true',
      'traefik.http.routers.task-scheduler.tls.certresolver': 'letsencrypt',
      'traefik.http.routers.task-scheduler.middlewares': 'task-scheduler-path',
      'traefik.http.services.task-scheduler.loadbalancer.server.port': api.environment!.PORT,
    });
  });

  it('when Traefik rewrites public URLs, then they reach the app’s routes, and Swagger UI’s "try it out" URLs are such public URLs', () => {
    // Traefik's replacepathregex is Go's regexp.ReplaceAllString; `${1}` is `$1` in JavaScript.
    const regex = new RegExp(
      labels['traefik.http.middlewares.task-scheduler-path.replacepathregex.regex']!,
    );
    const replacement = labels[
      'traefik.http.middlewares.task-scheduler-path.replacepathregex.replacement'
    ]!.replace(/\$\{(\d+)\}/g, '$$$1');
    const rewrite = (publicPath: string) => publicPath.replace(regex, replacement);
    expect(rewrite('/api/task-scheduler/docs/')).toBe('/api/docs/');
    expect(rewrite('/api/task-scheduler/openapi.json')).toBe('/api/openapi.json');
    expect(rewrite('/api/task-scheduler/tasks/1234/trigger')).toBe('/api/tasks/1234/trigger');

    const contract = loadOpenApiDocument();
    const served = openApiForPublicPath(contract, api.environment!.PUBLIC_API_PATH!);
    const serverUrl = served.servers![0]!.url;
    const publicUrls = Object.keys(served.paths).map((p) => `${serverUrl}${p}`);
    const apiRoutes = Object.keys(contract.paths).filter((p) => p.startsWith('/api/'));
    expect(publicUrls.map(rewrite).sort()).toEqual(apiRoutes.sort());
  });

  it('when running, then workers are replicated, long-running services restart, and the app’s services have resource limits', () => {
    const worker = project.services['task-scheduler-worker']!;
    expect(worker.deploy?.replicas).toBe(Number(example.WORKER_REPLICAS ?? 2));
    for (const name of [
      'task-scheduler-api',
      'task-scheduler-worker',
      'task-scheduler-temporal',
      'task-scheduler-temporal-ui',
    ]) {
      expect({ name, restart: project.services[name]!.restart }).toEqual({
        name,
        restart: 'unless-stopped',
      });
    }
    expect(project.services['task-scheduler-migrate']!.restart).toBe('no');
    for (const service of [api, worker]) {
      expect(service.deploy?.resources?.limits).toEqual({
        cpus: expect.any(Number),
        memory: expect.anything(),
      });
    }
    const config = loadConfig(worker.environment as NodeJS.ProcessEnv);
    expect(parseDuration(worker.stop_grace_period!)).toBeGreaterThan(shutdownGraceMs(config));
  });

  it('when deployed, then the Temporal Web UI (which has no login) is published on the host’s loopback only', () => {
    const ui = project.services['task-scheduler-temporal-ui']!;
    expect(ui.ports).toEqual([expect.objectContaining({ target: 8080, host_ip: '127.0.0.1' })]);
    expect(ui.labels?.['traefik.enable']).toBeUndefined();
  });

  it.each([
    'DOMAIN',
    'API_KEY',
    'ENCRYPTION_KEYS',
    'DATABASE_URL',
    'TEMPORAL_DB_USER',
    'TEMPORAL_DB_PASSWORD',
  ])(
    'when %s is missing from the environment, then Compose refuses to start and names it',
    async (name) => {
      const { [name]: _omitted, ...rest } = example;
      const result = await loadCompose(composeCheck, 'docker-compose.prod.yml', rest);
      expect(result).toMatchObject({ ok: false, error: expect.stringContaining(name) });
    },
  );

  it('when secrets are set, then they reach the containers from the environment only (the file holds none)', async () => {
    const secrets = {
      API_KEY: 'sentinel-api-key-0123456789',
      TEMPORAL_DB_PASSWORD: 'sentinel-temporal-password',
    };
    const withSecrets = await load('docker-compose.prod.yml', { ...example, ...secrets });
    expect(withSecrets.services['task-scheduler-api']!.environment!.API_KEY).toBe(secrets.API_KEY);
    expect(withSecrets.services['task-scheduler-temporal']!.environment!.POSTGRES_PWD).toBe(
      secrets.TEMPORAL_DB_PASSWORD,
    );
    expect(read('docker-compose.prod.yml')).not.toMatch(
      /^\s*[A-Z_]*(PASSWORD|PWD|API_KEY|DATABASE_URL):\s*(?!\$\{)\S/m,
    );
  });
});

describe('versions: the images run what the tests run', () => {
  const files = {
    'docker-compose.yml': LOCAL_COMPOSE_VARIABLES,
    'docker-compose.prod.yml': envFile(PRODUCTION_ENV_EXAMPLE),
  };

  it('when the compose files pull Temporal images, then server and admin-tools carry the release the topology test builds and runs (one constant)', async () => {
    for (const [file, variables] of Object.entries(files)) {
      const project = await load(file, variables);
      const images = Object.values(project.services)
        .map((service) => service.image ?? '')
        .filter((image) => /^temporalio\/(server|admin-tools):/.test(image));
      expect({ file, count: images.length >= 3 }).toEqual({ file, count: true });
      for (const image of images) {
        expect({ file, image }).toEqual({
          file,
          image: expect.stringMatching(
            new RegExp(`:${TEMPORAL_SERVER_VERSION.replace(/\./g, '\\.')}$`),
          ),
        });
      }
    }
  });

  it('when the compose files run the Temporal server, then it has the topology test’s shard count and the one shared dynamic config file', async () => {
    for (const [file, variables] of Object.entries(files)) {
      const project = await load(file, variables);
      const servers = Object.values(project.services).filter((s) =>
        s.image?.startsWith('temporalio/server:'),
      );
      expect(servers).toHaveLength(1);
      const server = servers[0]!;
      expect(server.environment?.NUM_HISTORY_SHARDS).toBe(String(TEMPORAL_HISTORY_SHARDS));
      const target = server.environment?.DYNAMIC_CONFIG_FILE_PATH;
      const mount = server.volumes?.find((v) => v.target === target);
      expect({ file, source: mount?.source, readOnly: mount?.read_only }).toEqual({
        file,
        source: path.join(ROOT, 'deploy/temporal/dynamicconfig.yaml'),
        readOnly: true,
      });
    }
  });

  it('when the image is built, then its Node.js is the version .ci/run tests on (npm run test:node24), and engines names the lines tested', () => {
    const pkg = JSON.parse(read('package.json')) as {
      engines: { node: string };
      scripts: Record<string, string>;
    };
    const imageNode = /^ARG NODE_VERSION=(\S+)$/m.exec(read('Dockerfile'))?.[1];
    const testedNode = /scripts\/with-node\.sh (\S+) /.exec(pkg.scripts['test:node24'] ?? '')?.[1];
    expect(imageNode).toBeDefined();
    expect(imageNode).toBe(testedNode);
    expect(imageNode).toMatch(/^24\./);
    expect(pkg.engines.node).toBe('^20.19 || ^24');
    expect(read('.ci/run')).toContain('npm run --silent test:node24');
  });
});

describe('compose-check', () => {
  it('when a Compose file is inconsistent, then it is rejected (the validator is not a formality)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-bad-'));
    try {
      const file = path.join(dir, 'compose.yml');
      fs.writeFileSync(
        file,
        'services:\n  api:\n    image: x\n    depends_on:\n      missing:\n        condition: service_healthy\n',
      );
      const result = await loadCompose(composeCheck, file, {});
      expect(result).toMatchObject({ ok: false, error: expect.stringContaining('missing') });
      fs.writeFileSync(
        file,
        'services:\n  api:\n    image: x\n    restart: sometimes\n    replicas: two\n',
      );
      expect(await loadCompose(composeCheck, file, {})).toMatchObject({ ok: false });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
