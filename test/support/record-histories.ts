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
import { callWorkflowId, deadLetterWorkflowId, laneWorkflowId, sagaWorkflowId } from '../../src/shared/ids.js';
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
  },
});
const recorded: Array<[string, string]> = [];

try {
  await stack.start();
  await stack.waitForReady();
  const client = await stack.client();
  const call = async (name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
    correlationIdOf(await client.request({ method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } }, CallToolResultSchema));
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
  const unknown = await call('short.apply', { key: 'replay' }, { 'switchyard/ordering_key': 'replay-halt', 'switchyard/accept_async': false });
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

  await stack.fixture.stop();
  recorded.push(['call-transport-failure', callWorkflowId('default', await call('fixture.echo', { message: 'nobody home' }))]);

  for (const [, id] of recorded) await settle(id);
  // The lane stays open while idle; terminate it so its history is complete up to here.
  const lane = stack.temporalClient.workflow.getHandle(laneWorkflowId('default', 'replay-key'));
  await lane.terminate('recording finished');
  recorded.push(['lane', laneWorkflowId('default', 'replay-key')]);

  mkdirSync(OUT, { recursive: true });
  const only = process.argv.slice(2);
  for (const [name, id] of recorded) {
    if (only.length > 0 && !only.includes(name)) continue;
    // The CLI writes the canonical proto-JSON that historyFromJSON reads back.
    const json = execFileSync(findTemporalCli(process.env)!, ['workflow', 'show', '--address', stack.temporal.address, '--workflow-id', id, '--output', 'json'], { encoding: 'utf8' });
    writeFileSync(join(OUT, `${name}.json`), json);
    console.log(`recorded ${name}: ${(JSON.parse(json) as { events: unknown[] }).events.length} events`);
  }
  await client.close();
} finally {
  await stack.stop();
}
