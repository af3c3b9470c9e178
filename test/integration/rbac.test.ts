// Per-tool RBAC (auth.policy; docs/security.md, "RBAC policy") through the real stack: a Temporal
// dev server, the worker and the gateway as processes, the fixture server and the conformance
// server over Streamable HTTP, and real MCP clients of both protocol eras. Principals are named
// API keys of one tenant: a reader (read-only tools by mutation class), a writer (a glob rule),
// two admin keys (the broker's dead-letter tools, one of them denied the redrive); and service
// tokens of oidc-provider whose groups and roles claims pick their rules. Then a dead
// letter whose caller loses its right: the worker, restarted with the new policy, refuses the
// redrive and the downstream server never sees the call again.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { parse, stringify } from 'yaml';
import { AuthServer } from '../support/auth-server.js';
import { ConformanceServer } from '../support/conformance-server.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';

const READER = 'reader-key-0123456789abcdef';
const WRITER = 'writer-key-0123456789abcdef';
const OPS = 'ops-admin-key-0123456789abcdef';
const AUDITOR = 'auditor-admin-key-0123456789ab';
const ACCESS_DENIED = -32003;

const rules = (writerTools: string[]) => [
  {
    name: 'readers',
    principals: { apiKeys: ['reader'] },
    allow: { mutations: ['read_only'], broker: ['get_call'], prompts: ['conf.test_simple_*'], resources: ['conf.test://static-*'] },
  },
  { name: 'writers', principals: { apiKeys: ['writer'] }, allow: { tools: writerTools, broker: ['get_call'], prompts: ['*'], resources: ['*'] } },
  { name: 'operators', principals: { admin: true }, allow: { broker: ['dlq_*', 'get_call'] } },
  { name: 'auditors', principals: { apiKeys: ['auditor'] }, deny: { broker: ['dlq_redrive', 'dlq_discard'] } },
  // OAuth principals, by the groups and roles claims of their tokens.
  { name: 'engineers', principals: { groups: ['eng'] }, allow: { tools: ['fixture.steps'] } },
  { name: 'releasers', principals: { tenants: ['acme'], roles: ['releaser'] }, allow: { tools: ['fixture.record'] } },
];

async function rejection(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof McpError || (error instanceof Error && 'code' in error), `expected an MCP error, got ${String(error)}`);
    return error as unknown as { code: number; message: string };
  }
  assert.fail('expected the request to be refused');
}

