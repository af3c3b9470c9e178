// The walking broker end to end: a real MCP client → gateway → Temporal → worker → real MCP
// servers (server-everything over stdio, the fixture over Streamable HTTP).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as DirectClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { everythingServerEntry } from '../../src/config/demo.js';
import { callWorkflowId } from '../../src/shared/ids.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';
import { waitFor } from '../support/ports.js';

describe('walking broker', { timeout: 240_000 }, () => {
  const stack = new Stack({ syncWaitMs: 1_500, retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 200 } });
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

  it('lists every downstream tool under its server prefix, definitions intact, and the broker tools', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const name of ['everything.echo', 'everything.get-sum', 'fixture.echo', 'fixture.add', 'switchyard.get_call', 'switchyard.cancel_call']) {
      assert.ok(names.includes(name), `missing ${name} in ${names.join(', ')}`);
    }
    assert.ok(!names.includes('everything.get-env'), 'get-env is denied by config');

    const direct = new DirectClient({ name: 'direct', version: '1' });
    await direct.connect(new StdioClientTransport({ command: process.execPath, args: [everythingServerEntry(), 'stdio'] }));
    try {
      const downstream = await direct.listTools();
      for (const tool of downstream.tools.filter((t) => t.name !== 'get-env')) {
        const proxied = tools.find((t) => t.name === `everything.${tool.name}`);
        assert.ok(proxied, `everything.${tool.name} missing`);
        assert.deepEqual({ ...proxied, name: tool.name }, tool, `definition of ${tool.name} changed on the way through`);
      }
    } finally {
      await direct.close();
    }
    const add = tools.find((t) => t.name === 'fixture.add')!;
    assert.deepEqual(Object.keys((add.outputSchema as { properties: object }).properties), ['sum']);
  });

  it('calls everything.echo and returns the downstream result exactly, plus a correlation id', async () => {
    const result = await client.callTool({ name: 'everything.echo', arguments: { message: 'hello broker' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: hello broker' }]);
    assert.equal(result.isError, undefined);
    const correlationId = correlationIdOf(result);
    // The call is a durable Temporal execution, findable by its search attributes.
    const description = await stack.temporalClient.workflow.getHandle(callWorkflowId('default', correlationId)).describe();
    assert.equal(description.status.name, 'COMPLETED');
    const found = await waitFor('visibility', async () => {
      const seen: string[] = [];
      for await (const wf of stack.temporalClient.workflow.list({ query: `SwitchyardCorrelationId = "${correlationId}" AND SwitchyardTenant = "default" AND SwitchyardTool = "everything.echo"` })) seen.push(wf.workflowId);
      return seen.length > 0 ? seen : undefined;
    }, 10_000, 250);
    assert.deepEqual(found, [callWorkflowId('default', correlationId)]);
  });

  it('calls everything.get-sum', async () => {
    const result = await client.callTool({ name: 'everything.get-sum', arguments: { a: 19, b: 23 } });
    assert.match(textOf(result), /42/);
  });

  it('passes structuredContent through over Streamable HTTP', async () => {
    const result = await client.callTool({ name: 'fixture.add', arguments: { a: 2, b: 3 } });
    assert.deepEqual(result.structuredContent, { sum: 5 });
    assert.equal(stack.fixture.executionsOf('add').at(-1)?.correlationId, correlationIdOf(result));
  });

  it('keeps a tool error (isError) a result, not a failure', async () => {
    const result = await client.callTool({ name: 'fixture.fail', arguments: { reason: 'disk full' } });
    assert.equal(result.isError, true);
    assert.equal(textOf(result), 'failed: disk full');
    assert.equal(result._meta?.['switchyard/status'], 'completed');
    assert.equal(stack.fixture.executionsOf('fail').length, 1, 'tool errors are never retried');
  });

  it('answers an unknown tool with JSON-RPC -32602', async () => {
    await assert.rejects(client.callTool({ name: 'nowhere.tool', arguments: {} }), (error: { code?: number; message: string }) => {
      assert.equal(error.code, -32602);
      assert.match(error.message, /Unknown tool: nowhere\.tool/);
      return true;
    });
  });

  it('accepts a call slower than syncWaitMs and delivers it later through switchyard.get_call', async () => {
    const started = Date.now();
    const accepted = await client.callTool({ name: 'fixture.slow', arguments: { ms: 4_000, tag: 'later' } });
    assert.ok(Date.now() - started < 3_500, 'the client got an answer after syncWaitMs, not after the call');
    assert.equal(accepted._meta?.['switchyard/status'], 'accepted');
    assert.equal(accepted.isError, undefined);
    const correlationId = correlationIdOf(accepted);
    assert.match(textOf(accepted), new RegExp(correlationId));

    const running = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
    assert.equal((running.structuredContent as { status: string }).status, 'running');

    const done = await waitFor('the slow call to finish', async () => {
      const r = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
      return (r.structuredContent as { status: string }).status === 'completed' ? r : undefined;
    }, 20_000, 500);
    assert.equal(textOf(done), 'slept 4000 ms (later)');
  });

  it('cancels a running call with switchyard.cancel_call, and the downstream server is told', async () => {
    const accepted = await client.callTool({ name: 'fixture.slow', arguments: { ms: 30_000, tag: 'to-cancel' } });
    const correlationId = correlationIdOf(accepted);
    await waitFor('the call to reach the server', () => stack.fixture.executions.find((e) => e.correlationId === correlationId));
    const cancel = await client.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: correlationId } });
    assert.equal((cancel.structuredContent as { result: string }).result, 'cancel_requested');
    const view = await waitFor('cancelled', async () => {
      const r = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
      return (r.structuredContent as { status: string }).status === 'cancelled' ? r : undefined;
    }, 15_000, 300);
    assert.equal(view.isError, true);
    await waitFor('notifications/cancelled downstream', () => stack.fixture.executions.find((e) => e.correlationId === correlationId)?.cancelled);
  });

  it('rejects a malformed correlation id and scopes lookups to the tenant', async () => {
    await assert.rejects(client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: '../other-tenant' } }), { code: -32602 });
    const unknown = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: '01a20b00-0000-7000-8000-000000000000' } });
    assert.equal(unknown.isError, true);
    assert.equal(unknown._meta?.['switchyard/status'], 'not_found');
  });

  it('runs calls with an ordering key through the key lane', async () => {
    const results = [];
    for (let step = 1; step <= 3; step++) {
      results.push(await client.callTool({ name: 'fixture.record', arguments: { key: 'k', step }, _meta: { 'switchyard/ordering_key': 'order-test' } }));
    }
    assert.deepEqual(results.map(textOf), ['k#1', 'k#2', 'k#3']);
    const lane = stack.temporalClient.workflow.getHandle('switchyard/default/lane/order-test');
    assert.equal((await lane.describe()).status.name, 'RUNNING');
  });

  it('drops the tools of a server that goes down, names it in /readyz, and brings them back with list_changed', async () => {
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changes++;
    });
    await stack.fixture.stop();
    const readyz = await waitFor('fixture down in /readyz', async () => {
      const body = (await (await fetch(`http://127.0.0.1:${stack.gatewayPort}/readyz`)).json()) as { status: string; servers: Array<{ id: string; state: string }> };
      return body.servers.find((s) => s.id === 'fixture' && s.state !== 'ready') ? body : undefined;
    }, 20_000, 250);
    assert.equal(readyz.status, 'degraded');
    await waitFor('fixture tools dropped', async () => !(await client.listTools()).tools.some((t) => t.name.startsWith('fixture.')));
    assert.ok(changes >= 1, 'clients are told the list changed');

    stack.fixture.extraTool = true;
    await stack.fixture.start();
    await waitFor('fixture tools back', async () => (await client.listTools()).tools.some((t) => t.name === 'fixture.extra'), 30_000, 250);
    await waitFor('second list_changed', () => changes >= 2);
    const result = await client.callTool({ name: 'fixture.echo', arguments: { message: 'back' } });
    assert.equal(textOf(result), 'back');
  });

  it('turns a transport failure after retries into an isError result that names what failed', async () => {
    const accepted = client.request(
      { method: 'tools/call', params: { name: 'fixture.slow', arguments: { ms: 2_000 } } },
      CallToolResultSchema,
    );
    await waitFor('call reached the fixture', () => stack.fixture.executionsOf('slow').find((e) => e.args.ms === 2_000 && !e.finishedAt));
    await stack.fixture.stop(); // the in-flight request breaks; the retries find the server down
    const first = await accepted;
    const correlationId = correlationIdOf(first);
    const final = await waitFor('the call to give up', async () => {
      const r = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
      return (r.structuredContent as { status: string }).status === 'failed' ? r : undefined;
    }, 30_000, 500);
    assert.equal(final.isError, true);
    assert.match(textOf(final), /fixture/);
    assert.match(textOf(final), new RegExp(correlationId));
    await stack.fixture.start();
  });
});
