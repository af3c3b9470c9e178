// How the worker runs the workflow sandbox: Temporal's Worker, with its per-entry time limit
// made optional (config `worker.sandboxTimeLimitMs`).
//
// The SDK calls into the workflow's V8 context several times per activation (activate, unblock
// conditions until none unblocks, conclude: about 8 times per call on the key workflow) and gives
// each call Node's vm `timeout`, which starts and joins a watchdog thread per call (nodejs/node
// #47739). Measured on the 2-core machine: 3 µs per entry without it, 170 µs with it, more under
// load; in the bench (32 clients, two runs each way) the worker's CPU per call fell by 29-38 %,
// 3.5-4.7 ms, and the engine floor's worker's by 38 %. The limit only catches workflow code
// that never yields (an endless loop), and the only workflow code this worker runs is the
// product's own, replay-tested; so it is off unless configured (docs/performance.md).
import { Worker } from '@temporalio/worker';

type CreatorArgs = Parameters<(typeof Worker)['createWorkflowCreator']>;

/** Builds a Worker class whose sandbox entries have `limitMs` as their time limit, or none (0). */
export function workerClass(limitMs: number): typeof Worker {
  if (limitMs > 0) return Worker;
  return class UnlimitedSandboxWorker extends Worker {
    protected static override createWorkflowCreator(bundle: CreatorArgs[0], options: CreatorArgs[1], logger: CreatorArgs[2]): ReturnType<(typeof Worker)['createWorkflowCreator']> {
      // `undefined` is what vm's runInContext takes as "no limit"; the option itself is typed as a number.
      return super.createWorkflowCreator(bundle, { ...options, isolateExecutionTimeoutMs: undefined as unknown as number }, logger);
    }
  };
}
