// The broker's downstream connection (src/downstream/connection.ts) against a 2026-07-28-only
// server (SDK v2, legacy refused) and a 2025 server (SDK v1, sessions), over real HTTP: the era
// each `protocol` setting ends in, one probe per connect, tool calls with progress, logs, errors,
// timeouts and cancellation, forwarded requests, and health checks on the modern era.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetPromptResultSchema, ReadResourceResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ServerConfigSchema } from '../../src/config/schema.js';
import { DownstreamConnection } from '../../src/downstream/connection.js';
import { DownstreamError } from '../../src/downstream/errors.js';
import { createLogger } from '../../src/observability/log.js';
import { FixtureServer } from '../support/fixture-server.js';
import { ModernServer } from '../support/modern-server.js';
import { waitFor } from '../support/ports.js';

const log = createLogger('silent');
const open: DownstreamConnection[] = [];

async function connect(url: string, protocol?: string, healthCheckMs = 60_000): Promise<DownstreamConnection> {
  const config = ServerConfigSchema.parse({ id: 'down', transport: 'http', url, timeoutMs: 10_000, ...(protocol ? { protocol } : {}) });
  const connection = new DownstreamConnection(config, log, { initialMs: 100, maxMs: 500, healthCheckMs, connectTimeoutMs: 5_000 });
  open.push(connection);
  await connection.start();
  return connection;
}

