// The worker's sandbox time limit (src/workers/sandbox.ts): with `worker.sandboxTimeLimitMs` 0 the
// SDK must be handed no limit at all (undefined, which vm's runInContext reads as "none", so it
// starts no watchdog thread per entry); with a limit, the stock Worker takes it as
// isolateExecutionTimeout. The cost this removes is measured by the bench (docs/performance.md).
// (Stack traces are on here, so the stock creator is called; with them off the worker starts its own
// workflow threads, which only a real worker shows: test/integration/call-path.test.ts, ordering.test.ts.)
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workerClass } from '../../src/workers/sandbox.js';

type Creator = (bundle: unknown, options: { isolateExecutionTimeoutMs?: number }, logger: unknown) => Promise<unknown>;
const stock = Object.getOwnPropertyDescriptor(Worker, 'createWorkflowCreator')!;

/** Replaces the SDK's creator with one that records the options it is given. */
function capture(): Array<{ isolateExecutionTimeoutMs?: number }> {
  const seen: Array<{ isolateExecutionTimeoutMs?: number }> = [];
  const fake: Creator = async (_bundle, options) => {
    seen.push(options);
    return {};
  };
  Object.defineProperty(Worker, 'createWorkflowCreator', { ...stock, value: fake });
  return seen;
}

const call = (cls: typeof Worker, options: object) => (cls as unknown as { createWorkflowCreator: Creator }).createWorkflowCreator({}, options, {});

describe('workflow sandbox time limit', () => {
  afterEach(() => Object.defineProperty(Worker, 'createWorkflowCreator', stock));

  it('hands the SDK no time limit when the limit is 0, and keeps the other options', async () => {
    const seen = capture();
    await call(workerClass({ timeLimitMs: 0, stackTraces: true }), { isolateExecutionTimeoutMs: 5_000, taskQueue: 'q' });
    assert.equal(seen.length, 1);
    assert.ok('isolateExecutionTimeoutMs' in seen[0]!);
    assert.equal(seen[0]!.isolateExecutionTimeoutMs, undefined);
    assert.equal((seen[0] as { taskQueue?: string }).taskQueue, 'q');
  });

  it('uses the stock Worker, and so the configured limit, when a limit is set', async () => {
    assert.equal(workerClass({ timeLimitMs: 2_000, stackTraces: true }), Worker);
    const seen = capture();
    await call(workerClass({ timeLimitMs: 2_000, stackTraces: true }), { isolateExecutionTimeoutMs: 2_000 });
    assert.equal(seen[0]!.isolateExecutionTimeoutMs, 2_000);
  });
});
