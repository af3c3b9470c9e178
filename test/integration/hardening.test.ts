// Requests the gateway must refuse or honour before anything durable happens: the key rules for
// saga ids, step names and run_saga keys (the same rules as call keys), arguments too large for
// Temporal to record, and a client's cancel that arrives while an ordered call is still being
// admitted (no worker to admit it yet).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { WorkflowNotFoundError } from '@temporalio/client';
import { idempotentCorrelationId } from '../../src/gateway/envelope.js';
import { callWorkflowId } from '../../src/shared/ids.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';
import { rpcError } from '../support/rpc.js';
import { recordedCalls } from '../support/recorded-calls.js';

type Result = Awaited<ReturnType<McpClient['callTool']>>;

/** Every kind of bad key, each refused by the one key rule (src/gateway/envelope.ts, validKey). */
const BAD_KEYS: Array<[string, unknown]> = [
  ['empty', ''],
  ['201 characters', 'k'.repeat(201)],
  ['a C0 control', 'a\u0001b'],
  ['DEL', 'a\u007f'],
  ['a C1 control', 'a\u0085b'],
  ['a lone high surrogate', 'lone\ud800'],
  ['a lone low surrogate', '\udc00tail'],
  ['not a string', { key: 'x' }],
];

const KEY_RULE = 'must be a string of 1-200 printable characters';

