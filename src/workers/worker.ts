// Worker bootstrap: connect, build the activities from their dependencies, run the workflows.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { NativeConnection, type InjectedSinks, type Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { AuditStore } from '../audit/store.js';
import { keySettings, type Config } from '../config/schema.js';
import type { DownstreamPool } from '../downstream/pool.js';
import { dataConverterFor } from '../temporal/data-converter.js';
import type { Logger } from '../observability/log.js';
import { observeDownstream, observeTaskQueueBacklog, recordCallEnded } from '../observability/metrics.js';
import type { Telemetry } from '../observability/telemetry.js';
import { workerTracing } from '../observability/tracing.js';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../observability/workflow-interceptors.js';
import type { CallMetricsSinks } from '../shared/call-metrics.js';
import { AccessPolicy } from '../shared/policy.js';
import { workerClass } from './sandbox.js';

export interface WorkerDeps {
  config: Config;
  address: string;
  client: Client;
  pool: DownstreamPool;
  log: Logger;
  /** A prebuilt workflow bundle (npm run build writes dist/workflow-bundle.js); else bundled at start. */
  workflowBundlePath?: string;
  /** Traces and metrics (observability/telemetry.ts); off when unset. */
  telemetry?: Pick<Telemetry, 'traces' | 'spanProcessor' | 'resource'>;
  /** Where calls' audit records go (config `audit`); unset when the log is off. */
  audit?: AuditStore;
}

export async function createWorker(deps: WorkerDeps): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { config } = deps;
  const connection = await NativeConnection.connect({ address: deps.address });
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = deps.workflowBundlePath
    ? { workflowBundle: { codePath: deps.workflowBundlePath } }
    : { workflowsPath: workflowsEntry() };
  const tracing = workerTracing(deps.telemetry);
  const callMetrics: InjectedSinks<CallMetricsSinks> = { callMetrics: { callEnded: { fn: (_info, event) => recordCallEnded(event) } } };
  const dataConverter = dataConverterFor(config.encryption);
  const limitMs = config.worker.sandboxTimeLimitMs;
  if (config.worker.maxCachedWorkflows === 0) {
    deps.log.warn('worker.maxCachedWorkflows is 0: the Temporal SDK then drops the workflow task of a run that ran a local activity, which times out (10 s) and runs again: use 2 or more (README, worker settings)');
  }
  const threads = config.worker.workflowThreads;
  const worker = await workerClass({ timeLimitMs: limitMs, stackTraces: config.worker.workflowStackTraces, threads }).create({
    connection,
    ...(threads > 0 ? { workflowThreadPoolSize: threads } : {}),
    ...(limitMs > 0 ? { isolateExecutionTimeout: limitMs } : {}),
    ...(dataConverter ? { dataConverter } : {}),
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource,
    activities: createActivities({
      pool: deps.pool,
      client: deps.client,
      taskQueue: config.temporal.taskQueue,
      laneHandoffsPerRun: config.worker.laneHandoffsPerRun,
      keySettings: keySettings(config),
      log: deps.log.child('activity'),
      ...(config.auth.policy !== undefined ? { policy: new AccessPolicy(config.auth.policy) } : {}),
      ...(deps.audit !== undefined ? { audit: deps.audit } : {}),
    }),
    // A prebuilt bundle has the workflow interceptors in it already (scripts/bundle-workflows.mjs).
    interceptors: { activity: tracing.activityInterceptors, ...(deps.workflowBundlePath ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }) },
    sinks: { ...tracing.sinks, ...callMetrics },
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    ...(config.worker.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.worker.maxCachedWorkflows } : {}),
    // Drain in-flight calls on Ctrl-C; whatever does not finish is retried by another worker.
    shutdownGraceTime: '5 seconds',
  });
  observeDownstream(() => deps.pool.all().map((c) => ({ id: c.id, inFlight: c.limiter.inFlight, breaker: c.breaker.state })));
  observeTaskQueueBacklog(async () => {
    const backlog = async (taskQueueType: number) => {
      const { stats } = await deps.client.workflowService.describeTaskQueue({ namespace: config.temporal.namespace, taskQueue: { name: config.temporal.taskQueue }, taskQueueType, reportStats: true });
      return Number(stats?.approximateBacklogCount ?? 0);
    };
    // 1: workflow tasks, 2: activity tasks (temporal.api.enums.v1.TaskQueueType).
    const [workflow, activity] = await Promise.all([backlog(1), backlog(2)]);
    return { workflow, activity };
  });
  return { worker, connection };
}

/**
 * The prebuilt bundle next to the compiled code, if `npm run build` made one. With encryption the
 * bundle must carry the failure converter that encodes messages (it runs inside the workflow
 * sandbox, which takes it only at bundle time), so there are two.
 */
export function prebuiltWorkflowBundle(encrypted = false): string | undefined {
  const path = fileURLToPath(new URL(encrypted ? '../workflow-bundle-encrypted.js' : '../workflow-bundle.js', import.meta.url));
  return existsSync(path) ? path : undefined;
}

function workflowsEntry(): string {
  for (const name of ['../workflows/index.ts', '../workflows/index.js']) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('workflow sources not found next to the worker');
}
