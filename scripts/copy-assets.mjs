// Copies the non-TypeScript files the compiled code reads at run time into dist/.
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const assets = ['src/api/openapi.yaml', 'deploy/temporal/dynamicconfig.yaml'];
for (const file of assets) {
  const target = path.join('dist', file);
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(file, target);
  console.log(`copied ${file} -> ${target}`);
}
