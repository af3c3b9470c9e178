// The walking broker end to end: a real MCP client → gateway → Temporal → worker → real MCP
// servers (server-everything over stdio, the fixture over Streamable HTTP).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as DirectClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { everythingServerEntry } from '../../src/config/demo.js';
import { keyWorkflowId, routeOf } from '../../src/shared/ids.js';
import { keyRoute } from '../../src/shared/route.js';
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
        // The broker adds one thing: every tool can run as a durable MCP task.
        const { execution, ...rest } = proxied;
        assert.deepEqual(execution, { ...tool.execution, taskSupport: 'optional' });
        const { execution: _downstreamExecution, ...original } = tool;
        assert.deepEqual({ ...rest, name: tool.name }, original, `definition of ${tool.name} changed on the way through`);
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
    // The call ran in its tenant's shard workflow, named by the correlation id's route, as an
    // update whose id is the correlation id: that is how an operator finds it in the Web UI.
    const shard = keyWorkflowId('default', routeOf(correlationId)!);
    assert.match(shard, /^switchyard\/default\/shard\/\d+$/);
    const events = (await stack.temporalClient.workflow.getHandle(shard).fetchHistory()).events ?? [];
    const accepted = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId === correlationId);
    const completed = events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId === correlationId);
    assert.equal(accepted.length, 1, 'the call was accepted once, as an update named by its correlation id');
    assert.equal(completed.length, 1, 'and answered once');
    const found = await waitFor('visibility', async () => {
      const seen: string[] = [];
      for await (const wf of stack.temporalClient.workflow.list({ query: `SwitchyardTenant = "default" AND WorkflowType = "keyWorkflow"` })) seen.push(wf.workflowId);
      return seen.includes(shard) ? seen : undefined;
    }, 10_000, 250);
    assert.ok(found.includes(shard));
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

  it('cancels the durable call when the client sends notifications/cancelled for its request', async () => {
    const controller = new AbortController();
    const pending = client.request({ method: 'tools/call', params: { name: 'fixture.slow', arguments: { ms: 30_000, tag: 'client-cancel' } } }, CallToolResultSchema, { signal: controller.signal });
    const execution = await waitFor('the call to reach the server', () => stack.fixture.executions.find((e) => e.args.tag === 'client-cancel'));
    controller.abort('user pressed stop');
    await assert.rejects(pending);
    await waitFor('the downstream request to be cancelled', () => execution.cancelled, 15_000);
    await waitFor('cancelled status', async () => {
      const r = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: execution.correlationId! } });
      return (r.structuredContent as { status: string }).status === 'cancelled' ? r : undefined;
    }, 15_000, 300);
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
    // The key's own workflow ran them, and stays open for later calls on the key.
    const key = stack.temporalClient.workflow.getHandle(keyWorkflowId('default', keyRoute('default', stack.storedKey('order-test'))));
    const description = await key.describe();
    assert.equal(description.status.name, 'RUNNING');
    assert.equal(description.type, 'keyWorkflow');
  });

  it('has no cap of ~10 waiting calls per key: 30 concurrent calls on one key all finish, one at a time', async () => {
    const key = `burst-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => client.callTool({ name: 'fixture.record', arguments: { key, step: i }, _meta: { 'switchyard/ordering_key': key } }, undefined, { timeout: 60_000 })),
    );
    // Some answers come back as "accepted" (syncWaitMs is short here); every call still runs.
    assert.ok(results.every((r) => ['completed', 'accepted'].includes(r._meta?.['switchyard/status'] as string)));
    const runs = await waitFor('all 30 to run', () => {
      const seen = stack.fixture.executionsOf('record').filter((e) => e.args.key === key && e.finishedAt !== undefined);
      return seen.length >= 30 ? seen.sort((a, b) => a.startedAt - b.startedAt) : undefined;
    }, 60_000, 200);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(stack.fixture.executionsOf('record').filter((e) => e.args.key === key).length, 30, 'each call ran exactly once');
    assert.deepEqual(new Set(runs.map((r) => r.correlationId)), new Set(results.map(correlationIdOf)));
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.startedAt >= runs[i - 1]!.finishedAt!, 'calls on one key never overlap');
  });

  it('restarts a stdio server that exits and brings its tools back', async () => {
    const gatewayPid = stack.gateway!.pid!;
    const children = execFileSync('pgrep', ['-P', String(gatewayPid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
    assert.ok(children.length >= 1, 'the gateway runs server-everything as a child');
    for (const pid of children) process.kill(pid, 'SIGKILL');
    await waitFor('everything down', async () => !(await client.listTools()).tools.some((t) => t.name === 'everything.echo'), 10_000, 50).catch(() => undefined);
    await waitFor('everything back', async () => (await client.listTools()).tools.some((t) => t.name === 'everything.echo'), 30_000, 250);
    const newChildren = execFileSync('pgrep', ['-P', String(gatewayPid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
    assert.ok(newChildren.every((pid) => !children.includes(pid)), 'a new process was started');
  });

  it('rejects a foreign Host or Origin (DNS rebinding) and unknown sessions with JSON-RPC errors', async () => {
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const url = stack.mcpUrl;
    const foreignOrigin = await fetch(url, { method: 'POST', headers: { ...headers, origin: 'http://evil.example' }, body: init });
    assert.equal(foreignOrigin.status, 403);
    assert.equal(((await foreignOrigin.json()) as { error: { code: number } }).error.code, -32000);
    const foreignHost = await rawPost(url, 'evil.example:80', init);
    assert.equal(foreignHost.status, 403);
    const stale = await fetch(url, { method: 'POST', headers: { ...headers, 'mcp-session-id': 'no-such-session', 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }) });
    assert.equal(stale.status, 404);
    assert.deepEqual(((await stale.json()) as { id: number }).id, 7);
    const garbage = await fetch(url, { method: 'POST', headers, body: '{not json' });
    assert.equal(garbage.status, 400);
    assert.equal(((await garbage.json()) as { error: { code: number } }).error.code, -32700);
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
    await waitFor('clients are told the list changed', () => changes >= 1, 10_000);

    stack.fixture.extraTool = true;
    await stack.fixture.start();
    await waitFor('fixture tools back', async () => (await client.listTools()).tools.some((t) => t.name === 'fixture.extra'), 30_000, 250);
    await waitFor('second list_changed', () => changes >= 2);
    const result = await client.callTool({ name: 'fixture.echo', arguments: { message: 'back' } });
    assert.equal(textOf(result), 'back');
  });

  it('dead-letters a call whose retries are exhausted, with an isError result that names what failed', async () => {
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
      return (r.structuredContent as { status: string }).status === 'dead_lettered' ? r : undefined;
    }, 30_000, 500);
    assert.equal(final.isError, true);
    assert.match(textOf(final), /fixture/);
    assert.match(textOf(final), /dead-lettered because it kept failing/);
    const deadLetter = (final.structuredContent as { dead_letter: { state: string; reason: string; attempts: number } }).dead_letter;
    assert.equal(deadLetter.state, 'pending');
    assert.equal(deadLetter.reason, 'retries_exhausted');
    assert.equal(deadLetter.attempts, 3); // maxAttempts of this stack
    assert.match(textOf(final), new RegExp(correlationId));
    await stack.fixture.start();
  });
});

/** fetch() will not send a forged Host header; node:http will. */
function rawPost(url: string, host: string, body: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.once('error', reject);
    req.end(body);
  });
}
