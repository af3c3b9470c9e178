#!/usr/bin/env node
// Makes sure a Jaeger all-in-one (v1.76.0: OTLP receiver, in-memory storage, HTTP query API) is
// available for the telemetry tests and `switchyard dev` experiments: $JAEGER_BIN, then
// .switchyard/bin/jaeger-all-in-one; otherwise builds it there from its Go module and reuses it
// next time. `go install` refuses the module (its go.mod has replace directives), so the module is
// fetched into the Go module cache and built from there as the main module. Nothing is downloaded
// at run time but Go modules, through the Go module proxy.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { binDir, executable, found as foundAt, goEnv, quiet } from './provision-common.mjs';

const MODULE = 'github.com/jaegertracing/jaeger';
const VERSION = 'v1.76.0';
const local = join(binDir, 'jaeger-all-in-one');
const found = (path, how) => foundAt('Jaeger', path, how);

if (process.env.JAEGER_BIN) {
  if (executable(process.env.JAEGER_BIN)) found(process.env.JAEGER_BIN, 'from JAEGER_BIN');
  console.error(`JAEGER_BIN is set to ${process.env.JAEGER_BIN}, which is not an executable file.`);
  process.exit(1);
}
if (existsSync(local) && executable(local)) found(local, 'project-local build');

const go = spawnSync('go', ['version'], { encoding: 'utf8' });
if (go.status !== 0) {
  console.error(
    [
      'No Jaeger found (needed by the telemetry tests), and Go is not installed to build one.',
      'Install one of:',
      '  - Go 1.24 or newer (https://go.dev/dl/); then run `npm run provision` again, or',
      '  - Jaeger all-in-one v1.x (https://www.jaegertracing.io/download/), and set JAEGER_BIN to it.',
    ].join('\n'),
  );
  process.exit(1);
}
const started = Date.now();
console.log(`Building Jaeger all-in-one ${VERSION} with ${go.stdout.trim()} into ${binDir} (a few minutes, once)...`);
const env = goEnv();
const download = spawnSync('go', ['mod', 'download', '-json', `${MODULE}@${VERSION}`], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
let dir;
try {
  dir = JSON.parse(download.stdout).Dir;
} catch {
  dir = undefined;
}
if (download.status !== 0 || !dir) {
  console.error(`Fetching ${MODULE}@${VERSION} failed (exit ${download.status}). If the Go checksum database is unreachable, retry with GOSUMDB=off; or set JAEGER_BIN.`);
  process.exit(1);
}
mkdirSync(binDir, { recursive: true });
const build = spawnSync('go', ['build', '-o', local, './cmd/all-in-one'], { cwd: dir, stdio: 'inherit', env });
if (build.status !== 0 || !executable(local)) {
  console.error(`Building Jaeger failed (exit ${build.status}); or install Jaeger yourself and set JAEGER_BIN.`);
  process.exit(1);
}
if (!quiet) console.log(`Jaeger built in ${Math.round((Date.now() - started) / 1000)} s`);
found(local, 'built now');
