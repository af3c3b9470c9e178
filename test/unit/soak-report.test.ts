// The soak's verdict is arithmetic over samples (bench/soak-report.ts): medians of the baseline
// and end windows by calls completed, and a least-squares slope after warm-up. These pin it on
// series whose answer is known, so that "flat" keeps meaning the same thing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flatness, leastSquaresSlope, median, type SoakSample } from '../../bench/soak-report.js';

/** One sample per 1,000 calls over a 100,000-call run, RSS from `rss(calls)`. */
function series(rss: (calls: number) => number): SoakSample[] {
  return Array.from({ length: 101 }, (_, i) => ({ elapsedS: i, calls: i * 1_000, failed: 0, rssMiB: { gateway: rss(i * 1_000) } }));
}

describe('soak verdict', () => {
  it('takes medians and least-squares slopes', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.equal(leastSquaresSlope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
    assert.ok(Number.isNaN(leastSquaresSlope([{ x: 1, y: 1 }, { x: 1, y: 2 }])));
  });

  it('calls a series that only grows during warm-up flat', () => {
    // Climbs from 100 to 200 MiB in the first 20 % of the calls, then stays: nothing after warm-up grows.
    const f = flatness(series((c) => Math.min(200, 100 + c / 200)), 100_000, 'gateway')!;
    assert.deepEqual([f.baselineMiB, f.endMiB, f.growthMiB, f.growthPct, f.slopeMiBPer10kCalls], [200, 200, 0, 0, 0]);
    // Windows by calls completed: 20-40 % holds the samples at 20,000..39,000, the end 80,000..100,000.
    assert.deepEqual(f.samples, { baseline: 20, end: 21, fit: 81 });
  });

  it('measures a leak: growth from the baseline median to the end median, slope per 10,000 calls', () => {
    // 1 MiB per 1,000 calls from 200 MiB: baseline median at 29,500 calls, end median at 90,000.
    const f = flatness(series((c) => 200 + c / 1_000), 100_000, 'gateway')!;
    assert.equal(f.baselineMiB, 229.5);
    assert.equal(f.endMiB, 290);
    assert.equal(f.growthMiB, 60.5);
    assert.equal(f.growthPct, 26.4);
    assert.equal(f.slopeMiBPer10kCalls, 10);
  });

  it('gives no verdict when a window has no sample, and judges only the samples that have the process', () => {
    const short = [0, 500, 1_000].map((calls, i) => ({ elapsedS: i, calls, failed: 0, rssMiB: { gateway: 100 } }));
    assert.equal(flatness(short, 1_000, 'gateway'), undefined);
    assert.equal(flatness(series(() => 100), 100_000, 'worker'), undefined);
  });
});
