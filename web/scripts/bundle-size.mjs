// Prints the gzipped size of the JavaScript the console ships (web/dist/assets/*.js) and fails
// when it is over the budget of issue 12 (250 KB gzipped). Run by `npm run console:build`.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 250 * 1024;
const dir = path.join(import.meta.dirname, '..', 'dist', 'assets');
const files = readdirSync(dir).filter((name) => name.endsWith('.js'));
let total = 0;
for (const name of files) {
  const gzipped = gzipSync(readFileSync(path.join(dir, name)), { level: 9 }).length;
  total += gzipped;
  console.log(`  ${name}  ${(gzipped / 1024).toFixed(1)} KB gzipped`);
}
const verdict = total <= BUDGET_BYTES ? 'within' : 'OVER';
console.log(
  `console JavaScript: ${(total / 1024).toFixed(1)} KB gzipped in ${files.length} file(s), ${verdict} the ${BUDGET_BYTES / 1024} KB budget`,
);
if (total > BUDGET_BYTES) process.exit(1);
