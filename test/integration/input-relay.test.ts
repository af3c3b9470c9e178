// The input relay (issue 12 outcome 5, docs/front-door-design.md section 5): a 2026-07-28
// downstream server that answers tools/call with `input_required` gets its caller's answers
// through the durable call. The call waits in Temporal, not on a connection: the client may leave,
// the worker may die, and the answer may come from another gateway. A 2025 client is asked on its
// call's stream instead. Real parts throughout: the Temporal dev server, the broker's processes,
// the SDK v2 server as the downstream fixture, raw HTTP and the SDK v1 client as clients.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ConformanceModernServer } from '../support/conformance-modern-server.js';
import { ConformanceServer } from '../support/conformance-server.js';
import { Stack, textOf } from '../support/stack.js';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const MODERN = '2026-07-28';
const CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const ELICITATION = { [CAPABILITIES]: { elicitation: { form: {} } } };
const TASKS = { [CAPABILITIES]: { elicitation: { form: {} }, extensions: { 'io.modelcontextprotocol/tasks': {} } } };

type Message = { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } };

const accept = (content: Record<string, unknown>) => ({ action: 'accept', content });

describe('the input relay: a server asks its caller for input through the durable call', { timeout: 240_000 }, () => {
  const asker = new ConformanceModernServer();
  /** A 2025 server: it asks on the tool call's open request (elicitation/create, sampling/createMessage). */
  const old = new ConformanceServer();
  let stack: Stack;
  let nextId = 1;

  /** One 2026-07-28 request on the wire; the last JSON-RPC message of the answer. */
  const send = async (url: string, key: string, method: string, params: Record<string, unknown>, meta: Record<string, unknown> = {}): Promise<Message> => {
    const name = [params.name, params.taskId].find((v): v is string => typeof v === 'string');
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
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, [CAPABILITIES]: {}, ...meta } } }),
    });
    const text = await response.text();
    const messages = (response.headers.get('content-type') ?? '').includes('text/event-stream')
      ? text
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => JSON.parse(line.slice(5)) as Message)
      : [JSON.parse(text) as Message];
    return messages.at(-1)!;
  };
  const call = (key: string, params: Record<string, unknown>, meta: Record<string, unknown> = ELICITATION, url = stack.mcpUrl) => send(url, key, 'tools/call', params, meta);
  const resultOf = (message: Message) => {
    assert.equal(message.error, undefined, `no error expected: ${JSON.stringify(message.error)}`);
    return message.result!;
  };
  /** The input_required answer's requests and the broker's state. */
  const asked = (message: Message) => {
    const result = resultOf(message);
    assert.equal(result.resultType, 'input_required', `input_required expected, got ${JSON.stringify(result)}`);
    assert.equal(typeof result.requestState, 'string');
    return { requests: result.inputRequests as Record<string, { method: string; params: Record<string, unknown> }>, state: result.requestState as string };
  };
  const textOfResult = (result: Record<string, unknown>) => (result.content as Array<{ text: string }>)[0]?.text;

  before(async () => {
    await asker.start();
    await old.start();
    stack = await new Stack({
      withEverything: false,
      syncWaitMs: 1_500,
      tenants: [
        { id: 'acme', apiKeys: [ACME] },
        { id: 'globex', apiKeys: [GLOBEX] },
      ],
      configure: (config) => {
        config.servers.push({ id: 'ask', transport: 'http', url: asker.url, protocol: MODERN, timeoutMs: 10_000, toolPolicies: { confirm_delete: { taskSupport: 'optional' } } });
        config.servers.push({ id: 'old', transport: 'http', url: old.url, protocol: 'legacy', timeoutMs: 20_000 });
        // Every gateway signs the broker's requestState with a key derived from this one.
        config.gateway = { ...(config.gateway as object), sessions: { key: 'input-relay-test-session-key-0123456789' } };
      },
    }).start();
    await stack.waitForReady();
  });

  after(async () => {
    await stack?.stop();
    await asker.stop();
    await old.stop();
  });

  it('keeps the call waiting while the client is away and the worker dies, and takes the answer at another gateway', async () => {
    const first = asked(await call(ACME, { name: 'ask.test_input_required_result_elicitation', arguments: {} }));
    assert.deepEqual(Object.keys(first.requests), ['user_name']);
    assert.equal(first.requests.user_name?.method, 'elicitation/create');
    // The broker's state is its own: the server's requestState (none here) never reaches the client.
    assert.ok(!first.state.includes('round'), 'an opaque, signed state');

    await stack.kill('worker');
    await stack.startWorker();
    const extra = await stack.startExtraGateway();
    try {
      const done = resultOf(await call(ACME, { name: 'ask.test_input_required_result_elicitation', arguments: {}, inputResponses: { user_name: accept({ name: 'Ada' }) }, requestState: first.state }, ELICITATION, extra.url));
      assert.equal(textOfResult(done), 'Hello, Ada!');
    } finally {
      extra.process.kill('SIGKILL');
    }
  });

  it('runs the rounds a server asks for in order, and a stale round’s answer gets the current question', async () => {
    const name = 'ask.test_input_required_result_multi_round';
    const one = asked(await call(ACME, { name, arguments: {} }));
    assert.deepEqual(Object.keys(one.requests), ['step1']);
    const two = asked(await call(ACME, { name, arguments: {}, inputResponses: { step1: accept({ name: 'Ada' }) }, requestState: one.state }));
    assert.deepEqual(Object.keys(two.requests), ['step2']);
    // Round 1's answer again (a client retrying a lost answer): the call is past it.
    const again = asked(await call(ACME, { name, arguments: {}, inputResponses: { step1: accept({ name: 'Eve' }) }, requestState: one.state }));
    assert.deepEqual(Object.keys(again.requests), ['step2']);
    const done = resultOf(await call(ACME, { name, arguments: {}, inputResponses: { step2: accept({ color: 'blue' }) }, requestState: two.state }));
    assert.equal(textOfResult(done), 'Done: blue');
  });

  it('refuses a tampered state, another tenant’s state and a state for another tool, with -32602 and nothing of the call', async () => {
    const name = 'ask.test_input_required_result_elicitation';
    const { state } = asked(await call(ACME, { name, arguments: {} }));
    const answer = { user_name: accept({ name: 'Mallory' }) };
    const tampered = `${state.slice(0, -4)}${state.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    for (const [key, params] of [
      [ACME, { name, arguments: {}, inputResponses: answer, requestState: tampered }],
      [GLOBEX, { name, arguments: {}, inputResponses: answer, requestState: state }],
      [ACME, { name: 'ask.confirm_delete', arguments: {}, inputResponses: answer, requestState: state }],
    ] as const) {
      const refused = await call(key, params);
      assert.equal(refused.error?.code, -32602, `refused: ${JSON.stringify(refused)}`);
      assert.ok(!JSON.stringify(refused.error).includes('Mallory'));
    }
    // The call still waits for its rightful answer.
    const done = resultOf(await call(ACME, { name, arguments: {}, inputResponses: { user_name: accept({ name: 'Ada' }) }, requestState: state }));
    assert.equal(textOfResult(done), 'Hello, Ada!');
  });

  it('ends a call whose deadline passes while it waits for input as deadline_exceeded', async () => {
    const name = 'ask.test_input_required_result_elicitation';
    const { state } = asked(await call(ACME, { name, arguments: {} }, { ...ELICITATION, 'switchyard/deadline_ms': 2_000 }));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const late = resultOf(await call(ACME, { name, arguments: {}, inputResponses: { user_name: accept({ name: 'Ada' }) }, requestState: state }));
    assert.equal(late.isError, true);
    assert.match(textOfResult(late) ?? '', /deadline.*waiting for input from the client/);
    assert.equal((late._meta as Record<string, unknown>)['switchyard/status'], 'deadline_exceeded');
  });

  it('shows a task waiting as input_required, and takes its answers through tasks/update', async () => {
    const created = resultOf(await call(ACME, { name: 'ask.confirm_delete', arguments: { filename: 'report.pdf' } }, TASKS));
    assert.equal(created.resultType, 'task');
    const taskId = created.taskId as string;
    let task: Record<string, unknown> = {};
    for (let i = 0; i < 50 && task.status !== 'input_required'; i++) {
      task = resultOf(await send(stack.mcpUrl, ACME, 'tasks/get', { taskId }, TASKS));
      if (task.status !== 'input_required') await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(task.status, 'input_required');
    assert.deepEqual(Object.keys(task.inputRequests as object), ['confirm']);
    // Another tenant cannot answer it.
    assert.equal((await send(stack.mcpUrl, GLOBEX, 'tasks/update', { taskId, inputResponses: { confirm: accept({ confirm: true }) } }, TASKS)).error?.code, -32602);

    resultOf(await send(stack.mcpUrl, ACME, 'tasks/update', { taskId, inputResponses: { confirm: accept({ confirm: true }) } }, TASKS));
    for (let i = 0; i < 50 && task.status !== 'completed'; i++) {
      task = resultOf(await send(stack.mcpUrl, ACME, 'tasks/get', { taskId }, TASKS));
      if (task.status !== 'completed') await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(task.status, 'completed');
    assert.equal(textOfResult(task.result as Record<string, unknown>), 'Deleted report.pdf');
  });

  it('asks a 2025 client on its call’s stream what its server asks, and one that declared no sampling gets -32021', async () => {
    const client = new LegacyClient({ name: 'legacy-elicitation', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: { name: 'Grace' } };
    });
    await client.connect(new LegacyTransport(new URL(stack.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${ACME}` } } }));
    const plain = await stack.client({ authorization: `Bearer ${ACME}` });
    try {
      const result = await client.callTool({ name: 'ask.test_input_required_result_elicitation', arguments: {} });
      assert.equal(textOf(result), 'Hello, Grace!');
      assert.deepEqual(asked, ['What is your name?']);

      // A client that declared no sampling: the server refuses at once (-32021, naming what it
      // needs), rather than leave a call waiting for an answer that cannot come.
      const refused = await plain.callTool({ name: 'ask.test_input_required_result_sampling', arguments: {} }).then(
        () => assert.fail('refused'),
        (error: { code?: number; data?: Record<string, unknown> }) => error,
      );
      assert.equal(refused.code, -32021);
      assert.ok((refused.data?.requiredCapabilities as Record<string, unknown> | undefined)?.sampling !== undefined);
    } finally {
      await client.close();
      await plain.close();
    }
  });

  it('relays a prompt’s input request (prompts/get, not a durable call) and refuses a tool call’s state there', async () => {
    const name = 'ask.test_input_required_result_prompt';
    const first = asked(await send(stack.mcpUrl, ACME, 'prompts/get', { name }, ELICITATION));
    assert.deepEqual(Object.keys(first.requests), ['user_context']);
    const done = resultOf(await send(stack.mcpUrl, ACME, 'prompts/get', { name, inputResponses: { user_context: accept({ context: 'on-call' }) }, requestState: first.state }, ELICITATION));
    assert.equal(((done.messages as Array<{ content: { text: string } }>)[0])?.content.text, 'Use this context: on-call');

    // A tool call's state is no prompt's, and a prompt's is no tool call's.
    const tool = asked(await call(ACME, { name: 'ask.test_input_required_result_elicitation', arguments: {} }));
    assert.equal((await send(stack.mcpUrl, ACME, 'prompts/get', { name, inputResponses: {}, requestState: tool.state }, ELICITATION)).error?.code, -32602);
    assert.equal((await call(ACME, { name: 'ask.test_input_required_result_elicitation', arguments: {}, inputResponses: {}, requestState: first.state })).error?.code, -32602);
  });

  describe('a 2025 server, which asks on the call’s open request', () => {
    const question = { name: 'old.test_elicitation', arguments: { message: 'Who deploys?' } };

    it('relays its elicitation to a 2026-07-28 client as input_required, and the answer back on the same request', async () => {
      const first = asked(await call(ACME, question));
      const [key] = Object.keys(first.requests);
      assert.equal(first.requests[key!]?.method, 'elicitation/create');
      assert.equal(first.requests[key!]?.params.message, 'Who deploys?');
      const done = resultOf(await call(ACME, { ...question, inputResponses: { [key!]: accept({ username: 'ada', email: 'ada@example.com' }) }, requestState: first.state }));
      assert.equal(textOfResult(done), 'Client response: {"action":"accept","content":{"username":"ada","email":"ada@example.com"}}');
    });

    it('relays elicitation and sampling to a 2025 client on its call’s stream, and declines for a client without elicitation', async () => {
      const client = new LegacyClient({ name: 'legacy-both', version: '1.0.0' }, { capabilities: { elicitation: {}, sampling: {} } });
      client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { username: 'grace', email: 'grace@example.com' } }));
      client.setRequestHandler(CreateMessageRequestSchema, (request) => ({
        model: 'test-model',
        role: 'assistant',
        content: { type: 'text', text: `echo: ${(request.params.messages[0]?.content as { text: string }).text}` },
      }));
      await client.connect(new LegacyTransport(new URL(stack.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${ACME}` } } }));
      const plain = await stack.client({ authorization: `Bearer ${ACME}` });
      try {
        assert.match(textOf(await client.callTool(question)), /"username":"grace"/);
        assert.match(textOf(await client.callTool({ name: 'old.test_sampling', arguments: { prompt: 'hello' } })), /"text":"echo: hello"/);
        assert.equal(textOf(await plain.callTool(question)), 'Client response: {"action":"decline"}');
      } finally {
        await client.close();
        await plain.close();
      }
    });

    it('says the request was lost when the worker holding it dies before the answer, and dead-letters the call', async () => {
      const first = asked(await call(ACME, question));
      const [key] = Object.keys(first.requests);
      await stack.kill('worker');
      await stack.startWorker();
      const late = resultOf(await call(ACME, { ...question, inputResponses: { [key!]: accept({ username: 'ada', email: 'ada@example.com' }) }, requestState: first.state }));
      assert.equal(late.isError, true);
      assert.match(textOfResult(late) ?? '', /request that waited for this input was lost/);
      assert.equal((late._meta as Record<string, unknown>)['switchyard/status'], 'dead_lettered');
    });
  });
});
