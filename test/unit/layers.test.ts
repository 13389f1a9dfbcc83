import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Lints each snippet as if it were the file at `filePath`, with the project's own ESLint config,
 * through ESLint's Node API in a child process (ESLint loads its flat config with a dynamic
 * import, which Jest's VM cannot do in-process). Returns the restricted-import messages per file.
 */
function lintAs(snippets: Record<string, string>): Record<string, string[]> {
  const script = `
    import { ESLint } from 'eslint';
    const snippets = JSON.parse(process.argv[1]);
    const eslint = new ESLint({ cwd: ${JSON.stringify(ROOT)} });
    const out = {};
    for (const [filePath, code] of Object.entries(snippets)) {
      const [result] = await eslint.lintText(code, { filePath });
      out[filePath] = result.messages
        .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
        .map((m) => m.message);
    }
    console.log(JSON.stringify(out));
  `;
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', script, JSON.stringify(snippets)],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`eslint failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, string[]>;
}

describe('the layer lint rules', () => {
  it('when a service imports the API, even a type, then lint fails and says where errors live', () => {
    const messages = lintAs({
      'src/services/probe.service.ts':
        "import { NotFoundError } from '../api/errors';\nexport const f = NotFoundError;\n",
      'src/services/typed.service.ts':
        "import type { AppDeps } from '../api/app';\nexport type T = AppDeps;\n",
    });
    expect(messages['src/services/probe.service.ts']).toEqual([
      expect.stringContaining('src/errors.ts'),
    ]);
    expect(messages['src/services/typed.service.ts']).toHaveLength(1);
  });

  it('when the database, Temporal, schedule, Discord or activity code imports src/api, then lint fails', () => {
    const messages = lintAs({
      'src/db/probe.ts': "import { createApp } from '../api/app';\nexport const f = createApp;\n",
      'src/db/entities/probe.ts':
        "import { createApp } from '../../api/app';\nexport const f = createApp;\n",
      'src/temporal/probe.ts':
        "import { toProblem } from '../api/error-handler';\nexport const f = toProblem;\n",
      'src/schedule/probe.ts':
        "import { createApp } from '../api/app';\nexport const f = createApp;\n",
      'src/discord/probe.ts':
        "import { createApp } from '../api/app';\nexport const f = createApp;\n",
      'activities/probe.ts':
        "import { createApp } from '../src/api/app';\nexport const f = createApp;\n",
    });
    for (const [file, found] of Object.entries(messages)) {
      expect([file, found]).toEqual([file, [expect.stringContaining('may import src/api')]]);
    }
  });

  it('when anything outside src/main imports src/main, then lint fails; src/main, tests and bench may', () => {
    const importMain = (from: string) =>
      `import { main } from '${from}/main/start';\nexport const f = main;\n`;
    const messages = lintAs({
      'src/db/migrate-probe.cli.ts': importMain('..'),
      'src/temporal/probe.cli.ts': importMain('..'),
      'src/api/probe.ts': importMain('..'),
      'src/services/probe.service.ts': importMain('..'),
      'src/main/probe.ts': importMain('.'),
      'test/unit/probe.test.ts': importMain('../../src'),
      'bench/probe.ts': importMain('../src'),
    });
    for (const file of [
      'src/db/migrate-probe.cli.ts',
      'src/temporal/probe.cli.ts',
      'src/api/probe.ts',
      'src/services/probe.service.ts',
    ]) {
      expect([file, messages[file]]).toEqual([file, [expect.stringContaining('composition root')]]);
    }
    expect(messages['src/main/probe.ts']).toEqual([]);
    expect(messages['test/unit/probe.test.ts']).toEqual([]);
    expect(messages['bench/probe.ts']).toEqual([]);
  });

  it('when a service imports the layers below it and the domain errors, then lint passes', () => {
    const messages = lintAs({
      'src/services/probe.service.ts': [
        "import { NotFoundError } from '../errors';",
        "import type { Orm } from '../db/orm';",
        "import { scheduleIdForTask } from '../temporal/contracts';",
        "import { parseSchedule } from '../schedule/cron';",
        'export const f = [NotFoundError, scheduleIdForTask, parseSchedule] as unknown as Orm;',
        '',
      ].join('\n'),
    });
    expect(messages['src/services/probe.service.ts']).toEqual([]);
  });
});
