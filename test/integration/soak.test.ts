// Bounded state (docs/guarantees.md, guarantee 11): one key with 10,000 steps (set
// SWITCHYARD_SOAK_STEPS to change it) runs to the end in acceptance order across many lane
// continue-as-new runs, and its idempotency records survive them. Takes ~12 minutes here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { laneWorkflowId } from '../../src/shared/ids.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack } from '../support/stack.js';
import { byKey, submit } from '../support/ordering.js';

const SOAK_STEPS = Number(process.env.SWITCHYARD_SOAK_STEPS ?? 10_000);
const LANE_HANDOFFS_PER_RUN = 500;
const MAX_BACKLOG = 500;

describe('bounded state', { timeout: 3_600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await new Stack({ withEverything: false, laneHandoffsPerRun: LANE_HANDOFFS_PER_RUN }).start();
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

    // The lane's history stays bounded: it continued as new every LANE_HANDOFFS_PER_RUN hand-offs.
    const lane = stack.temporalClient.workflow.getHandle(laneWorkflowId('default', key));
    const history = await lane.fetchHistory();
    // About 14 events per hand-off (enqueue, go, release and their workflow tasks).
    assert.ok(history.events!.length < LANE_HANDOFFS_PER_RUN * 16, `lane history has ${history.events!.length} events`);
    const runs = await collect(stack.temporalClient.workflow.list({ query: `WorkflowId = '${laneWorkflowId('default', key)}'` }));
    assert.ok(runs.length >= Math.floor(SOAK_STEPS / LANE_HANDOFFS_PER_RUN), `${runs.length} lane runs`);

    // Idempotency records outlive the lane's runs: repeating early keys returns the first calls.
    for (const [step, correlationId] of first) {
      const again = await submit(client, key, step, `soak-${step}`, { 'switchyard/deadline_ms': 3_600_000 });
      assert.equal(correlationIdOf(again), correlationId, `idempotency key soak-${step}`);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(byKey(stack, key).applied.get(key)!.length, SOAK_STEPS, 'repeats did not apply again');
    console.log(`# ${SOAK_STEPS} steps on one key: submitted in ${(submittedIn / 1000).toFixed(0)} s, all applied after ${(elapsed / 1000).toFixed(0)} s (${(elapsed / SOAK_STEPS).toFixed(1)} ms per step), ${runs.length} lane runs, last run ${history.events!.length} events`);
    await client.close();
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
