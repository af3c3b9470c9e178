// Records the workflow histories the replay test checks (test/histories/*.json). Run it after a
// deliberate, compatible workflow change with `npm run record-histories`, and commit the output.
// It drives a real stack through each shape of call the workflows know. With names as arguments
// (`npm run record-histories -- saga-completed`) it writes only those, keeping older recordings:
// they prove that today's code still replays what earlier code wrote.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { findTemporalCli } from '../../src/temporal/cli-path.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { callWorkflowId, deadLetterWorkflowId, keyWorkflowId, routeOf, sagaWorkflowId } from '../../src/shared/ids.js';
import { keyRoute } from '../../src/shared/route.js';
import { firstTaskWithSignalsAndUpdate } from './first-task.js';
import { correlationIdOf, Stack } from './stack.js';
import { waitFor } from './ports.js';

const OUT = resolve(import.meta.dirname, '..', 'histories');
const stack = new Stack({
  syncWaitMs: 1_000,
  heartbeatTimeoutMs: 2_000,
  retry: { maxAttempts: 2, initialIntervalMs: 100, maxIntervalMs: 100 },
  configure: (config) => {
    const url = config.servers.find((server) => server.id === 'fixture')!.url;
    config.servers.push({ id: 'short', transport: 'http', url, timeoutMs: 1_000, policy: { onDeadLetter: 'halt' } });
    // Read-only, 300 ms attempts 1 s apart: under a 2.5 s deadline the third retry would cross it.
    config.servers.push({ id: 'crossing', transport: 'http', url, timeoutMs: 300, policy: { mutation: 'read_only', retry: { maxAttempts: 10, initialIntervalMs: 1_000, maxIntervalMs: 1_000, backoffCoefficient: 1 } } });
    // Key workflows continue as new after a few calls, so a recording has a run that did.
    config.callPath = { callsPerRun: 6 };
  },
});
/** [name, workflow id, run id (latest when absent)] */
const recorded: Array<[string, string, string?]> = [];