describe('downstream connection across protocol eras', { timeout: 60_000 }, () => {
  const modern = new ModernServer();
  const legacy = new FixtureServer();
  before(async () => {
    await modern.start();
    await legacy.start();
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await modern.stop();
    await legacy.stop();
  });

  it('auto reaches a 2026-07-28-only server in the modern era with one probe, and a 2025 server in the legacy era', async () => {
    const before = modern.discovers;
    const toModern = await connect(modern.url);
    assert.equal(toModern.status().state, 'ready', toModern.status().lastError);
    assert.equal(toModern.status().era, '2026-07-28');
    assert.equal(modern.discovers - before, 1, 'one server/discover at connect');
    assert.equal(modern.refusedInitializes, 0);
    assert.deepEqual(toModern.listTools().map((t) => t.name).sort(), ['add', 'fail', 'steps']);

    const toLegacy = await connect(legacy.url);
    assert.equal(toLegacy.status().state, 'ready', toLegacy.status().lastError);
    assert.equal(toLegacy.status().era, 'legacy');
    assert.ok(toLegacy.listTools().some((t) => t.name === 'slow'));
  });

  it('protocol: legacy connects to a 2025 server and calls its tools; against a 2026-07-28-only server it fails', async () => {
    const pinnedLegacy = await connect(legacy.url, 'legacy');
    assert.equal(pinnedLegacy.status().era, 'legacy');
    const result = await pinnedLegacy.callTool('add', { a: 1, b: 2 }, { timeoutMs: 5_000 });
    assert.deepEqual(result.content, [{ type: 'text', text: '3' }]);

    const refused = modern.refusedInitializes;
    const wrong = await connect(modern.url, 'legacy');
    assert.equal(wrong.status().state, 'down');
    assert.ok(modern.refusedInitializes > refused, 'the legacy initialize reached the server and was refused');
  });

  it('gives each request of a 2025 connection a signal of its own, which closing the connection still aborts', async () => {
    const connection = await connect(legacy.url, 'legacy');
    // The signal each request reaches fetch with (the connection calls the global fetch).
    const signals: AbortSignal[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      if (init?.signal) signals.push(init.signal);
      return realFetch(input, init);
    };
    try {
      for (let i = 0; i < 5; i++) await connection.callTool('add', { a: i, b: 1 }, { timeoutMs: 5_000 });
      assert.ok(signals.length >= 5, `a signal with every request (${signals.length})`);
      // Shared, the transport's one signal would collect a listener per request (downstream/connection.ts).
      assert.equal(new Set(signals).size, signals.length, 'no two requests share a signal');

      const sent = signals.length;
      const slow = connection.callTool('slow', { ms: 10_000, tag: 'own-signal' }, { timeoutMs: 20_000 });
      await waitFor('the slow call to reach the server', () => legacy.executionsOf('slow').find((e) => e.args.tag === 'own-signal'));
      const inFlight = signals.slice(sent);
      assert.ok(inFlight.length >= 1);
      await connection.close();
      await assert.rejects(slow);
      assert.ok(inFlight.every((signal) => signal.aborted), 'closing the connection aborted the request in flight');
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  it('protocol: 2026-07-28 connects to a modern server and refuses a 2025-only one', async () => {
    const pinned = await connect(modern.url, '2026-07-28');
    assert.equal(pinned.status().era, '2026-07-28');
    const wrong = await connect(legacy.url, '2026-07-28');
    assert.equal(wrong.status().state, 'down');
    assert.equal(wrong.status().era, undefined);
  });

  it('calls a modern tool: result, structuredContent, isError, progress and the call’s own log messages', async () => {
    const connection = await connect(modern.url);
    const sum = await connection.callTool('add', { a: 2, b: 40 }, { timeoutMs: 5_000, meta: { 'switchyard/correlation_id': 'c-1' } });
    assert.deepEqual(sum.content, [{ type: 'text', text: '42' }]);
    assert.deepEqual(sum.structuredContent, { sum: 42 });
    assert.equal(modern.executions.find((e) => e.correlationId === 'c-1')?.tool, 'add', 'the meta reaches the server');

    const failed = await connection.callTool('fail', { reason: 'disk full' }, { timeoutMs: 5_000 });
    assert.equal(failed.isError, true);
    assert.deepEqual(failed.content, [{ type: 'text', text: 'failed: disk full' }]);

    const scope = {};
    const logs: unknown[] = [];
    connection.on('log', (params, from) => {
      if (from === scope) logs.push(params.data);
    });
    const progress: number[] = [];
    const done = await connection.callTool('steps', { steps: 3, intervalMs: 10 }, { timeoutMs: 5_000, scope, onProgress: (p) => progress.push(p.progress) });
    assert.deepEqual(done.content, [{ type: 'text', text: '3 steps done' }]);
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(logs, ['step 1', 'step 2', 'step 3']);
  });

  it('answers an unknown modern tool with a protocol error (never retried), and a slow one with a timeout', async () => {
    const connection = await connect(modern.url);
    await assert.rejects(connection.callTool('nope', {}, { timeoutMs: 5_000 }), (error: unknown) => {
      assert.ok(error instanceof DownstreamError);
      assert.equal(error.kind, 'protocol');
      return true;
    });
    await assert.rejects(connection.callTool('steps', { steps: 1, intervalMs: 3_000 }, { timeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof DownstreamError);
      assert.equal(error.kind, 'timeout');
      return true;
    });
    assert.equal(connection.status().state, 'ready', 'a timeout does not take the server down');
  });

  it('cancels a modern call by aborting its request: the server’s handler sees the abort', async () => {
    const connection = await connect(modern.url);
    const controller = new AbortController();
    const call = connection.callTool('steps', { steps: 1, intervalMs: 20_000 }, { timeoutMs: 30_000, signal: controller.signal, meta: { 'switchyard/correlation_id': 'to-cancel' } });
    await waitFor('the call to start', () => modern.executions.find((e) => e.correlationId === 'to-cancel'));
    controller.abort(new Error('cancelled by the caller'));
    await assert.rejects(call);
    const execution = await waitFor('the server to see the cancel', () => modern.executions.find((e) => e.correlationId === 'to-cancel' && e.cancelled));
    assert.equal(execution.finished, false);
  });

  it('forwards resources/read and prompts/get to a modern server with the caller’s v1 result schemas', async () => {
    const connection = await connect(modern.url);
    const read = await connection.forward({ method: 'resources/read', params: { uri: 'modern://greeting' } }, ReadResourceResultSchema, { timeoutMs: 5_000 });
    assert.deepEqual(read.contents, [{ uri: 'modern://greeting', mimeType: 'text/plain', text: 'hello from 2026-07-28' }]);
    const prompt = await connection.forward({ method: 'prompts/get', params: { name: 'greet', arguments: { name: 'Ada' } } }, GetPromptResultSchema, { timeoutMs: 5_000 });
    assert.deepEqual(prompt.messages, [{ role: 'user', content: { type: 'text', text: 'Say hello to Ada' } }]);
    assert.ok(connection.serverCapabilities()?.resources !== undefined);
  });

  it('hears a modern server’s list changes and resource updates on its listen stream, for the URIs subscribed', async () => {
    const server = new ModernServer();
    await server.start();
    try {
      const connection = await connect(server.url);
      assert.ok(!connection.listTools().some((t) => t.name === 'extra'));
      server.extraTool = true;
      server.toolsChanged();
      await waitFor('the new tool', () => connection.listTools().some((t) => t.name === 'extra') || undefined, 5_000);

      const updated: string[] = [];
      connection.on('resourceUpdated', (uri) => updated.push(uri));
      await connection.subscribe('modern://greeting', 5_000);
      server.resourceUpdated('modern://greeting');
      server.resourceUpdated('modern://other');
      await waitFor('the update', () => updated.length > 0 || undefined, 5_000);
      await connection.unsubscribe('modern://greeting', 5_000);
      server.resourceUpdated('modern://greeting');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(updated, ['modern://greeting'], 'only the subscribed URI, and nothing after unsubscribing');
      assert.equal(connection.status().state, 'ready', 'replacing the listen stream does not take the server down');

      // Two subscribes at once end with one stream: an update arrives once, not once per stream.
      await Promise.all([connection.subscribe('modern://a', 5_000), connection.subscribe('modern://b', 5_000)]);
      server.resourceUpdated('modern://a');
      await waitFor('the update of a', () => updated.includes('modern://a') || undefined, 5_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(updated, ['modern://greeting', 'modern://a']);
    } finally {
      await server.stop();
    }
  });

  it('health-checks a modern server with server/discover', async () => {
    const server = new ModernServer();
    await server.start();
    try {
      const connection = await connect(server.url, undefined, 200);
      assert.equal(server.discovers, 1);
      await waitFor('two health checks', () => server.discovers >= 3 || undefined);
      assert.equal(connection.status().state, 'ready');
    } finally {
      await server.stop();
    }
  });

  it('notices a modern server gone (its listen stream ends) and reconnects on the kept verdict, without a second probe', async () => {
    const server = new ModernServer();
    await server.start();
    try {
      const connection = await connect(server.url);
      assert.equal(server.discovers, 1);
      const port = Number(new URL(server.url).port);
      await server.stop();
      await waitFor('the server to be marked down', () => connection.status().state === 'down' || undefined);
      await server.start(port);
      await waitFor('the reconnect', () => connection.status().state === 'ready' || undefined, 10_000);
      assert.equal(connection.status().era, '2026-07-28');
      assert.equal(server.discovers, 1, 'the reconnect adopted the verdict: no server/discover');
      const result = await connection.callTool('add', { a: 1, b: 1 }, { timeoutMs: 5_000 });
      assert.deepEqual(result.content, [{ type: 'text', text: '2' }]);
    } finally {
      await server.stop();
    }
  });
});
