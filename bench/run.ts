/**
 * `npm run bench`: every benchmark in turn (each also runs alone:
 * `npm run bench:api-keys`, `npm run bench:webhooks`, `npm run bench:oauth`). Each writes its results
 * to bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let failed = false;
for (const script of ['api-keys.ts', 'webhooks.ts', 'oauth.ts']) {
  process.stdout.write(`\n== bench/${script}\n`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(here, script)], { stdio: 'inherit' });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
