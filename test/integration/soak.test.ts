// Bounded state (docs/guarantees.md, guarantee 11): one key with 1,000 steps runs to the end in
// acceptance order across 20 continue-as-new runs of its key workflow, and its idempotency
// records survive them. The steps carry idempotency keys, so each is a call workflow taking its
// turn in the key workflow (the "lane" below: callPath.callsPerRun hand-offs per run). About 2
// minutes. The run length shrinks with the step count, so every size checks the same things;
// SWITCHYARD_SOAK_STEPS=10000 is the full size (about 15 minutes, 500 hand-offs per run), for
// runs outside CI beside `npm run soak` (memory under 50,000 calls).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyWorkflowId } from '../../src/shared/ids.js';
import { keyRoute } from '../../src/shared/route.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack } from '../support/stack.js';
import { byKey, submit } from '../support/ordering.js';

const SOAK_STEPS = Number(process.env.SWITCHYARD_SOAK_STEPS ?? 1_000);
// The lane continues as new every LANE_HANDOFFS_PER_RUN hand-offs (50 at 1,000 steps, 500 at
// 10,000). Fewer steps get a smaller run length, so every setting goes through at least LANE_RUNS
// runs and the bound below is far under what one run would grow to without continue-as-new
// (SWITCHYARD_SOAK_STEPS=500 used to fit in a single run, and passed either way).
const LANE_RUNS = 20;
const LANE_HANDOFFS_PER_RUN = Math.max(5, Math.min(500, Math.floor(SOAK_STEPS / LANE_RUNS)));
// About 14 events per hand-off (enqueue, go, release and their workflow tasks); how many enqueues
// share a workflow task varies, so short runs measured 11-17 per hand-off. The 1,000 events of
// slack keep the bound the 10,000-step run always had (8,000 at 500 hand-offs per run).
const laneRunBound = (handoffs: number) => handoffs * 14 + 1_000;
const MAX_BACKLOG = 500;

describe('bounded state', { timeout: 3_600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await new Stack({ withEverything: false, callsPerRun: LANE_HANDOFFS_PER_RUN }).start();
  });

  after(async () => {
    await stack?.stop();
  });

  it(`one key with ${SOAK_STEPS} steps: bounded lane history, nothing lost, order and idempotency records kept`, async () => {
    const client = await stack.client();
    const key = 'soak';
    const started = Date.now();
    const first = new Map<number, string>();
    let lap = started;
    for (let step = 0; step < SOAK_STEPS; step++) {
      // Acceptance can outrun the lane (~8 hand-offs/s on one key). Queued steps would then pass
      // their deadline and never run, which is right for them but not what this test measures:
      // the test keeps at most MAX_BACKLOG steps queued, and gives each a deadline far away.
      if (step - stack.fixture.applied.length > MAX_BACKLOG) {
        const before = stack.fixture.applied.length;
        await waitFor(`the lane to move (stuck at ${before} applied)`, () => (step - stack.fixture.applied.length <= MAX_BACKLOG ? true : undefined), 120_000, 50);
      }
      const result = await submit(client, key, step, `soak-${step}`, { 'switchyard/deadline_ms': 3_600_000 });
      if (step < 5 || step === SOAK_STEPS - 1) first.set(step, correlationIdOf(result));
      if ((step + 1) % 1000 === 0) {
        // A trend line for CI logs: acceptance should not slow down as the key's history grows.
        const now = Date.now();
        console.log(`# soak: ${step + 1} submitted, ${stack.fixture.applied.length} applied, last 1000 in ${((now - lap) / 1000).toFixed(1)} s`);
        lap = now;
      }
    }
    const submittedIn = Date.now() - started;
    // The lane keeps up with acceptance, so the backlog drains quickly; a stall fails here with
    // a count instead of running into CI's time limit.
    await waitFor(`every step applied (${stack.fixture.applied.length} so far)`, () => (stack.fixture.applied.length >= SOAK_STEPS ? true : undefined), 900_000, 500);
    const elapsed = Date.now() - started;

    const { applied } = byKey(stack, key);
    assert.deepEqual(applied.get(key), Array.from({ length: SOAK_STEPS }, (_, i) => i), 'all steps, in order, once');

    // The lane's history stays bounded: it continued as new every LANE_HANDOFFS_PER_RUN hand-offs,
    // so no run, the current one included, holds more than that many hand-offs' worth of events,
    // and no run holds more than a small share of all the key's events (one run without
    // continue-as-new would hold them all: ~14 × SOAK_STEPS, far above the bound).
    const bound = laneRunBound(LANE_HANDOFFS_PER_RUN);
    const lane = stack.temporalClient.workflow.getHandle(keyWorkflowId('default', keyRoute('default', stack.storedKey(key))));
    const history = await lane.fetchHistory();
    assert.ok(history.events!.length < bound, `the lane's current run has ${history.events!.length} events (bound ${bound})`);
    const expectedRuns = Math.floor(SOAK_STEPS / LANE_HANDOFFS_PER_RUN);
    const listRuns = () => collect(stack.temporalClient.workflow.list({ query: `WorkflowId = '${keyWorkflowId('default', keyRoute('default', stack.storedKey(key)))}'` }));
    // Visibility trails the runs by a moment; a missing run still fails below, with the count.
    await waitFor('the lane runs in visibility', async () => ((await listRuns()).length >= expectedRuns ? true : undefined), 15_000, 500).catch(() => undefined);
    const runs = await listRuns();
    assert.ok(runs.length >= expectedRuns, `${runs.length} lane runs for ${SOAK_STEPS} hand-offs at ${LANE_HANDOFFS_PER_RUN} per run`);
    // Visibility has a closed run's length; the current run's is the history fetched above.
    const lengths = runs.map((run) => (run.status.name === 'RUNNING' ? history.events!.length : run.historyLength));
    const longest = Math.max(...lengths);
    const total = lengths.reduce((a, b) => a + b, 0);
    assert.ok(longest < bound, `the longest lane run has ${longest} events (bound ${bound}; run lengths ${lengths.join(', ')})`);
    assert.ok(longest * 5 < total, `no lane run holds a fifth of the key's ${total} events (longest ${longest})`);

    // Idempotency records outlive the lane's runs: repeating early keys returns the first calls.
    for (const [step, correlationId] of first) {
      const again = await submit(client, key, step, `soak-${step}`, { 'switchyard/deadline_ms': 3_600_000 });
      assert.equal(correlationIdOf(again), correlationId, `idempotency key soak-${step}`);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(byKey(stack, key).applied.get(key)!.length, SOAK_STEPS, 'repeats did not apply again');
    console.log(`# ${SOAK_STEPS} steps on one key: submitted in ${(submittedIn / 1000).toFixed(0)} s, all applied after ${(elapsed / 1000).toFixed(0)} s (${(elapsed / SOAK_STEPS).toFixed(1)} ms per step), ${runs.length} lane runs of ${LANE_HANDOFFS_PER_RUN} hand-offs, longest ${longest} events, current ${history.events!.length}`);
    await client.close();
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
