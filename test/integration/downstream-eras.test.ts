// Downstream servers of both protocol eras behind one broker: a legacy (2025) front-door client
// calls the tools of a 2026-07-28-only server (SDK v2, `initialize` refused) through the gateway,
// Temporal and the worker, next to the 2025 fixture reached with `protocol: auto` and with
// `protocol: legacy`. Results, tool errors, progress and log messages, the deadline, the cancel,
// and resources and prompts passed through, on the modern era.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ModernServer } from '../support/modern-server.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';

describe('downstream servers of both protocol eras', { timeout: 240_000 }, () => {
  const modern = new ModernServer();
  let stack: Stack;
  let client: McpClient;

  before(async () => {
    await modern.start();
    stack = new Stack({
      syncWaitMs: 1_500,
      withEverything: false,
      retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 200 },
      configure: (config) => {
        config.servers.push(
          { id: 'modern', transport: 'http', url: modern.url, timeoutMs: 60_000 },
          { id: 'pinned', transport: 'http', url: modern.url, protocol: '2026-07-28' },
          { id: 'old', transport: 'http', url: stack.fixture.url, protocol: 'legacy' },
        );
      },
    });
    await stack.start();
    await stack.waitForReady();
    client = await stack.client();
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await stack?.stop();
    await modern.stop();
  });

  it('connects each server in the era its protocol setting leads to', async () => {
    const response = await fetch(`http://127.0.0.1:${stack.gatewayPort}/readyz`);
    const body = (await response.json()) as { servers: Array<{ id: string; state: string; era?: string }> };
    const eras = Object.fromEntries(body.servers.map((s) => [s.id, `${s.state} ${s.era}`]));
    assert.deepEqual(eras, { fixture: 'ready legacy', modern: 'ready 2026-07-28', pinned: 'ready 2026-07-28', old: 'ready legacy' });
    assert.equal(modern.refusedInitializes, 0, 'nothing tried the 2025 handshake on the modern server');
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const name of ['modern.add', 'modern.steps', 'pinned.add', 'old.add', 'fixture.add']) assert.ok(names.includes(name), `missing ${name} in ${names.join(', ')}`);
  });

  it('calls a 2026-07-28 server’s tool for a legacy client: the result, structuredContent and the correlation id reach it', async () => {
    const result = await client.callTool({ name: 'modern.add', arguments: { a: 19, b: 23 } });
    assert.equal(textOf(result), '42');
    assert.deepEqual(result.structuredContent, { sum: 42 });
    assert.equal(result.isError, undefined);
    const correlationId = correlationIdOf(result);
    assert.ok(modern.executions.some((e) => e.tool === 'add' && e.correlationId === correlationId), 'the broker’s meta reached the modern server');
    const pinned = await client.callTool({ name: 'pinned.add', arguments: { a: 1, b: 2 } });
    assert.equal(textOf(pinned), '3');
  });

  it('keeps a modern tool error (isError) a result', async () => {
    const result = await client.callTool({ name: 'modern.fail', arguments: { reason: 'disk full' } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /failed: disk full/);
  });

  it('relays a modern call’s progress and log messages to the legacy client', async () => {
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    await client.setLoggingLevel('info');
    const progress: number[] = [];
    const result = await client.callTool({ name: 'modern.steps', arguments: { steps: 3, intervalMs: 100 } }, CallToolResultSchema, {
      onprogress: (p) => progress.push(p.progress),
      timeout: 60_000,
    });
    assert.equal(textOf(result), '3 steps done');
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(logs, ['step 1', 'step 2', 'step 3']);
  });

  it('ends a modern call at its deadline, and the server’s handler is aborted', async () => {
    const accepted = await client.callTool({ name: 'modern.steps', arguments: { steps: 1, intervalMs: 30_000 }, _meta: { 'switchyard/deadline_ms': 3_000 } });
    const correlationId = correlationIdOf(accepted);
    const final = await waitFor('the call to end', async () => {
      const r = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
      return ['running', 'accepted', 'queued'].includes((r.structuredContent as { status: string }).status) ? undefined : r;
    }, 30_000, 300);
    assert.equal(final.isError, true);
    assert.match(textOf(final), /deadline/i);
    const execution = await waitFor('the server to see the abort', () => modern.executions.find((e) => e.correlationId === correlationId && e.cancelled), 10_000);
    assert.equal(execution.finished, false);
  });

  it('cancels a running modern call with switchyard.cancel_call, and the server’s handler is aborted', async () => {
    const accepted = await client.callTool({ name: 'modern.steps', arguments: { steps: 1, intervalMs: 30_000 } });
    const correlationId = correlationIdOf(accepted);
    await waitFor('the call to reach the server', () => modern.executions.find((e) => e.correlationId === correlationId));
    const cancel = await client.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: correlationId } });
    assert.equal((cancel.structuredContent as { result: string }).result, 'cancel_requested');
    await waitFor('the server to see the abort', () => modern.executions.find((e) => e.correlationId === correlationId)?.cancelled, 15_000);
  });

  it('passes resources and prompts of the modern server through', async () => {
    const read = await client.readResource({ uri: 'modern://greeting' });
    assert.deepEqual(read.contents, [{ uri: 'modern://greeting', mimeType: 'text/plain', text: 'hello from 2026-07-28' }]);
    const prompt = await client.getPrompt({ name: 'modern.greet', arguments: { name: 'Ada' } });
    assert.deepEqual(prompt.messages, [{ role: 'user', content: { type: 'text', text: 'Say hello to Ada' } }]);
  });

  it('calls the 2025 fixture through protocol: legacy as before', async () => {
    const result = await client.callTool({ name: 'old.add', arguments: { a: 2, b: 3 } });
    assert.equal(textOf(result), '5');
    const failed = await client.callTool({ name: 'old.fail', arguments: { reason: 'on purpose' } });
    assert.equal(failed.isError, true);
  });
});
