// The worker's sandbox time limit (src/workers/sandbox.ts): with `worker.sandboxTimeLimitMs` 0 the
// SDK must be handed no limit at all (undefined, which vm's runInContext reads as "none", so it
// starts no watchdog thread per entry); with a limit, the stock Worker takes it as
// isolateExecutionTimeout. The cost this removes is measured by the bench (docs/performance.md).
// With `worker.workflowThreads` 0 (the default) workflows run on the main thread: the SDK's main-thread
// creator, without the stack-trace promise hook. (Stack traces on and a pool: the stock creator is
// called; with them off and a pool the worker starts its own workflow threads, which only a real
// worker shows: test/integration/ordering.test.ts. Every other integration test runs the default.)
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { createRequire } from 'node:module';
import { workerClass } from '../../src/workers/sandbox.js';

const { globalHandlers } = createRequire(import.meta.url)('@temporalio/worker/lib/workflow/vm-shared.js') as {
  globalHandlers: { installed: boolean; promiseHookInstalled: boolean };
};

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
    await call(workerClass({ timeLimitMs: 0, stackTraces: true, threads: 2 }), { isolateExecutionTimeoutMs: 5_000, taskQueue: 'q' });
    assert.equal(seen.length, 1);
    assert.ok('isolateExecutionTimeoutMs' in seen[0]!);
    assert.equal(seen[0]!.isolateExecutionTimeoutMs, undefined);
    assert.equal((seen[0] as { taskQueue?: string }).taskQueue, 'q');
  });

  it('uses the stock Worker, and so the configured limit, when a limit is set', async () => {
    assert.equal(workerClass({ timeLimitMs: 2_000, stackTraces: true, threads: 2 }), Worker);
    const seen = capture();
    await call(workerClass({ timeLimitMs: 2_000, stackTraces: true, threads: 2 }), { isolateExecutionTimeoutMs: 2_000 });
    assert.equal(seen[0]!.isolateExecutionTimeoutMs, 2_000);
  });
});

describe('workflow threads', () => {
  afterEach(() => Object.defineProperty(Worker, 'createWorkflowCreator', stock));

  it('runs workflows on the main thread with 0 threads: the SDK main-thread creator, and no promise hook', async () => {
    const seen = capture();
    // (A pool of 0: a creator that wrongly took the pool path would start no thread, and fail below.)
    await call(workerClass({ timeLimitMs: 0, stackTraces: false, threads: 0 }), { isolateExecutionTimeoutMs: 5_000, workflowThreadPoolSize: 0, taskQueue: 'q' });
    assert.equal(seen.length, 1);
    // debugMode is what makes the SDK's creator use the main thread (its replayer runs workflows so).
    assert.equal((seen[0] as { debugMode?: boolean }).debugMode, true);
    assert.equal(seen[0]!.isolateExecutionTimeoutMs, undefined);
    assert.equal((seen[0] as { taskQueue?: string }).taskQueue, 'q');
    // Marked installed, so the SDK's creator installs no per-promise stack capture in this thread.
    assert.equal(globalHandlers.installed, true);
    assert.equal(globalHandlers.promiseHookInstalled, false);
  });

  it('refuses stack traces without a pool of threads', () => {
    assert.throws(() => workerClass({ timeLimitMs: 0, stackTraces: true, threads: 0 }), /worker\.workflowThreads 1 or more/);
  });
});
