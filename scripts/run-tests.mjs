#!/usr/bin/env node
// Runs the test suites with Node's test runner (TypeScript through tsx), one file at a time:
// integration tests each start their own Temporal dev server and must not fight over the 2 cores.
// `all` (what `npm test` runs) then runs the MCP conformance suite in both eras
// (scripts/conformance.mjs), and fails when either fails; filters select test files only.
// Usage: node scripts/run-tests.mjs [unit|integration|all] [file filters...]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [suite = 'all', ...filters] = process.argv.slice(2);
const dirs = suite === 'all' ? ['test/unit', 'test/integration'] : [`test/${suite}`];
const files = dirs
  .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(dir, f)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Spec output for people; a TAP copy to count from, for the one-line summary CI reads.
const tap = join(mkdtempSync(join(tmpdir(), 'switchyard-tests-')), 'results.tap');
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { stdio: 'inherit' },
);
// After the integration tests, so a broken build or stack fails there first with a clearer message.
let conformance = 0;
if (suite === 'all') {
  console.log('\nconformance (scripts/conformance.mjs):');
  conformance = spawnSync(process.execPath, [join(import.meta.dirname, 'conformance.mjs')], { stdio: 'inherit' }).status ?? 1;
}
const summary = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(summary)?.[1] ?? 0);
if (conformance !== 0) console.log('\nconformance FAILED (see above)');
console.log(`\ntests: ${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped`);
process.exit(result.status === 0 ? conformance : (result.status ?? 1));
