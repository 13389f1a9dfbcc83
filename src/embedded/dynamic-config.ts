import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * deploy/temporal/dynamicconfig.yaml: the one dynamic config file of every Temporal server this
 * project runs (the embedded dev server, both compose stacks, the topology test). Next to the
 * sources under tsx; copied into dist/ by `npm run build`.
 */
export const DYNAMIC_CONFIG_PATH = path.resolve(
  __dirname,
  '../../deploy/temporal/dynamicconfig.yaml',
);

/**
 * The file's values as `--dynamic-config-value` pairs for the dev server, which takes no file:
 * for each key, the value without constraints (the one a whole server gets).
 */
export function loadDynamicConfig(file = DYNAMIC_CONFIG_PATH): Record<string, unknown> {
  const document = parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  const values: Record<string, unknown> = {};
  for (const [key, entries] of Object.entries(document ?? {})) {
    if (!Array.isArray(entries)) throw new Error(`${file}: ${key} is not a list of values`);
    const global = (entries as { value?: unknown; constraints?: object }[]).find(
      (entry) => !entry.constraints || Object.keys(entry.constraints).length === 0,
    );
    if (global && 'value' in global) values[key] = global.value;
  }
  return values;
}