describe('hardening of the front door', { timeout: 300_000 }, () => {
  const stack = new Stack({ withEverything: false, syncWaitMs: 5_000 });
  let client: McpClient;

  before(async () => {
    await stack.start();
    await stack.waitForReady();
    client = await stack.client();
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await stack.stop();
  });

  const call = (name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
    client.callTool({ name, arguments: args, _meta: meta }, CallToolResultSchema, { timeout: 60_000 }) as Promise<Result>;

  /** Calls recorded in Temporal, as workflows or inside key workflows (visibility trails a start by a few ms). */
  async function workflowCount(): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    return recordedCalls(stack.temporalClient);
  }

  it('refuses every bad kind of saga id, step name, run_saga key and ordering key with -32602 naming the field, and starts nothing', async () => {
    const before = await workflowCount();
    const cases: Array<{ field: string; send: (bad: unknown) => Promise<unknown> }> = [
      { field: '_meta["switchyard/saga"].id', send: (bad) => call('fixture.echo', { message: 'x' }, { 'switchyard/saga': { id: bad, step: 'a' } }) },
      { field: '_meta["switchyard/saga"].step', send: (bad) => call('fixture.echo', { message: 'x' }, { 'switchyard/saga': { id: 'good-saga', step: bad } }) },
      { field: 'argument "saga_id"', send: (bad) => call('switchyard.get_saga', { saga_id: bad }) },
      { field: 'argument "saga_id"', send: (bad) => call('switchyard.saga_commit', { saga_id: bad }) },
      { field: 'argument "saga_id"', send: (bad) => call('switchyard.saga_abort', { saga_id: bad }) },
      { field: 'argument "idempotency_key"', send: (bad) => call('switchyard.run_saga', { steps: [{ tool: 'fixture.echo', arguments: { message: 'x' } }], idempotency_key: bad }) },
      { field: 'argument "ordering_key"', send: (bad) => call('switchyard.run_saga', { steps: [{ tool: 'fixture.echo', arguments: { message: 'x' } }], ordering_key: bad }) },
      { field: 'steps[0].step', send: (bad) => call('switchyard.run_saga', { steps: [{ tool: 'fixture.echo', arguments: { message: 'x' }, step: bad }] }) },
      { field: '_meta["switchyard/ordering_key"]', send: (bad) => call('fixture.echo', { message: 'x' }, { 'switchyard/ordering_key': bad }) },
      { field: 'argument "ordering_key"', send: (bad) => call('switchyard.submit', { tool: 'fixture.echo', arguments: { message: 'x' }, ordering_key: bad }) },
      { field: 'argument "idempotency_key"', send: (bad) => call('switchyard.get_call', { idempotency_key: bad }) },
    ];
    for (const { field, send } of cases) {
      for (const [kind, bad] of BAD_KEYS) {
        const error = await rpcError(send(bad));
        assert.equal(error.code, -32602, `${field}, ${kind}: ${error.message}`);
        // Step names may also be integers, and say so.
        const rule = field.endsWith('step') ? 'must be an integer or a string of 1-200 printable characters' : KEY_RULE;
        assert.ok(error.message.includes(`${field} ${rule}`) || error.message.includes(`${field} ${KEY_RULE}`), `${field}, ${kind}: ${error.message}`);
      }
    }
    assert.equal(await workflowCount(), before, 'no workflow was started for a refused key');
  });

  it('accepts an integer saga step (saga_step: 1), the same step as its decimal string', async () => {
    const sagaId = `numbered-${Date.now()}`;
    const first = await call('fixture.echo', { message: 'step one' }, { 'switchyard/saga': { id: sagaId, step: 1 } });
    assert.equal(textOf(first), 'step one');
    const repeat = await call('fixture.echo', { message: 'step one' }, { 'switchyard/saga': { id: sagaId, step: '1' } });
    assert.equal(correlationIdOf(repeat), correlationIdOf(first), 'step 1 and step "1" are one step');
    const second = await call('fixture.echo', { message: 'step two' }, { 'switchyard/saga': { id: sagaId, step: 2 } });
    assert.equal(textOf(second), 'step two');
    const committed = await call('switchyard.saga_commit', { saga_id: sagaId });
    const view = committed.structuredContent as { state: string; steps: Array<{ step: string; state: string }> };
    assert.equal(view.state, 'committed', textOf(committed));
    assert.deepEqual(view.steps.map((s) => [s.step, s.state]), [['1', 'succeeded'], ['2', 'succeeded']]);
    assert.equal(stack.fixture.executionsOf('echo').filter((e) => e.args.message === 'step one').length, 1);
    const whole = await call('switchyard.run_saga', { steps: [{ tool: 'fixture.echo', arguments: { message: 'whole 7' }, step: 7 }] });
    assert.deepEqual((whole.structuredContent as { steps: Array<{ step: string }> }).steps.map((s) => s.step), ['7']);
  });

  it('refuses arguments too large for Temporal to record (2.5 MB) with -32602 naming the limit, and starts nothing', async () => {
    const before = await workflowCount();
    const big = 'x'.repeat(2_500_000);
    const key = `too-big-${Date.now()}`;
    const direct = await rpcError(call('fixture.echo', { message: big }, { 'switchyard/idempotency_key': key }));
    assert.equal(direct.code, -32602);
    assert.match(direct.message, /^MCP error -32602: arguments: 25000\d\d bytes as JSON, over the limit of 1572864 bytes \(1\.5 MiB\) that Switchyard can record durably/);
    const submitted = await rpcError(call('switchyard.submit', { tool: 'fixture.echo', arguments: { message: big } }));
    assert.equal(submitted.code, -32602);
    assert.match(submitted.message, /^MCP error -32602: argument "arguments": \d+ bytes as JSON, over the limit of 1572864 bytes/);
    const saga = await rpcError(call('switchyard.run_saga', { steps: [{ tool: 'fixture.echo', arguments: { message: 'small' } }, { tool: 'fixture.echo', arguments: { message: big } }] }));
    assert.equal(saga.code, -32602);
    assert.match(saga.message, /^MCP error -32602: steps\[1\]\.arguments: \d+ bytes as JSON, over the limit of 1572864 bytes/);
    // Each step fits, all together do not: the saga's input is one payload.
    const half = 'y'.repeat(900_000);
    const together = await rpcError(call('switchyard.run_saga', { steps: [{ tool: 'fixture.echo', arguments: { message: half } }, { tool: 'fixture.echo', arguments: { message: half } }] }));
    assert.equal(together.code, -32602);
    assert.match(together.message, /^MCP error -32602: argument "steps" \(all steps together\): \d+ bytes as JSON, over the limit of 1572864 bytes/);

    await assert.rejects(stack.temporalClient.workflow.getHandle(callWorkflowId('default', idempotentCorrelationId('default', key, undefined))).describe(), WorkflowNotFoundError);
    assert.equal(await workflowCount(), before, 'nothing was started in Temporal');
    assert.equal(stack.fixture.executionsOf('echo').filter((e) => (e.args.message as string).length > 100_000).length, 0);

    // Under the limit, a large call still runs.
    const fits = await call('fixture.echo', { message: 'z'.repeat(1_000_000) });
    assert.equal(textOf(fits).length, 1_000_000);
  });

  it('honours a cancel that arrives while an ordered call waits for admission (no worker): the call ends cancelled and never reaches the server', async () => {
    const key = `admission-${Date.now()}`;
    const idempotencyKey = `${key}-call`;
    const handle = stack.temporalClient.workflow.getHandle(callWorkflowId('default', idempotentCorrelationId('default', idempotencyKey, undefined)));
    await stack.kill('worker');
    try {
      // Recorded at once, but admitted into its lane only by a worker: the client has no acknowledgement yet.
      const controller = new AbortController();
      const pending = client.request(
        { method: 'tools/call', params: { name: 'fixture.echo', arguments: { message: 'must never run' }, _meta: { 'switchyard/ordering_key': key, 'switchyard/idempotency_key': idempotencyKey } } },
        CallToolResultSchema,
        { signal: controller.signal, timeout: 120_000 },
      );
      await waitFor('the call to be recorded', () => handle.describe().then(() => true, () => undefined), 20_000, 100);
      controller.abort('user pressed stop'); // the SDK client sends notifications/cancelled
      await assert.rejects(pending);
      // Give the gateway time to act on the cancel before a worker can admit the call.
      await waitFor('the cancel to be requested', async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.workflowExecutionCancelRequestedEventAttributes) || undefined, 10_000, 200).catch(() => undefined);
    } finally {
      await stack.startWorker();
    }
    const closed = await waitFor('the call to close', async () => {
      const description = await handle.describe();
      return description.status.name === 'RUNNING' ? undefined : description;
    }, 60_000, 250);
    assert.equal(closed.status.name, 'CANCELLED');
    const view = await call('switchyard.get_call', { idempotency_key: idempotencyKey });
    assert.equal((view.structuredContent as { status: string }).status, 'cancelled');
    // The key's lane moves on: the next call on it runs.
    const next = await call('fixture.echo', { message: 'after the cancel' }, { 'switchyard/ordering_key': key });
    assert.equal(textOf(next), 'after the cancel');
    assert.equal(stack.fixture.executionsOf('echo').filter((e) => e.args.message === 'must never run').length, 0, 'the downstream server never received the cancelled call');
  });
});
