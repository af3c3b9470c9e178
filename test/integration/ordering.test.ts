// Per-key order under crashes (docs/guarantees.md, guarantee 1): many keys from concurrent
// clients while the worker is SIGKILLed twice (soak.test.ts has one key with 10,000 steps). The fixture's `record` tool is idempotent by correlation id, so
// `applied` is what took effect and `executions` is every request that reached it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyWorkflowId } from '../../src/shared/ids.js';
import { keyRoute } from '../../src/shared/route.js';
import { waitFor } from '../support/ports.js';
import { byKey, submit } from '../support/ordering.js';
import { Stack } from '../support/stack.js';

const KEYS = 20;
const STEPS = 50;

describe('per-key order', { timeout: 3_600_000 }, () => {
  let stack: Stack;

  before(async () => {
    // With the SDK's stack traces on (worker.workflowStackTraces; off by default, see call-path.test.ts),
    // so that the SDK's own workflow threads run this suite's kills too.
    stack = await new Stack({ withEverything: false, heartbeatTimeoutMs: 2_000, laneHandoffsPerRun: 100, configure: (config) => void (config.worker.workflowStackTraces = true) }).start();
  });

  after(async () => {
    await stack?.stop();
  });

  it(`${KEYS} keys × ${STEPS} steps from concurrent clients, worker SIGKILLed twice: acceptance order, nothing lost, nothing applied twice`, async () => {
    const clients = await Promise.all(Array.from({ length: KEYS }, () => stack.client()));
    const started = Date.now();
    // Each client accepts its key's steps one after another: acceptance order is step order.
    const submitting = clients.map(async (client, k) => {
      for (let step = 0; step < STEPS; step++) await submit(client, `order-${k}`, step);
    });
    const kills: number[] = [];
    const killer = (async () => {
      for (const atApplied of [KEYS * STEPS * 0.25, KEYS * STEPS * 0.6]) {
        await waitFor('progress before a kill', () => (stack.fixture.applied.length >= atApplied ? true : undefined), 600_000, 50);
        await stack.kill('worker');
        kills.push(stack.fixture.applied.length);
        await new Promise((r) => setTimeout(r, 500));
        await stack.startWorker();
      }
    })();
    await Promise.all([...submitting, killer]);
    await waitFor('every accepted step applied', () => (byKeyCount(stack) >= KEYS * STEPS ? true : undefined), 600_000, 250);
    const elapsed = Date.now() - started;

    const { applied, reached } = byKey(stack, 'order-');
    for (let k = 0; k < KEYS; k++) {
      const key = `order-${k}`;
      const expected = Array.from({ length: STEPS }, (_, i) => i);
      assert.deepEqual(applied.get(key), expected, `${key}: applied in acceptance order, each once`);
      // A step retried after the kill may reach the server again, but never after a later step.
      const seen = reached.get(key)!;
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `${key}: step ${seen[i]} reached the server after step ${seen[i - 1]}`);
    }
    const repeats = [...reached.values()].reduce((n, steps) => n + steps.length, 0) - KEYS * STEPS;
    console.log(`# ${KEYS * STEPS} ordered steps in ${(elapsed / 1000).toFixed(1)} s; worker killed at ${kills.join(' and ')} applied; ${repeats} requests repeated after the kills (deduped by the server)`);
    assert.equal(kills.length, 2);
    // The SDK's stack-trace query (the Web UI's "Stack Trace" tab) answers from a key workflow.
    const trace = await stack.temporalClient.workflow.getHandle(keyWorkflowId('default', keyRoute('default', stack.storedKey('order-0')))).query<string>('__stack_trace');
    assert.match(trace, /keyWorkflow/);
    await Promise.all(clients.map((c) => c.close()));
  });
});

function byKeyCount(stack: Stack): number {
  return stack.fixture.applied.filter((a) => a.key.startsWith('order-')).length;
}

