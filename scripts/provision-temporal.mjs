#!/usr/bin/env node
// Makes sure a Temporal CLI (dev server 1.29 with Web UI) is available: $TEMPORAL_CLI, then PATH,
// then .switchyard/bin/temporal; otherwise builds it there from its Go module and reuses it next
// time. Nothing is downloaded at run time but Go modules, through the Go module proxy.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { binDir, executable, found as foundAt, goEnv } from './provision-common.mjs';

const VERSION = 'v1.5.1'; // the last tag that `go install` can build (v1.6+ has a replace directive)
const local = join(binDir, 'temporal');
const found = (path, how) => foundAt('Temporal CLI', path, how);

if (process.env.TEMPORAL_CLI) {
  if (executable(process.env.TEMPORAL_CLI)) found(process.env.TEMPORAL_CLI, 'from TEMPORAL_CLI');
  console.error(`TEMPORAL_CLI is set to ${process.env.TEMPORAL_CLI}, which is not an executable file.`);
  process.exit(1);
}
for (const dir of (process.env.PATH ?? '').split(delimiter)) {
  if (dir && executable(join(dir, 'temporal'))) found(join(dir, 'temporal'), 'on PATH');
}
if (existsSync(local) && executable(local)) found(local, 'project-local build');

const go = spawnSync('go', ['version'], { encoding: 'utf8' });
if (go.status !== 0) {
  console.error(
    [
      'No Temporal CLI found, and Go is not installed to build one.',
      'Install one of:',
      '  - Go 1.22 or newer (https://go.dev/dl/); then run `npm run provision` again, or',
      '  - the Temporal CLI (https://docs.temporal.io/cli), on PATH or in $TEMPORAL_CLI.',
    ].join('\n'),
  );
  process.exit(1);
}
console.log(`Building the Temporal CLI ${VERSION} with ${go.stdout.trim()} into ${binDir} (a few minutes, once)...`);
mkdirSync(binDir, { recursive: true });
const build = spawnSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${VERSION}`], {
  stdio: 'inherit',
  env: { ...goEnv(), GOBIN: binDir },
});
if (build.status !== 0 || !executable(local)) {
  console.error(
    `Building the Temporal CLI failed (exit ${build.status}). If the Go checksum database is unreachable, retry with GOSUMDB=off; ` +
      'or install the Temporal CLI yourself and set TEMPORAL_CLI.',
  );
  process.exit(1);
}
found(local, 'built now');
