// The engine floor's worker, its own process (as Switchyard's worker is): bundles
// bench/engine/workflows.ts at start and polls ENGINE_TASK_QUEUE. Worker concurrency matches
// Switchyard's defaults (src/config/schema.ts) so the two workers have the same slots.
// Usage: node --import tsx bench/engine/worker.ts --address HOST:PORT [--namespace NS] [--sandbox-time-limit-ms N] [--workflow-stack-traces] [--workflow-threads N]
// The sandbox time limit, stack traces and workflow threads are Switchyard's
// `worker.sandboxTimeLimitMs` (default 0, none), `worker.workflowStackTraces` (default off) and
// `worker.workflowThreads` (default 0, the main thread): the floor runs its sandbox the way
// Switchyard's worker does (src/workers/sandbox.ts).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { workerClass } from '../../src/workers/sandbox.js';
import { createEngineActivities } from './activities.js';
import { ENGINE_TASK_QUEUE } from './shared.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { address: { type: 'string' }, namespace: { type: 'string', default: 'default' }, 'sandbox-time-limit-ms': { type: 'string', default: '0' }, 'workflow-stack-traces': { type: 'boolean', default: false }, 'workflow-threads': { type: 'string', default: '0' } } });
  const limitMs = Number(values['sandbox-time-limit-ms']);
  const threads = Number(values['workflow-threads']);
  if (!values.address) throw new Error('--address is required');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: values.address });
  const worker = await workerClass({ timeLimitMs: limitMs, stackTraces: values['workflow-stack-traces'], threads }).create({
    connection,
    ...(threads > 0 ? { workflowThreadPoolSize: threads } : {}),
    ...(limitMs > 0 ? { isolateExecutionTimeout: limitMs } : {}),
    namespace: values.namespace,
    taskQueue: ENGINE_TASK_QUEUE,
    workflowsPath: resolve(import.meta.dirname, 'workflows.ts'),
    activities: createEngineActivities(),
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
    shutdownGraceTime: '2 seconds',
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => worker.shutdown());
  process.stdout.write('engine worker is running\n');
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`engine worker: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
