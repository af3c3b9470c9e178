#!/usr/bin/env node
// `npm run provision`: the external programs the product and its tests need, each found or built
// once (see each script). Arguments (--quiet) go to every one.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const script of ['provision-temporal.mjs', 'provision-jaeger.mjs']) {
  const run = spawnSync(process.execPath, [join(here, script), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
