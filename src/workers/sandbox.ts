// How the worker runs the workflow sandbox: Temporal's Worker, with two of its costs made optional.
//
// The time limit (config `worker.sandboxTimeLimitMs`, default 0: none). The SDK calls into the
// workflow's V8 context several times per activation (activate, unblock conditions until none
// unblocks, conclude: about 8 times per call on the key workflow) and gives each call Node's vm
// `timeout`, which starts and joins a watchdog thread per call (nodejs/node#47739). Measured on the
// 2-core machine: 3 µs per entry without it, 170 µs with it, more under load; in the bench (32
// clients, two runs each way) the worker's CPU per call fell by 29-38 %. The limit only catches
// workflow code that never yields (an endless loop), and the only workflow code this worker runs
// is the product's own, replay-tested; so it is off unless configured.
//
// Stack traces (config `worker.workflowStackTraces`, default false). To answer the `__stack_trace`
// query (the Web UI's "Stack Trace" tab), the SDK installs a V8 promise hook in each workflow
// thread that builds an Error, maps every frame through the bundle's source map and matches
// RegExps for every promise a workflow creates: 30-40 per call on the key workflow, a fifth of the
// worker's CPU per call in paired bench runs. Off, the SDK's own fallback applies (the query
// answers "Workflow stack traces are not enabled on this worker"); what a key workflow waits for
// is in its `keyState` and `callView` queries instead. The hook has no switch, so the workflow
// threads are started here with the same SDK thread module, preceded by a line that marks the
// hooks as installed and installs only the source-mapped Error stacks (docs/performance.md).
//
// The thread (config `worker.workflowThreads`, default 0: the main thread). The SDK runs workflow
// code in a pool of worker threads and hands every activation over and back with postMessage
// (structured clone both ways, and a wake-up of each thread). With 0, workflows run in the worker's
// main thread through the SDK's own main-thread creator (the one its replayer and debug mode use,
// and so the one the replay test runs), with the promise hook left out as above. Paired bench runs:
// the worker's CPU per call 0.57-0.82 of the pool's at 32 clients except on one key (batched:
// unchanged), 0.76-0.93 at one client (docs/performance.md, "Workflows on the main thread"). A pool
// still serves stack traces, and machines with cores to spare.
import { createRequire } from 'node:module';
import { Worker as NodeWorker } from 'node:worker_threads';
import { Worker } from '@temporalio/worker';

type CreatorArgs = Parameters<(typeof Worker)['createWorkflowCreator']>;
type Creator = ReturnType<(typeof Worker)['createWorkflowCreator']>;

export interface SandboxOptions {
  /** Milliseconds one entry into the sandbox may run; 0: no limit. */
  timeLimitMs: number;
  /** The SDK's per-promise stack capture, for the `__stack_trace` query (needs threads > 0). */
  stackTraces: boolean;
  /** Worker threads for workflow code; 0: the main thread. */
  threads: number;
}

// The SDK's internals this depends on (pinned by package-lock; every integration test starts real
// workers through them, so an SDK upgrade that moves them fails there).
const sdk = createRequire(import.meta.url);
interface ThreadClient {
  send(request: object): Promise<unknown>;
}
const vmShared = sdk('@temporalio/worker/lib/workflow/vm-shared.js') as {
  globalHandlers: { overridePrepareStackTrace(): void; installed: boolean; promiseHookInstalled: boolean };
};
const threadedVm = sdk('@temporalio/worker/lib/workflow/threaded-vm.js') as {
  WorkerThreadClient: new (thread: NodeWorker, logger: CreatorArgs[2], patchActivationCallback: unknown) => ThreadClient;
  ThreadedVMWorkflowCreator: new (clients: ThreadClient[]) => Awaited<Creator>;
};
/** A workflow thread without the promise hook: the SDK's thread module, after marking the hooks installed. */
const THREAD_WITHOUT_STACK_TRACES = `
const { globalHandlers } = require(${JSON.stringify(sdk.resolve('@temporalio/worker/lib/workflow/vm-shared.js'))});
globalHandlers.overridePrepareStackTrace();
globalHandlers.installed = true;
require(${JSON.stringify(sdk.resolve('@temporalio/worker/lib/workflow/workflow-worker-thread.js'))});
`;

/**
 * Builds a Worker class whose sandbox runs as `options` say; the stock Worker when they are the
 * SDK's defaults. The pool's size is the create options' `workflowThreadPoolSize` (workers/worker.ts).
 */
export function workerClass(options: SandboxOptions): typeof Worker {
  if (options.stackTraces && options.threads === 0) throw new Error('workflow stack traces need a pool of workflow threads (worker.workflowThreads 1 or more)');
  if (options.timeLimitMs > 0 && options.stackTraces) return Worker;
  return class SwitchyardSandboxWorker extends Worker {
    protected static override async createWorkflowCreator(bundle: CreatorArgs[0], compiled: CreatorArgs[1], logger: CreatorArgs[2]): Creator {
      // `undefined` is what vm's runInContext takes as "no limit"; the option itself is typed as a number.
      const sandbox = options.timeLimitMs > 0 ? compiled : { ...compiled, isolateExecutionTimeoutMs: undefined as unknown as number };
      // Debug mode runs workflows on the main thread, where the hook is the SDK's to install.
      if (options.stackTraces || sandbox.debugMode) return super.createWorkflowCreator(bundle, sandbox, logger);
      if (options.threads === 0) {
        // The SDK's main-thread creator installs the hooks unless they are marked installed: mark
        // them so, with the source-mapped stacks only (as THREAD_WITHOUT_STACK_TRACES does). A
        // process has one main thread, so this holds for every worker in it.
        if (!vmShared.globalHandlers.installed) {
          vmShared.globalHandlers.overridePrepareStackTrace();
          vmShared.globalHandlers.installed = true;
        }
        return super.createWorkflowCreator(bundle, { ...sandbox, debugMode: true }, logger);
      }
      // As ThreadedVMWorkflowCreator.create does, with the thread module above.
      const clients = Array.from({ length: sandbox.workflowThreadPoolSize }, () => new threadedVm.WorkerThreadClient(new NodeWorker(THREAD_WITHOUT_STACK_TRACES, { eval: true }), logger, sandbox.patchActivationCallback));
      await Promise.all(
        clients.map((client) =>
          client.send({
            type: 'init',
            workflowBundle: bundle,
            isolateExecutionTimeoutMs: sandbox.isolateExecutionTimeoutMs,
            reuseV8Context: sandbox.reuseV8Context ?? true,
            registeredActivityNames: new Set(sandbox.activities.keys()),
            hasPatchActivationCallback: sandbox.patchActivationCallback !== undefined,
          }),
        ),
      );
      return new threadedVm.ThreadedVMWorkflowCreator(clients);
    }
  };
}
