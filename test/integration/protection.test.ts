// Priority, backpressure and the circuit breaker (docs/guarantees.md, guarantees 7 and 8), with
// a worker that runs one activity at a time so that work queues up in Temporal.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';

type Priority = 'low' | 'normal' | 'high' | 'critical';

describe('priority and protection', { timeout: 300_000 }, () => {
  let stack: Stack;
  let client: McpClient;

  before(async () => {
    stack = await new Stack({
      withEverything: false,
      syncWaitMs: 5_000,
      retry: { maxAttempts: 5, initialIntervalMs: 100, maxIntervalMs: 300 },
      configure: (config) => {
        config.worker.maxConcurrentActivities = 1;
        config.limits = { maxQueuedPerKey: 3, maxQueuedPerTenant: 15, retryAfterMs: 2_000 };
        const fixture = config.servers.find((s) => s.id === 'fixture')!;
        fixture.circuitBreaker = { failureThreshold: 2, cooldownMs: 1_500 };
      },
    }).start();
    client = await stack.client();
  });

  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  const submit = (name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
    client.callTool({ name, arguments: args, _meta: { 'switchyard/accept_async': true, ...meta } }, CallToolResultSchema, { timeout: 60_000 });

  it('with the worker saturated, critical and high calls run before queued normal and low ones', async () => {
    await submit('fixture.slow', { ms: 2_500, tag: 'occupy' });
    await waitFor('the only slot is busy', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'occupy'));
    const plan: Array<[Priority, number]> = [
      ['normal', 1], ['low', 2], ['normal', 3], ['low', 4], ['normal', 5], ['critical', 6], ['high', 7], ['low', 8],
    ];
    for (const [priority, step] of plan) await submit('fixture.record', { key: 'prio', step }, { 'switchyard/priority': priority });
    await waitFor('all ran', () => (stack.fixture.executionsOf('record').filter((e) => e.args.key === 'prio').length === plan.length ? true : undefined), 60_000);
    const ran = stack.fixture.executionsOf('record').filter((e) => e.args.key === 'prio').map((e) => plan.find(([, s]) => s === e.args.step)![0]);
    assert.deepEqual(ran, ['critical', 'high', 'normal', 'normal', 'normal', 'low', 'low', 'low']);
  });

  it('inside one key, order wins over priority', async () => {
    await submit('fixture.slow', { ms: 1_000, tag: 'key-first' }, { 'switchyard/ordering_key': 'prio-key', 'switchyard/priority': 'low' });
    await submit('fixture.record', { key: 'prio-key', step: 2 }, { 'switchyard/ordering_key': 'prio-key', 'switchyard/priority': 'critical' });
    await waitFor('second step ran', () => stack.fixture.executionsOf('record').find((e) => e.args.key === 'prio-key'), 30_000);
    const first = stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'key-first')!;
    const second = stack.fixture.executionsOf('record').find((e) => e.args.key === 'prio-key')!;
    assert.ok(first.finishedAt !== undefined && second.startedAt >= first.finishedAt, 'the critical step waited for the low one before it');
  });

  it('refuses a call over the per-key limit with a retry-after hint, and accepts nothing of it', async () => {
    const key = { 'switchyard/ordering_key': 'bp-key' };
    await submit('fixture.slow', { ms: 3_000, tag: 'bp-1' }, key);
    await submit('fixture.slow', { ms: 10, tag: 'bp-2' }, key);
    await submit('fixture.slow', { ms: 10, tag: 'bp-3' }, key);
    // Limits are counted in visibility, which catches up a moment after the starts.
    await waitFor('visibility to count the key\'s calls', async () => ((await stack.temporalClient.workflow.count(`WorkflowType = 'callWorkflow' AND ExecutionStatus = 'Running' AND SwitchyardOrderingKey = '${stack.storedKey('bp-key')}'`)).count >= 3 ? true : undefined), 10_000, 100);
    const error = await client
      .callTool({ name: 'fixture.slow', arguments: { ms: 10, tag: 'bp-4' }, _meta: { ...key, 'switchyard/idempotency_key': 'bp-4' } })
      .then(() => assert.fail('expected a refusal'), (e: unknown) => e as McpError);
    assert.ok(error instanceof McpError);
    assert.equal(error.code, -32029);
    assert.match(error.message, /ordering key \(3, limit 3\).*not accepted.*Retry after 2 s/);
    assert.deepEqual(error.data, { 'switchyard/retry_after_ms': 2_000 });
    const started = await stack.temporalClient.workflow.count(`WorkflowType = 'callWorkflow' AND SwitchyardOrderingKey = '${stack.storedKey('bp-key')}'`);
    assert.equal(started.count, 3, 'no workflow for the refused call');
    // Once the key drains, the same idempotency key is accepted: the refusal left no record.
    await waitFor('key drained', async () => ((await stack.temporalClient.workflow.count(`WorkflowType = 'callWorkflow' AND SwitchyardOrderingKey = '${stack.storedKey('bp-key')}' AND ExecutionStatus = 'Running'`)).count === 0 ? true : undefined), 30_000, 250);
    const retried = await client.callTool({ name: 'fixture.slow', arguments: { ms: 10, tag: 'bp-4' }, _meta: { ...key, 'switchyard/idempotency_key': 'bp-4' } });
    assert.equal(textOf(retried), 'slept 10 ms (bp-4)');
  });

  it('refuses a call over the per-tenant limit', async () => {
    const running = (await stack.temporalClient.workflow.count(`WorkflowType = 'callWorkflow' AND ExecutionStatus = 'Running'`)).count;
    const fill = 15 - running;
    await submit('fixture.slow', { ms: 4_000, tag: 'tenant-hold' });
    for (let i = 1; i < fill; i++) await submit('fixture.record', { key: 'tenant-fill', step: i });
    // Limits are counted in visibility, which catches up a moment after the starts.
    await waitFor('visibility to count the tenant\'s calls', async () => ((await stack.temporalClient.workflow.count(`WorkflowType = 'callWorkflow' AND ExecutionStatus = 'Running'`)).count >= 15 ? true : undefined), 10_000, 100);
    const error = await submit('fixture.record', { key: 'tenant-over', step: 0 }).then(() => assert.fail('expected a refusal'), (e: unknown) => e as McpError);
    assert.equal(error.code, -32029);
    assert.match(error.message, /this tenant \(15, limit 15\)/);
    await waitFor('tenant drained', async () => ((await stack.temporalClient.workflow.count(`WorkflowType = 'callWorkflow' AND ExecutionStatus = 'Running'`)).count === 0 ? true : undefined), 60_000, 250);
  });

  it('answers (isError, JSON-RPC errors), caller deadlines and cancels never count toward the breaker', async () => {
    // The fixture's breaker opens after 2 consecutive failures: any two of these in a row would
    // open it if they counted, and the next call would fail "circuit open" without reaching the server.
    const reached = (tool: string, key: string, value: string) => stack.fixture.executionsOf(tool).filter((e) => e.args[key] === value).length;
    for (let i = 0; i < 3; i++) {
      const answer = await client.callTool({ name: 'fixture.fail_read', arguments: { reason: `answer-${i}` } }, CallToolResultSchema, { timeout: 30_000 });
      assert.equal(answer.isError, true);
      assert.equal(textOf(answer), `lookup failed: answer-${i}`);
    }
    for (let i = 0; i < 3; i++) {
      const error = await client.callTool({ name: 'fixture.rpc_error', arguments: { tag: `rpc-${i}` } }, CallToolResultSchema, { timeout: 30_000 }).then(
        () => assert.fail('expected a JSON-RPC error'),
        (e: unknown) => e as McpError,
      );
      assert.equal(error.code, -32603, error.message);
      assert.equal(reached('rpc_error', 'tag', `rpc-${i}`), 1, 'reached the server: not refused by the breaker');
    }
    for (let i = 0; i < 3; i++) {
      const cut = await client.callTool({ name: 'fixture.slow', arguments: { ms: 5_000, tag: `cut-${i}` }, _meta: { 'switchyard/deadline_ms': 600 } }, CallToolResultSchema, { timeout: 30_000 });
      assert.equal((cut._meta as Record<string, unknown>)['switchyard/status'], 'deadline_exceeded', textOf(cut));
      assert.equal(reached('slow', 'tag', `cut-${i}`), 1, 'reached the server: not refused by the breaker');
    }
    for (let i = 0; i < 2; i++) {
      const tag = `cancel-${i}`;
      const accepted = await submit('fixture.slow', { ms: 10_000, tag });
      await waitFor('the slow call to reach the server', () => (reached('slow', 'tag', tag) === 1 ? true : undefined), 30_000);
      await client.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: correlationIdOf(accepted) } });
      await waitFor('the cancel to reach the server', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === tag && e.cancelled === true), 30_000);
      const view = await waitFor('the call to end', async () => {
        const r = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationIdOf(accepted) } });
        const status = (r.structuredContent as { status: string }).status;
        return ['admitting', 'queued', 'running'].includes(status) ? undefined : status;
      }, 30_000, 200);
      assert.equal(view, 'cancelled');
    }
    const after = await client.callTool({ name: 'fixture.echo', arguments: { message: 'still closed' } }, CallToolResultSchema, { timeout: 30_000 });
    assert.equal(textOf(after), 'still closed', 'the breaker is still closed');
    assert.equal(after.isError, undefined);
  });

  it('a failing server trips the circuit breaker: fast, clear failures, then a probe closes it', async () => {
    await stack.fixture.stop();
    const first = await client.callTool({ name: 'fixture.echo', arguments: { message: 'trip' } }, CallToolResultSchema, { timeout: 30_000 });
    assert.equal(first.isError, true);
    assert.match(textOf(first), /circuit open/);
    const started = Date.now();
    const fast = await client.callTool({ name: 'fixture.echo', arguments: { message: 'fast' } });
    assert.ok(Date.now() - started < 1_000, `failed in ${Date.now() - started} ms`);
    assert.match(textOf(fast), /is failing; Switchyard stopped sending it calls for now \(circuit open, retry after \d+ s\)/);
    assert.equal((fast._meta as Record<string, unknown>)['switchyard/status'], 'failed');

    await stack.fixture.start();
    const recovered = await waitFor('a probe succeeds after the cool-down', async () => {
      const r = await client.callTool({ name: 'fixture.echo', arguments: { message: 'back' } });
      return r.isError ? undefined : r;
    }, 60_000, 500);
    assert.equal(textOf(recovered), 'back');
    assert.ok(correlationIdOf(recovered));
  });
});