describe('RBAC policy', { timeout: 300_000 }, () => {
  const conformance = new ConformanceServer();
  // A real authorization server: service tokens whose groups and roles claims the rules match.
  const resources: Record<string, string> = {};
  const claims: Record<string, Record<string, unknown>> = { 'svc-eng': { groups: ['eng'], roles: ['releaser'] }, 'svc-plain': { groups: ['sales'] } };
  const as = new AuthServer({
    resources,
    tenantOf: () => 'acme',
    claimsOf: (who) => claims[who] ?? {},
    clients: [
      { clientId: 'svc-eng', secret: 'svc-eng-secret-0123456789' },
      { clientId: 'svc-plain', secret: 'svc-plain-secret-0123456789' },
    ],
  });
  const stack = new Stack({
    withEverything: false,
    syncWaitMs: 500,
    tenants: [{ id: 'acme', apiKeys: [] }],
    configure: (config) => {
      const tenant = (config.tenants as Array<Record<string, unknown>>)[0]!;
      tenant.apiKeys = [
        { name: 'reader', key: READER },
        { name: 'writer', key: WRITER },
      ];
      tenant.adminApiKeys = [
        { name: 'ops', key: OPS },
        { name: 'auditor', key: AUDITOR },
      ];
      // The fixture again with a 1 s request timeout: a hanging non-idempotent call is dead-lettered outcome_unknown.
      config.servers.push({ id: 'short', transport: 'http', url: config.servers.find((s) => s.id === 'fixture')!.url, timeoutMs: 1_000 });
      config.servers.push({ id: 'conf', transport: 'http', url: conformance.url, timeoutMs: 10_000 });
      const mcpUrl = `http://127.0.0.1:${(config.gateway as { port: number }).port}/mcp`;
      resources[mcpUrl] = 'mcp';
      config.auth = {
        oauth: { issuer: as.issuer, resource: mcpUrl, claims: { tenantFixed: 'acme', groups: 'groups', roles: 'roles' } },
        policy: { rules: rules(['*.apply', 'fixture.echo']) },
      };
    },
  });
  const clients: Array<{ close(): Promise<void> }> = [];
  const legacy = async (key: string): Promise<Client> => {
    const client = await stack.client({ authorization: `Bearer ${key}` });
    clients.push(client);
    return client;
  };
  const modern = async (key: string): Promise<ModernClient> => {
    const client = new ModernClient({ name: 'rbac-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new ModernTransport(new URL(stack.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    assert.equal(client.getProtocolEra(), 'modern');
    clients.push(client);
    return client;
  };
  const call = (client: Client, name: string, args: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) =>
    client.callTool({ name, arguments: args, _meta: meta }, CallToolResultSchema, { timeout: 60_000 });
  const applied = (key: string) => stack.fixture.executionsOf('apply').filter((e) => e.args.key === key).length;

  before(async () => {
    await as.start();
    await conformance.start();
    await stack.start();
    await stack.waitForReady();
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await stack.stop();
    await conformance.stop();
    await as.stop();
  });

  it('two principals see different tools/list, in both protocol eras: a mutation-class rule and a glob rule', async () => {
    const writerTools = ['fixture.echo', 'fixture.apply', 'short.apply', 'switchyard.get_call'];
    for (const client of [await legacy(WRITER), await modern(WRITER)]) {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), writerTools);
    }
    for (const client of [await legacy(READER), await modern(READER)]) {
      const names = (await client.listTools()).tools.map((t) => t.name);
      // read_only by annotation (no toolPolicies here): echo, fail_read, big, rpc_error, steps; slow and record are idempotent.
      for (const name of ['fixture.echo', 'fixture.fail_read', 'fixture.steps', 'short.echo', 'switchyard.get_call']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
      for (const name of ['fixture.apply', 'fixture.add', 'fixture.slow', 'fixture.record', 'switchyard.submit', 'switchyard.dlq_list']) assert.ok(!names.includes(name), `${name} not listed`);
    }
  });

  it("OAuth principals: the groups and roles claims of a real token pick the rules", async () => {
    const eng = await legacy(await as.serviceToken('svc-eng', stack.mcpUrl, 'mcp'));
    assert.deepEqual((await eng.listTools()).tools.map((t) => t.name), ['fixture.record', 'fixture.steps']);
    assert.equal(textOf(await call(eng, 'fixture.record', { key: 'rbac-oauth', step: 1 })), 'rbac-oauth#1');
    const plain = await modern(await as.serviceToken('svc-plain', stack.mcpUrl, 'mcp'));
    assert.deepEqual((await plain.listTools()).tools, [], 'no rule matches group sales');
    const refused = await rejection(plain.callTool({ name: 'fixture.record', arguments: { key: 'rbac-oauth-refused', step: 1 } }));
    assert.equal(refused.code, ACCESS_DENIED);
    assert.equal(stack.fixture.executionsOf('record').filter((e) => e.args.key === 'rbac-oauth-refused').length, 0);
  });

  it('prompts/list and resources/list show only what the principal may use; prompts/get and resources/read outside it are refused', async () => {
    const reader = await legacy(READER);
    assert.deepEqual((await reader.listPrompts()).prompts.map((p) => p.name), ['conf.test_simple_prompt']);
    assert.deepEqual((await reader.listResources()).resources.map((r) => r.uri), ['test://static-text', 'test://static-binary']);
    assert.equal((await reader.readResource({ uri: 'test://static-text' })).contents.length, 1);
    const read = await rejection(reader.readResource({ uri: 'test://watched-resource' }));
    assert.equal(read.code, ACCESS_DENIED);
    assert.equal(read.message, 'MCP error -32003: Access denied: this caller may not use the resource test://watched-resource (access policy)');
    const prompt = await rejection(reader.getPrompt({ name: 'conf.test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } }));
    assert.equal(prompt.code, ACCESS_DENIED);
    const modernReader = await modern(READER);
    assert.deepEqual((await modernReader.listPrompts()).prompts.map((p) => p.name), ['conf.test_simple_prompt']);
    assert.equal((await rejection(modernReader.readResource({ uri: 'test://watched-resource' }))).code, ACCESS_DENIED);
    const writer = await legacy(WRITER);
    assert.equal((await writer.listPrompts()).prompts.length, 4);
    assert.equal((await writer.listResources()).resources.length, 3);
  });

  it('a call outside the policy gets -32003 naming the tool, in both eras, and never reaches the downstream server', async () => {
    const reader = await legacy(READER);
    const refused = await rejection(call(reader, 'fixture.apply', { key: 'reader-refused' }));
    assert.equal(refused.code, ACCESS_DENIED);
    assert.equal(refused.message, 'MCP error -32003: Access denied: this caller may not use the tool fixture.apply (access policy)');
    // Through switchyard.submit it is the same tool: the reader may not use submit at all.
    assert.equal((await rejection(call(reader, 'switchyard.submit', { tool: 'fixture.apply', arguments: { key: 'reader-refused' } }))).code, ACCESS_DENIED);
    const modernReader = await modern(READER);
    const modernRefused = await rejection(modernReader.callTool({ name: 'fixture.apply', arguments: { key: 'reader-refused' } }));
    assert.equal(modernRefused.code, ACCESS_DENIED);
    assert.match(modernRefused.message, /fixture\.apply/);
    assert.equal(applied('reader-refused'), 0, 'the refused calls never reached the fixture');
    // The refusal says nothing of the policy: no rule, no key name, no group.
    assert.doesNotMatch(refused.message, /readers|writers|reader|mutation|read_only/);
    assert.match(stack.logs(), /request refused by the access policy .*method="tools\/call" kind="tool" name="fixture.apply"/);

    // Allowed, the same call runs: read_only tools for the reader, the glob for the writer.
    assert.equal(textOf(await call(reader, 'fixture.echo', { message: 'hi' })), 'hi');
    const writer = await legacy(WRITER);
    assert.equal(textOf(await call(writer, 'fixture.apply', { key: 'writer-ok' })), 'applied writer-ok');
    assert.equal(applied('writer-ok'), 1);
    assert.equal((await rejection(call(writer, 'fixture.add', { a: 1, b: 2 }))).code, ACCESS_DENIED, 'fixture.add matches neither *.apply nor fixture.echo');
  });

  it("an admin-tool rule: both admin keys may list dead letters, the auditor's redrive is refused", async () => {
    for (const key of [OPS, AUDITOR]) {
      const listed = await call(await legacy(key), 'switchyard.dlq_list');
      assert.notEqual(listed.isError, true, textOf(listed));
    }
    const auditor = await legacy(AUDITOR);
    const names = (await auditor.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('switchyard.dlq_list') && !names.includes('switchyard.dlq_redrive'), names.join(', '));
    const redrive = await rejection(call(auditor, 'switchyard.dlq_redrive', { correlation_id: '01900000-0000-7000-8000-000000000000' }));
    assert.equal(redrive.code, ACCESS_DENIED);
    assert.match(redrive.message, /switchyard\.dlq_redrive/);
    // Without an allow for the broker's tools, a plain key gets none of them.
    assert.equal((await rejection(call(await legacy(WRITER), 'switchyard.dlq_list'))).code, ACCESS_DENIED);
  });

  it('the worker checks the policy again before a redrive: a revoked right stops the redriven call', async () => {
    const writer = await legacy(WRITER);
    stack.fixture.hangApply = true;
    let deadId = '';
    try {
      const dead = await call(writer, 'short.apply', { key: 'writer-dead' }, { 'switchyard/accept_async': false });
      assert.equal(dead._meta?.['switchyard/status'], 'dead_lettered', textOf(dead));
      deadId = correlationIdOf(dead);
    } finally {
      stack.fixture.hangApply = false;
    }
    assert.equal(applied('writer-dead'), 1);

    // The writer loses *.apply in the config the worker reads; the gateway keeps the old one.
    const restartWorker = async (writerTools: string[]) => {
      const config = parse(readFileSync(stack.configPath, 'utf8')) as { auth: { policy: { rules: unknown } } };
      config.auth.policy.rules = rules(writerTools);
      writeFileSync(stack.configPath, stringify(config));
      await stack.kill('worker');
      await stack.startWorker();
    };
    await restartWorker(['fixture.echo']);
    const ops = await legacy(OPS);
    const refused = await call(ops, 'switchyard.dlq_redrive', { correlation_id: deadId });
    assert.equal(refused.isError, true, textOf(refused));
    assert.equal(refused._meta?.['switchyard/status'], 'access_denied');
    assert.match(textOf(refused), /^short\.apply was not run again: the access policy no longer lets the caller that made this call use it/);
    assert.equal(applied('writer-dead'), 1, 'the redrive never reached the downstream server');
    const shown = await call(ops, 'switchyard.dlq_show', { correlation_id: deadId });
    const status = shown.structuredContent as { state: string; actions: Array<{ action: string; outcome?: string }> };
    assert.equal(status.state, 'pending');
    assert.deepEqual(status.actions.map((a) => [a.action, a.outcome]), [['redrive', 'refused']]);
    assert.match(stack.logs(), /\[worker\].*redrive refused by the access policy .*name="short.apply"/);

    // The right restored, the same dead letter redrives and runs.
    await restartWorker(['*.apply', 'fixture.echo']);
    const redriven = await call(ops, 'switchyard.dlq_redrive', { correlation_id: deadId });
    assert.notEqual(redriven.isError, true, textOf(redriven));
    assert.equal((redriven.structuredContent as { state: string }).state, 'redriven');
    assert.equal(applied('writer-dead'), 2);
  });
});
