// API keys map callers to tenants, and every lookup is tenant-scoped: one tenant cannot see or
// cancel another's calls, tasks, sagas or dead letters, nor reuse its session. Dead-letter tools
// are for a tenant's admin keys only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { waitFor } from '../support/ports.js';
import { Stack, correlationIdOf, textOf } from '../support/stack.js';
import { rpcError } from '../support/rpc.js';

const ACME = 'acme-key-0123456789abcdef';
const ACME_ADMIN = 'acme-admin-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const GLOBEX_ADMIN = 'globex-admin-key-0123456789abcdef';

type Result = Awaited<ReturnType<McpClient['callTool']>>;

describe('tenancy', { timeout: 300_000 }, () => {
  const stack = new Stack({
    withEverything: false,
    syncWaitMs: 500,
    tenants: [
      { id: 'acme', apiKeys: [ACME] },
      { id: 'globex', apiKeys: [GLOBEX] },
    ],
    configure: (config) => {
      const tenants = config.tenants as Array<Record<string, unknown>>;
      tenants[0]!.adminApiKeys = [ACME_ADMIN];
      tenants[1]!.adminApiKeys = [GLOBEX_ADMIN];
      // The fixture again with a 1 s request timeout: a hanging non-idempotent call is dead-lettered outcome_unknown.
      config.servers.push({ id: 'short', transport: 'http', url: config.servers.find((s) => s.id === 'fixture')!.url, timeoutMs: 1_000 });
    },
  });
  const call = (client: McpClient, name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
    client.callTool({ name, arguments: args, _meta: meta }, CallToolResultSchema, { timeout: 60_000 }) as Promise<Result>;
  const statusOf = (result: Result) => result._meta?.['switchyard/status'];
  before(async () => {
    await stack.start();
    await stack.waitForReady();
  });
  after(() => stack.stop());

  it('refuses requests without a key or with an unknown key: 401 with a JSON-RPC body, no secret echoed', async () => {
    for (const authorization of [undefined, 'Bearer not-a-real-key-at-all']) {
      const response = await fetch(stack.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      const text = await response.text();
      // UNAUTHORIZED: -32001 until it got a code of its own (that one means "session not found").
      assert.equal((JSON.parse(text) as { error: { code: number } }).error.code, -32004);
      assert.ok(!text.includes('not-a-real-key'), 'the presented key is not echoed');
    }
  });

  it('scopes calls to the caller tenant', async () => {
    const acme = await stack.client({ authorization: `Bearer ${ACME}` });
    const globex = await stack.client({ authorization: `Bearer ${GLOBEX}` });
    const accepted = await acme.callTool({ name: 'fixture.slow', arguments: { ms: 1_500, tag: 'acme' } });
    const correlationId = correlationIdOf(accepted);

    const peek = await globex.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
    assert.equal(peek._meta?.['switchyard/status'], 'not_found');
    const cancel = await globex.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: correlationId } });
    assert.equal(cancel._meta?.['switchyard/status'], 'not_found');

    const own = await acme.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
    assert.notEqual(own._meta?.['switchyard/status'], 'not_found');
    // Globex's cancel did nothing: acme's call runs to its end, uncancelled downstream.
    const done = await waitFor('acme\'s call to finish', async () => {
      const view = await acme.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
      return (view.structuredContent as { status: string }).status === 'running' ? undefined : view;
    }, 20_000, 250);
    assert.equal((done.structuredContent as { status: string }).status, 'completed');
    assert.equal(textOf(done), 'slept 1500 ms (acme)');
    assert.equal(stack.fixture.executions.find((e) => e.correlationId === correlationId)?.cancelled, undefined);
    const description = await stack.temporalClient.workflow.getHandle(`switchyard/acme/call/${correlationId}`).describe();
    assert.equal(description.typedSearchAttributes.get({ name: 'SwitchyardTenant', type: 'KEYWORD' } as never), 'acme');

    // The same idempotency key in two tenants is two different calls.
    const a = await acme.callTool({ name: 'fixture.echo', arguments: { message: 'a' }, _meta: { 'switchyard/idempotency_key': 'shared' } });
    const g = await globex.callTool({ name: 'fixture.echo', arguments: { message: 'g' }, _meta: { 'switchyard/idempotency_key': 'shared' } });
    assert.equal(textOf(a), 'a');
    assert.equal(textOf(g), 'g');
    assert.notEqual(correlationIdOf(a), correlationIdOf(g));
    await acme.close();
    await globex.close();
  });

  it('does not let another tenant use a session it did not open', async () => {
    const acme = await stack.client({ authorization: `Bearer ${ACME}` });
    const sessionId = (acme.transport as { sessionId?: string }).sessionId!;
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${GLOBEX}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
    });
    assert.equal(response.status, 404);
    await acme.close();
  });

  it('keeps MCP tasks to their tenant: another tenant can neither get, wait for, list nor cancel them, and the task completes', async () => {
    const acme = await stack.client({ authorization: `Bearer ${ACME}` });
    const globex = await stack.client({ authorization: `Bearer ${GLOBEX}` });
    const created = await acme.request({ method: 'tools/call', params: { name: 'fixture.slow', arguments: { ms: 5_000, tag: 'acme-task' }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    const { taskId } = created.task;

    const get = await rpcError(globex.experimental.tasks.getTask(taskId));
    assert.equal(get.code, -32602);
    assert.equal(get.message, `MCP error -32602: Unknown task id: ${taskId}`);
    const result = await rpcError(globex.experimental.tasks.getTaskResult(taskId, CallToolResultSchema));
    assert.equal(result.code, -32602);
    assert.equal(result.message, `MCP error -32602: Unknown task id: ${taskId}`);
    const cancel = await rpcError(globex.experimental.tasks.cancelTask(taskId));
    assert.equal(cancel.code, -32602);
    assert.equal(cancel.message, `MCP error -32602: Unknown task id: ${taskId}`);
    const globexTasks = await globex.experimental.tasks.listTasks();
    assert.ok(!globexTasks.tasks.some((t) => t.taskId === taskId), 'acme\'s task is not in globex\'s list');
    const acmeTasks = await acme.experimental.tasks.listTasks();
    assert.ok(acmeTasks.tasks.some((t) => t.taskId === taskId), 'acme lists its own task');

    const own = await acme.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, { timeout: 60_000 });
    assert.equal(textOf(own), 'slept 5000 ms (acme-task)');
    assert.equal((await acme.experimental.tasks.getTask(taskId)).status, 'completed');
    const executions = stack.fixture.executions.filter((e) => e.correlationId === taskId);
    assert.equal(executions.length, 1);
    assert.equal(executions[0]!.cancelled, undefined, 'globex\'s tasks/cancel never reached the call');
    await acme.close();
    await globex.close();
  });

  it('keeps sagas to their tenant: another tenant can neither see, abort nor commit them', async () => {
    const acme = await stack.client({ authorization: `Bearer ${ACME}` });
    const globex = await stack.client({ authorization: `Bearer ${GLOBEX}` });
    const sagaId = `acme-saga-${Date.now()}`;
    const step = await call(acme, 'fixture.echo', { message: 'acme step' }, { 'switchyard/saga': { id: sagaId, step: 'one' } });
    assert.equal(textOf(step), 'acme step');

    for (const tool of ['switchyard.get_saga', 'switchyard.saga_abort', 'switchyard.saga_commit']) {
      const answer = await call(globex, tool, { saga_id: sagaId });
      assert.equal(answer.isError, true, tool);
      assert.equal(statusOf(answer), 'not_found', tool);
      assert.equal(textOf(answer), `No saga with id ${sagaId} in this tenant.`, tool);
    }
    const open = (await call(acme, 'switchyard.get_saga', { saga_id: sagaId })).structuredContent as { state: string; steps: Array<{ state: string; compensation: { state: string } }> };
    assert.equal(open.state, 'open', 'globex\'s abort did not touch acme\'s saga');
    assert.deepEqual(open.steps.map((s) => s.state), ['succeeded']);
    const committed = await call(acme, 'switchyard.saga_commit', { saga_id: sagaId });
    assert.equal((committed.structuredContent as { state: string }).state, 'committed', textOf(committed));
    await acme.close();
    await globex.close();
  });

  describe('dead letters', () => {
    let deadId = '';
    before(async () => {
      const acme = await stack.client({ authorization: `Bearer ${ACME}` });
      stack.fixture.hangApply = true;
      try {
        const dead = await call(acme, 'short.apply', { key: 'acme-dead-letter' }, { 'switchyard/accept_async': false });
        assert.equal(statusOf(dead), 'dead_lettered', textOf(dead));
        deadId = correlationIdOf(dead);
      } finally {
        stack.fixture.hangApply = false;
        await acme.close();
      }
    });

    it('are for admin keys only: a tenant\'s plain key is refused by every dlq tool, its admin key works', async () => {
      const plain = await stack.client({ authorization: `Bearer ${ACME}` });
      const admin = await stack.client({ authorization: `Bearer ${ACME_ADMIN}` });
      for (const [tool, args] of [['dlq_list', {}], ['dlq_show', { correlation_id: deadId }], ['dlq_redrive', { correlation_id: deadId }], ['dlq_discard', { correlation_id: deadId }]] as const) {
        const refused = await call(plain, `switchyard.${tool}`, args);
        assert.equal(refused.isError, true, tool);
        assert.equal(statusOf(refused), 'forbidden', tool);
        assert.equal(textOf(refused), `${tool} needs an admin API key of this tenant (tenants[].adminApiKeys).`);
      }
      const list = await call(admin, 'switchyard.dlq_list', {});
      assert.equal(list.isError, undefined);
      assert.deepEqual((list.structuredContent as { dead_letters: Array<{ correlation_id: string }> }).dead_letters.map((d) => d.correlation_id), [deadId]);
      const shown = await call(admin, 'switchyard.dlq_show', { correlation_id: deadId });
      assert.equal((shown.structuredContent as { state: string; reason: string }).state, 'pending', 'the refused redrive and discard did nothing');
      assert.equal((shown.structuredContent as { reason: string }).reason, 'outcome_unknown');
      assert.equal(stack.fixture.executions.filter((e) => e.args.key === 'acme-dead-letter').length, 1, 'no redrive ran');
      await plain.close();
      await admin.close();
    });

    it('are kept to their tenant: another tenant\'s admin can neither list, show, redrive nor discard them', async () => {
      const globex = await stack.client({ authorization: `Bearer ${GLOBEX_ADMIN}` });
      const admin = await stack.client({ authorization: `Bearer ${ACME_ADMIN}` });
      const list = await call(globex, 'switchyard.dlq_list', {});
      assert.deepEqual((list.structuredContent as { dead_letters: unknown[] }).dead_letters, []);
      for (const tool of ['dlq_show', 'dlq_redrive', 'dlq_discard']) {
        const answer = await call(globex, `switchyard.${tool}`, { correlation_id: deadId });
        assert.equal(answer.isError, true, tool);
        assert.equal(statusOf(answer), 'not_pending', tool);
        assert.equal(textOf(answer), `no dead letter for ${deadId} in tenant globex`, tool);
      }
      const shown = await call(admin, 'switchyard.dlq_show', { correlation_id: deadId });
      const view = shown.structuredContent as { state: string; actions: unknown[] };
      assert.equal(view.state, 'pending');
      assert.deepEqual(view.actions, [], 'no action was recorded');
      assert.equal(stack.fixture.executions.filter((e) => e.args.key === 'acme-dead-letter').length, 1, 'globex\'s redrive did not run the call');
      // Acme's own admin still can.
      const redriven = await call(admin, 'switchyard.dlq_redrive', { correlation_id: deadId });
      assert.equal((redriven.structuredContent as { state: string }).state, 'redriven', textOf(redriven));
      await globex.close();
      await admin.close();
    });
  });
});