try {
  await stack.start();
  await stack.waitForReady();
  const client = await stack.client();
  // The call-* recordings are call workflows: accept_async keeps a call off the fast path.
  const call = async (name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
    correlationIdOf(await client.request({ method: 'tools/call', params: { name, arguments: args, _meta: { 'switchyard/accept_async': true, ...meta } } }, CallToolResultSchema));
  /** A call on the fast path: its caller waits, so it runs in its key or shard workflow. */
  const fast = async (name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
    correlationIdOf(await client.request({ method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } }, CallToolResultSchema, { timeout: 60_000 }));
  const settle = async (id: string) => {
    const handle = stack.temporalClient.workflow.getHandle(id);
    await waitFor(`${id} closed`, async () => ((await handle.describe()).status.name !== 'RUNNING' ? true : undefined), 60_000, 250);
  };

  recorded.push(['call-completed', callWorkflowId('default', await call('everything.echo', { message: 'replay' }))]);
  recorded.push(['call-tool-error', callWorkflowId('default', await call('fixture.fail', { reason: 'replay' }))]);
  recorded.push(['call-ordered', callWorkflowId('default', await call('fixture.record', { key: 'replay', step: 1 }, { 'switchyard/ordering_key': 'replay-key' }))]);
  await call('fixture.record', { key: 'replay', step: 2 }, { 'switchyard/ordering_key': 'replay-key' });

  const cancelled = await call('fixture.slow', { ms: 30_000 });
  await waitFor('slow call running', () => stack.fixture.executions.find((e) => e.correlationId === cancelled));
  await client.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: cancelled } });
  recorded.push(['call-cancelled', callWorkflowId('default', cancelled)]);

  const retried = await call('fixture.slow', { ms: 2_500 });
  await waitFor('slow call running', () => stack.fixture.executions.find((e) => e.correlationId === retried));
  await stack.kill('worker');
  await stack.startWorker();
  recorded.push(['call-retried-after-worker-kill', callWorkflowId('default', retried)]);

  // A non-idempotent call that times out after sending: dead-lettered (halting its key), then redriven.
  stack.fixture.hangApply = true;
  const unknown = await call('short.apply', { key: 'replay' }, { 'switchyard/ordering_key': 'replay-halt' });
  await settle(callWorkflowId('default', unknown));
  stack.fixture.hangApply = false;
  recorded.push(['call-dead-lettered-halting', callWorkflowId('default', unknown)]);
  await client.callTool({ name: 'switchyard.dlq_redrive', arguments: { correlation_id: unknown } });
  recorded.push(['dead-letter-redriven', deadLetterWorkflowId('default', unknown)]);

  // Sagas: one that completes, one whose second step fails, so the first is compensated.
  const undo = { tool: 'fixture.record', arguments: { key: 'saga-undo', step: '{{args.step}}' } };
  const sagaOf = async (steps: unknown[]) => {
    const result = await client.request({ method: 'tools/call', params: { name: 'switchyard.run_saga', arguments: { steps } } }, CallToolResultSchema);
    return (result.structuredContent as { saga_id: string }).saga_id;
  };
  recorded.push(['saga-completed', sagaWorkflowId('default', await sagaOf([{ tool: 'fixture.record', arguments: { key: 'saga', step: 1 }, compensation: undo }, { tool: 'fixture.echo', arguments: { message: 'two' } }]))]);
  recorded.push(['saga-compensated', sagaWorkflowId('default', await sagaOf([{ tool: 'fixture.record', arguments: { key: 'saga', step: 2 }, compensation: undo }, { tool: 'fixture.fail', arguments: { reason: 'replay' } }]))]);

  // Sagas whose status keeps results by reference and that close after their calls (both patched in).
  const byRef = (second: unknown) => [
    { step: 'first', tool: 'fixture.big', arguments: { bytes: 5_000, tag: 'by-ref' }, compensation: { tool: 'fixture.record', arguments: { key: '{{result.structuredContent.tag}}', step: 1 } } },
    second,
  ];
  recorded.push(['saga-by-reference-completed', sagaWorkflowId('default', await sagaOf(byRef({ step: 'second', tool: 'fixture.echo', arguments: { message: '{{steps.first.result.structuredContent.tag}}' } })))]);
  recorded.push(['saga-by-reference-compensated', sagaWorkflowId('default', await sagaOf(byRef({ step: 'second', tool: 'fixture.fail', arguments: { reason: 'replay' } })))]);
  // A read-only call whose next retry would cross its deadline: deadline_exceeded (patched in).
  recorded.push(['call-deadline-crossing-retry', callWorkflowId('default', await call('crossing.slow', { ms: 5_000, tag: 'crossing' }, { 'switchyard/deadline_ms': 2_500 }))]);

  // Key workflows (the fast path): held calls, a queued call cancelled, a call workflow with an
  // idempotency key taking its turn, continue-as-new with calls queued; batched local calls on a
  // key; and a shard's concurrent local-activity calls.
  const fastKey = { 'switchyard/ordering_key': 'replay-fast' };
  await fast('fixture.record', { key: 'replay-fast', step: 1 }, fastKey);
  const blocker = fast('fixture.slow', { ms: 1_500, tag: 'replay-blocker' }, fastKey);
  await waitFor('blocker running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'replay-blocker'));
  const doomed = client.request({ method: 'tools/call', params: { name: 'fixture.slow', arguments: { ms: 10, tag: 'replay-doomed' }, _meta: fastKey } }, CallToolResultSchema, { timeout: 60_000 });
  const keyId = keyWorkflowId('default', keyRoute('default', 'replay-fast'));
  const doomedId = await waitFor('queued', async () => (await stack.temporalClient.workflow.getHandle(keyId).query<{ queued: string[] }>('keyState')).queued[0]);
  await client.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: doomedId } });
  await call('fixture.record', { key: 'replay-fast', step: 2 }, { ...fastKey, 'switchyard/idempotency_key': 'replay-fast-2' });
  await Promise.all([blocker, doomed]);
  await Promise.all([3, 4, 5, 6, 7, 8].map((step) => fast('fixture.record', { key: 'replay-fast', step }, fastKey)));
  const keyRuns: Array<{ runId: string; status: string; start: number }> = [];
  for await (const run of stack.temporalClient.workflow.list({ query: `WorkflowId = '${keyId}'` })) keyRuns.push({ runId: run.runId, status: run.status.name, start: run.startTime.getTime() });
  const continued = keyRuns.filter((r) => r.status === 'CONTINUED_AS_NEW').sort((a, b) => a.start - b.start)[0];
  if (continued === undefined) throw new Error(`the key workflow did not continue as new: ${JSON.stringify(keyRuns)}`);
  recorded.push(['key-calls-continued-as-new', keyId, continued.runId]);
  // Local calls queued on a key run in batches.
  const batchKey = { 'switchyard/ordering_key': 'replay-batch' };
  await Promise.all(Array.from({ length: 8 }, (_, step) => fast('short.record', { key: 'replay-batch', step }, batchKey)));
  const batchId = keyWorkflowId('default', keyRoute('default', 'replay-batch'));
  // Its first run (6 calls a run): the one that ran the batches.
  const batchRuns: Array<{ runId: string; start: number }> = [];
  for await (const run of stack.temporalClient.workflow.list({ query: `WorkflowId = '${batchId}'` })) batchRuns.push({ runId: run.runId, start: run.startTime.getTime() });
  const batchRun = batchRuns.sort((a, b) => a.start - b.start)[0]!.runId;
  // A key whose calls' audit records leave when its flush timer fires (settled-main-loop): two exports.
  const auditKey = { 'switchyard/ordering_key': 'replay-audit' };
  const auditId = keyWorkflowId('default', keyRoute('default', 'replay-audit'));
  const exports = async () => {
    const events = (await stack.temporalClient.workflow.getHandle(auditId).fetchHistory()).events ?? [];
    const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'exportAudit').map((e) => String(e.eventId)));
    return events.filter((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId))).length;
  };
  for (const round of [1, 2]) {
    for (const step of [1, 2]) await fast('fixture.record', { key: 'replay-audit', step: round * 10 + step }, auditKey);
    await waitFor(`audit export ${round}`, async () => ((await exports()) >= round ? true : undefined), 30_000, 250);
  }
  // A key whose first task carries calls by signal and one by update (signals-first): the worker is down while they arrive.
  const firstTaskId = (await firstTaskWithSignalsAndUpdate(stack, 'replay-first-task', 3)).workflowId;
  await waitFor("the first task's calls", () => (stack.fixture.applied.filter((a) => a.key === 'replay-first-task').length >= 4 ? true : undefined), 30_000, 100);
  const shardIds = new Set((await Promise.all(Array.from({ length: 8 }, (_, i) => fast('short.echo', { message: `replay-${i}` })))).map((id) => keyWorkflowId('default', routeOf(id)!)));
  const shardId = [...shardIds][0]!;

  await stack.fixture.stop();
  recorded.push(['call-transport-failure', callWorkflowId('default', await call('fixture.echo', { message: 'nobody home' }))]);

  for (const [, id, runId] of recorded) if (runId === undefined) await settle(id);
  // Key and shard workflows stay open while idle; terminate them so their histories are complete.
  for (const id of [keyId, shardId, batchId, auditId, firstTaskId]) await stack.temporalClient.workflow.getHandle(id).terminate('recording finished');
  recorded.push(['key-calls', keyId], ['shard-local-calls', shardId], ['key-calls-batched', batchId, batchRun], ['key-calls-audited', auditId], ['key-first-task', firstTaskId]);
  // lane.json was recorded by the lane-based build (6ad613c); this build starts no lanes, so it
  // is kept as it is: it proves that the code still replays what that build wrote.

  mkdirSync(OUT, { recursive: true });
  const only = process.argv.slice(2);
  for (const [name, id, runId] of recorded) {
    if (only.length > 0 && !only.includes(name)) continue;
    // The CLI writes the canonical proto-JSON that historyFromJSON reads back.
    const json = execFileSync(findTemporalCli(process.env)!, ['workflow', 'show', '--address', stack.temporal.address, '--workflow-id', id, ...(runId ? ['--run-id', runId] : []), '--output', 'json'], { encoding: 'utf8' });
    writeFileSync(join(OUT, `${name}.json`), json);
    console.log(`recorded ${name}: ${(JSON.parse(json) as { events: unknown[] }).events.length} events`);
  }
  await client.close();
} finally {
  await stack.stop();
}
