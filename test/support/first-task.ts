// A key workflow whose first workflow task carries calls by signal and one by update, as when the
// gateway's first update waits on a worker that is down and its next calls go by signal
// (workflows/key.ts, SIGNALS_FIRST). Drives the workflow directly through Temporal, with the
// fixture's `record` tool: steps 0..signals-1 by signal, step `signals` by update.
import type { WorkflowHandle } from '@temporalio/client';
import { loadConfig } from '../../src/config/load.js';
import { keySettings } from '../../src/config/schema.js';
import type { CallEnvelope } from '../../src/shared/envelope.js';
import { callUpdate, submitCallSignal } from '../../src/shared/messages.js';
import { keyRoute, keyWorkflowStart } from '../../src/shared/route.js';
import type { Stack } from './stack.js';

export async function firstTaskWithSignalsAndUpdate(stack: Stack, orderingKey: string, signals: number): Promise<WorkflowHandle> {
  const route = keyRoute('default', orderingKey);
  // Started as the stack's gateway would start it, from the stack's own config.
  const start = keyWorkflowStart('default', route, orderingKey, keySettings(loadConfig(stack.configPath, {}, process.cwd()).config));
  const request = (step: number) => ({ envelope: recordEnvelope(route, orderingKey, step), holdMs: 0 });
  // No worker: the run's first task waits, with everything below in it.
  await stack.kill('worker');
  const client = stack.temporalClient.workflow;
  await client.signalWithStart('keyWorkflow', { ...start, taskQueue: 'switchyard', signal: submitCallSignal, signalArgs: [request(0)] });
  const handle = client.getHandle(start.workflowId);
  for (let step = 1; step < signals; step++) await handle.signal(submitCallSignal, request(step));
  // Sent after the signals are in history; it waits at the server for a worker.
  const last = request(signals);
  const update = handle.executeUpdate(callUpdate, { args: [last], updateId: last.envelope.correlationId });
  await new Promise((r) => setTimeout(r, 2_000));
  await stack.startWorker();
  await update;
  return handle;
}

function recordEnvelope(route: string, orderingKey: string, step: number): CallEnvelope {
  const now = Date.now();
  return {
    correlationId: `${route}.step-${step}`,
    tenant: 'default',
    principal: 'first-task',
    serverId: 'fixture',
    tool: 'record',
    publicTool: 'fixture.record',
    arguments: { key: orderingKey, step },
    orderingKey,
    acceptedAt: now,
    deadlineAt: now + 120_000,
    requestTimeoutMs: 10_000,
    heartbeatTimeoutMs: 5_000,
    retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 1_000, backoffCoefficient: 2 },
    priority: 'normal',
    mutation: 'idempotent',
    execution: 'activity',
    onDeadLetter: 'continue',
  };
}
