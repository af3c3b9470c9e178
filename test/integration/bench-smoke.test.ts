// Keeps `npm run bench` from rotting: a tiny run (3 calls, concurrency 1 and 2, every mode) must
// produce a result file in the current format and the chart. No timing is asserted: this machine
// is shared and the numbers mean nothing at this size.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { MODES } from '../../bench/load.js';
import { RESULT_FORMAT, type BenchResult } from '../../bench/report.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

describe('bench smoke', () => {
  const out = mkdtempSync(join(tmpdir(), 'switchyard-bench-smoke-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  it('runs every mode at concurrency 1 and 2 and writes latest.json and latency.svg', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), '--calls', '3', '--warmup', '1', '--concurrency', '1,2', '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    assert.equal(code, 0, output);

    const result = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult;
    assert.equal(result.format, RESULT_FORMAT);
    for (const field of ['cpuModel', 'cores', 'ramGiB', 'node', 'temporalCli'] as const) assert.ok(result.machine[field], `machine.${field}`);
    assert.ok(!Number.isNaN(Date.parse(result.date)));
    assert.equal(result.phases.length, MODES.length * 2);
    for (const phase of result.phases) {
      assert.equal(phase.calls, 3);
      assert.equal(phase.errors, 0);
      assert.ok(phase.throughputPerSec > 0);
      assert.ok(phase.latencyMs.p50 > 0 && phase.latencyMs.p50 <= phase.latencyMs.p95 && phase.latencyMs.p95 <= phase.latencyMs.p99);
      assert.equal(phase.overheadMs === undefined, phase.mode === 'direct');
    }
    for (const name of ['gateway', 'worker']) assert.ok(result.peakRssMiB[name]! > 0, `peak RSS of ${name}`);
    assert.ok(existsSync(join(out, 'latency.svg')));
    assert.match(readFileSync(join(out, 'latency.svg'), 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(output, /\| Mode \| Clients \| Calls\/s \|/);
  });
});
