// The chaos suite's short run (test/chaos/run.ts; `npm run test:chaos` runs it longer): mixed
// load while the worker, the gateway and the Temporal dev server are SIGKILLed and restarted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChaos } from '../chaos/run.js';

const DURATION_MS = 60_000;

describe('chaos', { timeout: 900_000 }, () => {
  it('under SIGKILLs of worker, gateway and Temporal, each killed mid-call: every call ends once or is dead-lettered, order holds, duplicates execute once, no compensation is skipped', async () => {
    // A fixed seed: the same faults at the same moments on every CI run.
    const report = await runChaos({ durationMs: DURATION_MS, keys: 3, faultEveryMs: [6_000, 10_000], downMs: [500, 2_000], seed: 20261124, log: (line) => console.log(line) });
    console.log(report.table.split('\n').map((line) => `# ${line}`).join('\n'));
    assert.ok(Object.values(report.faults).reduce((a, b) => a + b, 0) >= 4, 'faults were injected');
    for (const target of ['worker', 'gateway', 'temporal'] as const) {
      const midLoad = report.kills.filter((k) => k.target === target && k.midCall && k.atMs < DURATION_MS);
      assert.ok(midLoad.length >= 1, `${target} was SIGKILLed while calls were in flight at it: ${JSON.stringify(report.kills)}`);
    }
    assert.ok(report.accepted.ordered! > 0 && report.accepted.saga! > 0, 'load ran');
    for (const invariant of report.invariants) assert.ok(invariant.held, `${invariant.name}: ${invariant.detail}`);
  });
});
