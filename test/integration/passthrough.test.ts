// Pass-through of the downstream servers' resources, templates, prompts, completion, ping and
// logging, and the unprefixed option, through a real broker (Temporal dev server, worker,
// gateway) to a real MCP server over Streamable HTTP. The conformance suite runs after the tests
// in `npm test` (scripts/run-tests.mjs), not from here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ResourceUpdatedNotificationSchema,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { ConformanceServer, RED_PIXEL_PNG } from '../support/conformance-server.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';
import { keyWorkflowId, routeOf } from '../../src/shared/ids.js';

async function rejection(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof McpError, `expected an McpError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the request to fail');
}

function collectLogs(client: Client): LoggingMessageNotification['params'][] {
  const logs: LoggingMessageNotification['params'][] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params);
  });
  return logs;
}

describe('pass-through with prefixed servers', () => {
  const conformance = new ConformanceServer();
  let stack: Stack;
  let client: Client;

  before(async () => {
    await conformance.start();
    stack = await new Stack({
      withEverything: false,
      configure: (config) => {
        config.servers.push({ id: 'conf', transport: 'http', url: conformance.url, timeoutMs: 10_000 });
      },
    }).start();
    await stack.waitForReady();
    client = await stack.client();
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await stack?.stop();
    await conformance.stop();
  });

  it('advertises what a downstream server offers', () => {
    const capabilities = client.getServerCapabilities();
    assert.deepEqual(capabilities?.resources, { listChanged: true, subscribe: true });
    assert.deepEqual(capabilities?.prompts, { listChanged: true });
    assert.deepEqual(capabilities?.completions, {});
    assert.deepEqual(capabilities?.logging, {});
  });

  it('lists and reads resources with their URIs unchanged', async () => {
    const { resources } = await client.listResources();
    assert.deepEqual(
      resources.map((r) => r.uri),
      ['test://static-text', 'test://static-binary', 'test://watched-resource'],
    );
    const text = await client.readResource({ uri: 'test://static-text' });
    assert.deepEqual(text.contents, [{ uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }]);
    const binary = await client.readResource({ uri: 'test://static-binary' });
    assert.equal((binary.contents[0] as { blob?: string }).blob, RED_PIXEL_PNG);
  });

  it('lists resource templates and routes a URI by the template that matches it', async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.deepEqual(
      resourceTemplates.map((t) => t.uriTemplate),
      ['test://template/{id}/data'],
    );
    const read = await client.readResource({ uri: 'test://template/42/data' });
    assert.deepEqual(JSON.parse((read.contents[0] as { text: string }).text), { id: '42', templateTest: true, data: 'Data for ID: 42' });
  });

  it('answers an unknown URI with -32002 and no internals', async () => {
    const error = await rejection(client.readResource({ uri: 'nowhere://x' }));
    assert.equal(error.code, -32002);
    assert.match(error.message, /Resource not found: nowhere:\/\/x/);
    assert.doesNotMatch(error.message, /\bat \w+ \(|node_modules/);
  });

  it('lists prompts under the server prefix and gets them by that name', async () => {
    const { prompts } = await client.listPrompts();
    assert.deepEqual(
      prompts.map((p) => p.name),
      ['conf.test_simple_prompt', 'conf.test_prompt_with_arguments', 'conf.test_prompt_with_embedded_resource', 'conf.test_prompt_with_image'],
    );
    const prompt = await client.getPrompt({ name: 'conf.test_prompt_with_arguments', arguments: { arg1: 'hello', arg2: 'world' } });
    assert.deepEqual(prompt.messages, [{ role: 'user', content: { type: 'text', text: "Prompt with arguments: arg1='hello', arg2='world'" } }]);
    const unknown = await rejection(client.getPrompt({ name: 'test_simple_prompt' }));
    assert.equal(unknown.code, -32602);
    assert.equal(unknown.message, 'MCP error -32602: Unknown prompt: test_simple_prompt');
  });

  it('passes completion/complete through for prompts and resource templates', async () => {
    const forPrompt = await client.complete({ ref: { type: 'ref/prompt', name: 'conf.test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'par' } });
    assert.deepEqual(forPrompt.completion.values, ['paris', 'park', 'party']);
    const forTemplate = await client.complete({ ref: { type: 'ref/resource', uri: 'test://template/{id}/data' }, argument: { name: 'id', value: '12' } });
    assert.deepEqual(forTemplate.completion.values, ['123', '124']);
  });

  it('answers ping itself', async () => {
    assert.deepEqual(await client.ping(), {});
  });

  it('relays a tool call’s log messages and progress from the worker, before the result', async () => {
    const logs = collectLogs(client);
    await client.setLoggingLevel('info');
    const result = await client.callTool({ name: 'conf.test_tool_with_logging', arguments: {} });
    assert.equal(textOf(result), 'Tool with logging executed successfully');
    assert.deepEqual(
      logs.map((l) => l.data),
      ['Tool execution started', 'Tool processing data', 'Tool execution completed'],
    );
    assert.equal((result._meta as Record<string, unknown>)['switchyard/relay'], undefined, 'the relay key never reaches the client');

    const progress: number[] = [];
    await client.request({ method: 'tools/call', params: { name: 'conf.test_tool_with_progress', arguments: {} } }, CallToolResultSchema, {
      onprogress: (p) => progress.push(p.progress),
    });
    assert.deepEqual(progress, [0, 50, 100]);
  });

  it('applies each session’s log level to the messages it gets', async () => {
    const logs = collectLogs(client);
    await client.setLoggingLevel('info');
    await client.readResource({ uri: 'test://static-text' }); // the server logs this at debug
    assert.equal(logs.length, 0);
    await client.setLoggingLevel('debug');
    await client.readResource({ uri: 'test://static-text' });
    assert.deepEqual(logs, [{ level: 'debug', logger: 'conformance-fixture', data: 'read test://static-text' }]);

    // A message on the server's own stream (tied to no request) goes to every session at its level.
    const other = await stack.client();
    const otherLogs = collectLogs(other);
    await other.setLoggingLevel('error');
    await conformance.broadcastLog('info', 'server-wide info');
    await conformance.broadcastLog('error', 'server-wide error');
    await waitFor('the server-wide messages', () => logs.filter((l) => String(l.data).startsWith('server-wide')).length === 2 || undefined);
    await waitFor('the error message in the other session', () => otherLogs.length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      otherLogs.map((l) => l.data),
      ['server-wide error'],
    );
    await other.close();
  });

  it('subscribes downstream once, relays resources/updated, and unsubscribes when the last subscriber leaves', async () => {
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    await client.subscribeResource({ uri: 'test://watched-resource' });
    const other = await stack.client();
    await other.subscribeResource({ uri: 'test://watched-resource' });
    // One downstream subscription (the gateway's connection), however many clients.
    assert.deepEqual(conformance.subscriptions(), ['test://watched-resource']);
    await conformance.touch('test://watched-resource');
    await waitFor('resources/updated', () => updates.length > 0 || undefined);
    assert.deepEqual(updates, ['test://watched-resource']);

    await client.unsubscribeResource({ uri: 'test://watched-resource' });
    assert.deepEqual(conformance.subscriptions(), ['test://watched-resource'], 'the other session still holds it');
    // Ending the session (DELETE) drops its subscription; the downstream one goes with the last.
    await (other.transport as StreamableHTTPClientTransport).terminateSession();
    await other.close();
    await waitFor('the downstream unsubscribe', () => conformance.subscriptions().length === 0 || undefined);
    await conformance.touch('test://watched-resource');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(updates, ['test://watched-resource']);
  });

  it('refuses a malformed cursor with -32602', async () => {
    const error = await rejection(client.listResources({ cursor: 'not-a-cursor' }));
    assert.equal(error.code, -32602);
  });
});

describe('pass-through with one unprefixed server', () => {
  const conformance = new ConformanceServer();
  let stack: Stack;
  let client: Client;

  before(async () => {
    await conformance.start();
    stack = await new Stack({
      withEverything: false,
      configure: (config) => {
        config.servers = [{ id: 'conf', transport: 'http', url: conformance.url, unprefixed: true }];
      },
    }).start();
    await stack.waitForReady();
    client = await stack.client();
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await stack?.stop();
    await conformance.stop();
  });

  it('keeps tool and prompt names bare; broker tools keep their prefix', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('test_simple_text'));
    assert.ok(names.includes('switchyard.get_call'));
    assert.ok(!names.some((n) => n.startsWith('conf.')));
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    assert.deepEqual(prompts, ['test_simple_prompt', 'test_prompt_with_arguments', 'test_prompt_with_embedded_resource', 'test_prompt_with_image']);
    const prompt = await client.getPrompt({ name: 'test_simple_prompt' });
    assert.equal((prompt.messages[0]!.content as { text: string }).text, 'This is a simple prompt for testing.');
  });

  it('still runs a bare-named tool durably through Temporal', async () => {
    const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
    assert.equal(textOf(result), 'This is a simple text response for testing.');
    const correlationId = correlationIdOf(result);
    // It ran in its tenant's shard workflow, as the update named by its correlation id.
    const shard = stack.temporalClient.workflow.getHandle(keyWorkflowId('default', routeOf(correlationId)!));
    assert.equal((await shard.describe()).type, 'keyWorkflow');
    const events = (await shard.fetchHistory()).events ?? [];
    assert.ok(events.some((e) => e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId === correlationId), 'the call was answered by its shard workflow');
  });
});
