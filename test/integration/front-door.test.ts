// Both protocol eras on one /mcp: a 2026-07-28 client (the SDK v2 client, and raw HTTP where the
// test needs the wire) works with no session and no initialize, next to a 2025-11-25 client
// with its session; the modern leg keeps tenants apart and relays a call's log messages only
// at the request's own level.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ConformanceServer } from '../support/conformance-server.js';
import { waitFor } from '../support/ports.js';
import { RoundRobinProxy } from '../support/round-robin.js';
import { Stack, correlationIdOf, textOf } from '../support/stack.js';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const MODERN = '2026-07-28';
const TASKS = { 'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } } };

interface RpcAnswer {
  status: number;
  /** Every JSON-RPC message of the response, notifications first, in the order sent. */
  messages: Array<{ id?: unknown; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: number; message: string } }>;
}

describe('the 2026-07-28 front door beside the 2025 one', { timeout: 240_000 }, () => {
  const conformance = new ConformanceServer();
  let stack: Stack;
  let nextId = 1;

  /** One 2026-07-28 request on the wire, as the spec shapes it: envelope in _meta, standard headers. */
  const modernAt = async (url: string, key: string, method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): Promise<RpcAnswer> => {
    const name = [params.name, params.uri, params.taskId].find((v): v is string => typeof v === 'string');
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
        'mcp-method': method,
        ...(name !== undefined ? { 'mcp-name': name } : {}),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: nextId++,
        method,
        params: {
          ...params,
          _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, ...meta },
        },
      }),
    });
    const text = await response.text();
    const messages = (response.headers.get('content-type') ?? '').includes('text/event-stream')
      ? text
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => JSON.parse(line.slice(5)) as RpcAnswer['messages'][number])
      : [JSON.parse(text) as RpcAnswer['messages'][number]];
    return { status: response.status, messages };
  };
  const modern = (key: string, method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => modernAt(stack.mcpUrl, key, method, params, meta);
  const resultOf = (answer: RpcAnswer) => {
    const last = answer.messages.at(-1)!;
    assert.equal(last.error, undefined, `no error expected: ${JSON.stringify(last.error)}`);
    return last.result!;
  };

  before(async () => {
    await conformance.start();
    stack = await new Stack({
      withEverything: false,
      syncWaitMs: 1_500,
      tenants: [
        { id: 'acme', apiKeys: [ACME] },
        { id: 'globex', apiKeys: [GLOBEX] },
      ],
      configure: (config) => {
        config.servers.push({ id: 'conf', transport: 'http', url: conformance.url, timeoutMs: 10_000 });
        // Every gateway of the deployment signs session ids with the same key.
        config.gateway = { ...(config.gateway as object), sessions: { key: 'front-door-test-session-key-0123456789' } };
      },
    }).start();
    await stack.waitForReady();
  });

  after(async () => {
    await stack?.stop();
    await conformance.stop();
  });

  it('serves the SDK v2 client in the 2026-07-28 era, with no session, beside a 2025-11-25 session', async () => {
    const client = new ModernClient({ name: 'modern-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new ModernTransport(new URL(stack.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${ACME}` } } }));
    const legacy = await stack.client({ authorization: `Bearer ${ACME}` });
    try {
      assert.equal(client.getProtocolEra(), 'modern', 'the auto probe found the 2026-07-28 leg');
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'fixture.echo'));
      assert.ok(tools.some((t) => t.name === 'switchyard.get_call'));

      const result = await client.callTool({ name: 'fixture.echo', arguments: { message: 'from 2026' } });
      assert.equal(textOf(result), 'from 2026');
      const correlationId = correlationIdOf(result);
      // The call is the same durable call a legacy client makes: the legacy session finds it.
      const found = await legacy.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
      assert.equal((found.structuredContent as { status: string }).status, 'completed');
      const legacyResult = await legacy.callTool({ name: 'fixture.echo', arguments: { message: 'from 2025' } });
      assert.equal(textOf(legacyResult), 'from 2025');
      assert.equal(legacy.getServerVersion()?.name, 'switchyard');
    } finally {
      await client.close();
      await legacy.close();
    }
  });

  it('answers server/discover with both eras and marks lists private with the configured lifetime', async () => {
    const discover = resultOf(await modern(ACME, 'server/discover'));
    assert.ok((discover.supportedVersions as string[]).includes(MODERN));
    assert.equal(((discover._meta as Record<string, { name: string }>)['io.modelcontextprotocol/serverInfo'])?.name, 'switchyard');

    const list = resultOf(await modern(ACME, 'tools/list'));
    assert.equal(list.resultType, 'complete');
    assert.equal(list.ttlMs, 60_000);
    assert.equal(list.cacheScope, 'private', 'lists differ by tenant: never for a shared cache');
  });

  it('refuses a request whose headers disagree with its body, and one with no API key', async () => {
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'fixture.echo', arguments: { message: 'x' }, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32020, 'HeaderMismatch');

    const anonymous = await modern('not-a-key', 'tools/list');
    assert.equal(anonymous.status, 401);
  });

  it('keeps tenants apart: another tenant cannot read a call by its correlation id', async () => {
    const call = resultOf(await modern(ACME, 'tools/call', { name: 'fixture.echo', arguments: { message: 'acme secret' } }));
    const correlationId = correlationIdOf(call);
    const mine = resultOf(await modern(ACME, 'tools/call', { name: 'switchyard.get_call', arguments: { correlation_id: correlationId } }));
    assert.equal((mine.structuredContent as { status: string }).status, 'completed');
    const theirs = resultOf(await modern(GLOBEX, 'tools/call', { name: 'switchyard.get_call', arguments: { correlation_id: correlationId } }));
    assert.equal(theirs.isError, true);
    assert.doesNotMatch(JSON.stringify(theirs), /acme secret/);
    assert.equal((theirs._meta as Record<string, unknown>)['switchyard/status'], 'not_found');
  });

  it('relays a call’s log messages only at or above the request’s own log level, and none without one', async () => {
    const logsOf = (answer: RpcAnswer) => answer.messages.filter((m) => m.method === 'notifications/message').map((m) => m.params?.level);
    const without = await modern(ACME, 'tools/call', { name: 'conf.test_tool_with_logging', arguments: {} });
    assert.equal(resultOf(without).isError, undefined);
    assert.deepEqual(logsOf(without), [], 'no logLevel in the request: no log messages');

    const debug = await modern(ACME, 'tools/call', { name: 'conf.test_tool_with_logging', arguments: {} }, { 'io.modelcontextprotocol/logLevel': 'debug' });
    assert.ok(logsOf(debug).length >= 1, `log messages at debug: ${JSON.stringify(debug.messages)}`);
    const error = await modern(ACME, 'tools/call', { name: 'conf.test_tool_with_logging', arguments: {} }, { 'io.modelcontextprotocol/logLevel': 'emergency' });
    assert.deepEqual(logsOf(error), [], 'nothing reaches emergency');
  });

  it('tells an open subscriptions/listen stream when a downstream server changes its prompts, and only what it asked for', async () => {
    const controller = new AbortController();
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        authorization: `Bearer ${ACME}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: nextId++,
        method: 'subscriptions/listen',
        params: {
          notifications: { promptsListChanged: true },
          _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} },
        },
      }),
    });
    const seen: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let at = buffer.indexOf('\n'); at !== -1; at = buffer.indexOf('\n')) {
          const line = buffer.slice(0, at);
          buffer = buffer.slice(at + 1);
          if (line.startsWith('data:')) seen.push((JSON.parse(line.slice(5)) as { method?: string }).method ?? '');
        }
      }
    })().catch(() => undefined);
    try {
      await waitFor('the acknowledgement', () => seen.includes('notifications/subscriptions/acknowledged') || undefined);
      resultOf(await modern(ACME, 'tools/call', { name: 'conf.test_trigger_tool_change', arguments: {} }));
      resultOf(await modern(ACME, 'tools/call', { name: 'conf.test_trigger_prompt_change', arguments: {} }));
      await waitFor('prompts/list_changed on the stream', () => seen.includes('notifications/prompts/list_changed') || undefined, 10_000);
      assert.ok(!seen.includes('notifications/tools/list_changed'), 'the stream asked for prompt changes only');
    } finally {
      controller.abort();
      await reading;
    }
  });

  describe('the Tasks extension (SEP-2663) on durable calls', () => {
    const poll = async (key: string, taskId: string, until: (task: Record<string, unknown>) => boolean) => {
      for (let i = 0; i < 100; i++) {
        const task = resultOf(await modern(key, 'tasks/get', { taskId }, TASKS));
        if (until(task)) return task;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.fail(`task ${taskId} never reached the expected status`);
    };

    it('answers a long-running tool with a task at once, and any gateway, even restarted, serves it', async () => {
      const created = resultOf(await modern(ACME, 'tools/call', { name: 'conf.slow_compute', arguments: { seconds: 2, label: 'durable' } }, TASKS));
      assert.equal(created.resultType, 'task');
      assert.equal(created.status, 'working');
      const taskId = created.taskId as string;
      // Durably created before the answer: readable at once.
      assert.equal(resultOf(await modern(ACME, 'tasks/get', { taskId }, TASKS)).status, 'working');

      await stack.kill('gateway');
      await stack.startGateway();
      const done = await poll(ACME, taskId, (t) => t.status !== 'working');
      assert.equal(done.status, 'completed');
      assert.equal(done.resultType, 'complete');
      assert.equal(((done.result as { content: Array<{ text: string }> }).content[0])?.text, 'Computed durable after 2 s');

      // Another tenant cannot tell it from a task that does not exist.
      const theirs = await modern(GLOBEX, 'tasks/get', { taskId }, TASKS);
      assert.equal(theirs.messages.at(-1)?.error?.code, -32602);
      const random = await modern(GLOBEX, 'tasks/get', { taskId: taskId.replace(/[0-9a-f]{12}$/, '000000000000') }, TASKS);
      assert.equal(random.messages.at(-1)?.error?.code, -32602);
      assert.equal(theirs.messages.at(-1)?.error?.message.replace(taskId, 'ID'), random.messages.at(-1)?.error?.message.replace(/\S+$/, 'ID'));
    });

    it('follows a call that outlives the wait as a task instead of the "accepted" text, and cancels one', async () => {
      const created = resultOf(await modern(ACME, 'tools/call', { name: 'fixture.slow', arguments: { ms: 4_000, tag: 'outlives' } }, TASKS));
      assert.equal(created.resultType, 'task', `a task after syncWaitMs, not ${JSON.stringify(created)}`);
      const done = await poll(ACME, created.taskId as string, (t) => t.status !== 'working');
      assert.equal(done.status, 'completed');

      const running = resultOf(await modern(ACME, 'tools/call', { name: 'conf.slow_compute', arguments: { seconds: 60, label: 'cancel me' } }, TASKS));
      const ack = resultOf(await modern(ACME, 'tasks/cancel', { taskId: running.taskId }, TASKS));
      assert.deepEqual(Object.keys(ack).filter((k) => k !== 'resultType' && k !== '_meta'), []);
      assert.equal((await poll(ACME, running.taskId as string, (t) => t.status !== 'working')).status, 'cancelled');
    });

    it('reports a tool error as completed with isError, and a downstream JSON-RPC error as failed', async () => {
      const failing = resultOf(await modern(ACME, 'tools/call', { name: 'conf.failing_job', arguments: {} }, TASKS));
      const done = await poll(ACME, failing.taskId as string, (t) => t.status !== 'working');
      assert.equal(done.status, 'completed');
      assert.equal((done.result as { isError?: boolean }).isError, true);

      const broken = resultOf(await modern(ACME, 'tools/call', { name: 'conf.protocol_error_job', arguments: {} }, TASKS));
      const failed = await poll(ACME, broken.taskId as string, (t) => t.status !== 'working');
      assert.equal(failed.status, 'failed');
      assert.equal((failed.error as { code: number }).code, -32603);
      assert.equal(failed.result, undefined);
    });

    it('refuses a task-only tool and the tasks methods to a request that does not list the extension', async () => {
      const refused = await modern(ACME, 'tools/call', { name: 'conf.failing_job', arguments: {} });
      const error = refused.messages.at(-1)?.error as { code: number; data?: { requiredCapabilities?: unknown } } | undefined;
      assert.equal(error?.code, -32021);
      assert.deepEqual(error?.data?.requiredCapabilities, { extensions: { 'io.modelcontextprotocol/tasks': {} } });
      const plain = resultOf(await modern(ACME, 'tools/call', { name: 'conf.slow_compute', arguments: { seconds: 0 } }));
      assert.equal(plain.resultType, 'complete', 'without the extension a task-supporting tool answers plainly');
      const get = await modern(ACME, 'tasks/get', { taskId: 's0.00000000-0000-4000-8000-000000000000' });
      assert.equal(get.messages.at(-1)?.error?.code, -32021);
    });
  });

  describe('two gateways behind a round-robin proxy, one killed mid-call', () => {
    it('serves a 2025-11-25 session from either gateway (sealed session ids), also after the gateway that opened it dies', async () => {
      const extra = await stack.startExtraGateway();
      const proxy = await new RoundRobinProxy([stack.mcpUrl, extra.url]).start();
      let mainKilled = false;
      try {
        const legacy = new LegacyClient({ name: 'round-robin-legacy', version: '1.0.0' });
        await legacy.connect(new LegacyTransport(new URL(proxy.url), { requestInit: { headers: { authorization: `Bearer ${ACME}` } } }));
        const opener = proxy.routed[0]!.upstream;
        const first = await legacy.callTool({ name: 'fixture.echo', arguments: { message: 'legacy 0' } });
        for (let i = 1; i < 4; i++) assert.equal(textOf(await legacy.callTool({ name: 'fixture.echo', arguments: { message: `legacy ${i}` } })), `legacy ${i}`);
        assert.deepEqual(new Set(proxy.routed.map((r) => r.upstream)), new Set([0, 1]), 'both gateways served the one session');

        if (opener === 0) {
          mainKilled = true;
          await stack.kill('gateway');
        } else {
          extra.process.kill('SIGKILL');
        }
        // No new initialize: the survivor serves the session from its id.
        assert.equal(textOf(await legacy.callTool({ name: 'fixture.echo', arguments: { message: 'after the opener died' } })), 'after the opener died');
        const found = await legacy.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationIdOf(first) } });
        assert.equal((found.structuredContent as { status: string }).status, 'completed');
        await legacy.close().catch(() => undefined);
      } finally {
        await proxy.stop();
        extra.process.kill('SIGKILL');
        if (mainKilled) await stack.startGateway();
      }
    });

    it('cancels a call of a session this gateway does not hold, when the client’s notifications/cancelled reaches it', async () => {
      const extra = await stack.startExtraGateway();
      const legacy = await stack.client({ authorization: `Bearer ${ACME}` });
      try {
        const sessionId = (legacy.transport as { sessionId?: string }).sessionId!;
        const post = (body: object) =>
          fetch(extra.url, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${ACME}`,
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'mcp-session-id': sessionId,
              'mcp-protocol-version': '2025-11-25',
            },
            body: JSON.stringify(body),
          });
        // The session was opened on the main gateway; the extra one serves both requests from the id.
        const call = post({ jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'fixture.slow', arguments: { ms: 30_000, tag: 'visited-cancel' } } }).then((r) => r.text());
        const runs = () => stack.fixture.executionsOf('slow').filter((e) => e.args.tag === 'visited-cancel');
        await waitFor('the call to start downstream', () => runs().length > 0 || undefined);
        const cancel = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 41, reason: 'changed my mind' } });
        assert.equal(cancel.status, 202);
        assert.match(await call, /cancelled by the client/);
        await waitFor('the server sees the cancel', () => runs()[0]!.cancelled || undefined, 10_000);
      } finally {
        await legacy.close().catch(() => undefined);
        extra.process.kill('SIGKILL');
      }
    });

    it('serves a 2026-07-28 client from either gateway, and a call re-sent after its stream broke runs once', async () => {
      const extra = await stack.startExtraGateway();
      const proxy = await new RoundRobinProxy([stack.mcpUrl, extra.url]).start();
      let mainKilled = false;
      try {
        const client = new ModernClient({ name: 'round-robin', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
        await client.connect(new ModernTransport(new URL(proxy.url), { requestInit: { headers: { authorization: `Bearer ${ACME}` } } }));
        for (let i = 0; i < 4; i++) assert.equal(textOf(await client.callTool({ name: 'fixture.echo', arguments: { message: `rr ${i}` } })), `rr ${i}`);
        assert.deepEqual(new Set(proxy.routed.map((r) => r.upstream)), new Set([0, 1]), 'both gateways served the one client');

        // The spec's re-send: the stream breaks, and the client sends the same request again with
        // a new JSON-RPC id. Its idempotency key (unchanged, since the body is) finds the call.
        const params = { name: 'fixture.slow', arguments: { ms: 3_000, tag: 'resent' } };
        // accept_async false: wait for the result however long it takes (this suite's syncWaitMs is 1.5 s).
        const meta = { 'switchyard/idempotency_key': 'resend-after-cut', 'switchyard/accept_async': false };
        const runs = () => stack.fixture.executionsOf('slow').filter((e) => e.args.tag === 'resent');
        const first = modernAt(proxy.url, ACME, 'tools/call', params, meta).catch((error: unknown) => error);
        await waitFor('the call to start downstream', () => runs().length > 0 || undefined);
        const holder = proxy.routed.at(-1)!.upstream;
        if (holder === 0) {
          mainKilled = true;
          await stack.kill('gateway');
        } else {
          extra.process.kill('SIGKILL');
        }
        assert.ok((await first) instanceof Error, 'the client saw its stream cut');

        const resent = resultOf(await modernAt(proxy.url, ACME, 'tools/call', params, meta));
        assert.equal(textOf(resent), 'slept 3000 ms (resent)');
        assert.equal(runs().length, 1, 'the tool ran once');
        assert.equal(textOf(await client.callTool({ name: 'fixture.echo', arguments: { message: 'survivor' } })), 'survivor');
        await client.close();
      } finally {
        await proxy.stop();
        extra.process.kill('SIGKILL');
        if (mainKilled) await stack.startGateway();
      }
    });
  });
});
