// The RBAC policy (src/shared/policy.ts), one rule kind at a time: tool globs, mutation classes,
// prompts, resources, broker tools, each way of matching a principal, deny over allow, and no
// policy at all. Then the gateway's side (src/gateway/access.ts): tools/list filtered per caller
// with paging over the filtered list, and a refused call that ends in -32003 through the one
// refusal path before anything is sent to Temporal (the services point at an unreachable one, so
// a call that got past the check would be -32005 instead).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ConfigSchema, keySettings, type Config } from '../../src/config/schema.js';
import { GatewayAccess, type Refusal } from '../../src/gateway/access.js';
import { apiKeyPrincipals } from '../../src/gateway/auth/api-keys.js';
import { principalFromClaims } from '../../src/gateway/auth/claims.js';
import type { Principal } from '../../src/gateway/auth/principal.js';
import { BROKER_TOOLS } from '../../src/gateway/broker-tools/index.js';
import { ToolCatalog } from '../../src/gateway/catalog.js';
import { callTool, listTools, type HandlerDeps } from '../../src/gateway/handlers.js';
import { ACCESS_DENIED, JsonRpcError } from '../../src/gateway/jsonrpc.js';
import { createLogger } from '../../src/observability/log.js';
import { CallService } from '../../src/services/call-service.js';
import { DeadLetterService } from '../../src/services/dead-letters.js';
import { SagaService } from '../../src/services/sagas.js';
import { AccessPolicy, BROKER_TOOL_NAMES, rightsOf, type AccessTarget, type PolicyConfig, type PolicyIdentity } from '../../src/shared/policy.js';

const alice: PolicyIdentity = { tenant: 'acme', subject: 'oauth:alice@example.com', groups: ['eng'], roles: ['reader'] };
const bot: PolicyIdentity = { tenant: 'acme', subject: 'apikey:0123456789ab', keyName: 'ci-bot' };
const tool = (server: string, name: string, mutation: 'read_only' | 'idempotent' | 'non_idempotent' = 'non_idempotent'): AccessTarget => ({ kind: 'tool', server, name, mutation });
const allows = (config: PolicyConfig, who: PolicyIdentity, target: AccessTarget) => new AccessPolicy(config).rightsOf(who).allows(target);

describe('policy rules', () => {
  it('no policy: everything is allowed', () => {
    const rights = rightsOf(undefined, bot);
    for (const target of [tool('github', 'delete_repo'), { kind: 'broker', name: 'dlq_redrive' } as const, { kind: 'prompt', server: 'docs', name: 'x' } as const]) assert.equal(rights.allows(target), true);
  });

  it('tool globs: <server>.<tool>, the server and the name matched apart, * for everything', () => {
    const config = { rules: [{ allow: { tools: ['github.search_*', '*.get_issue'] } }] };
    assert.equal(allows(config, bot, tool('github', 'search_code')), true);
    assert.equal(allows(config, bot, tool('gitlab', 'get_issue')), true);
    assert.equal(allows(config, bot, tool('github', 'delete_repo')), false);
    // A name with dots in it: `*.get_issue` does not reach across the server's dot.
    assert.equal(allows(config, bot, tool('a', 'b.get_issue')), false);
    assert.equal(allows({ rules: [{ allow: { tools: ['*'] } }] }, bot, tool('any', 'thing')), true);
    assert.equal(allows({ rules: [{ allow: { tools: ['github.*'] } }] }, bot, tool('github', 'nested/name.x')), true);
  });

  it('no matching allow is a refusal; deny wins over allow whatever the order of the rules', () => {
    assert.equal(allows({ rules: [{ allow: { prompts: ['*'] } }] }, bot, tool('github', 'search')), false);
    const denyFirst = { rules: [{ deny: { tools: ['github.delete_*'] } }, { allow: { tools: ['github.*'] } }] };
    const denyLast = { rules: [{ allow: { tools: ['github.*'] } }, { deny: { tools: ['github.delete_*'] } }] };
    for (const config of [denyFirst, denyLast]) {
      assert.equal(allows(config, bot, tool('github', 'delete_repo')), false);
      assert.equal(allows(config, bot, tool('github', 'search')), true);
    }
    // A deny of a rule that does not match the principal does not apply to it.
    assert.equal(allows({ rules: [{ allow: { tools: ['*'] } }, { principals: { apiKeys: ['other'] }, deny: { tools: ['*'] } }] }, bot, tool('github', 'x')), true);
  });

  it('mutation classes: alone they cover every tool of the class; with tools, both must match; deny by class', () => {
    const readers = { rules: [{ allow: { mutations: ['read_only' as const] } }] };
    assert.equal(allows(readers, bot, tool('github', 'search', 'read_only')), true);
    assert.equal(allows(readers, bot, tool('github', 'search', 'idempotent')), false);
    const both = { rules: [{ allow: { tools: ['github.*'], mutations: ['read_only' as const, 'idempotent' as const] } }] };
    assert.equal(allows(both, bot, tool('github', 'label', 'idempotent')), true);
    assert.equal(allows(both, bot, tool('gitlab', 'label', 'idempotent')), false);
    assert.equal(allows(both, bot, tool('github', 'merge', 'non_idempotent')), false);
    const noWrites = { rules: [{ allow: { tools: ['*'] } }, { deny: { mutations: ['non_idempotent' as const] } }] };
    assert.equal(allows(noWrites, bot, tool('github', 'merge', 'non_idempotent')), false);
    assert.equal(allows(noWrites, bot, tool('github', 'search', 'read_only')), true);
  });

  it('prompts and resources: <server>.<name> and <server>.<uri> globs, each its own kind', () => {
    const config = { rules: [{ allow: { prompts: ['docs.summarize*'], resources: ['docs.file:///public/*'] } }] };
    assert.equal(allows(config, bot, { kind: 'prompt', server: 'docs', name: 'summarize_page' }), true);
    assert.equal(allows(config, bot, { kind: 'prompt', server: 'docs', name: 'delete' }), false);
    assert.equal(allows(config, bot, { kind: 'resource', server: 'docs', uri: 'file:///public/a/b.md' }), true);
    assert.equal(allows(config, bot, { kind: 'resource', server: 'docs', uri: 'file:///private/x' }), false);
    assert.equal(allows(config, bot, { kind: 'resource', server: 'other', uri: 'file:///public/x' }), false);
    // A tool of the same name is not a prompt.
    assert.equal(allows(config, bot, tool('docs', 'summarize_page')), false);
  });

  it('broker tools: globs over their short names, apart from downstream tool globs and mutation classes', () => {
    const config = { rules: [{ allow: { tools: ['*'], mutations: ['read_only' as const, 'idempotent' as const, 'non_idempotent' as const], broker: ['get_call', 'dlq_*'] } }, { deny: { broker: ['dlq_redrive'] } }] };
    assert.equal(allows(config, bot, { kind: 'broker', name: 'get_call' }), true);
    assert.equal(allows(config, bot, { kind: 'broker', name: 'dlq_list' }), true);
    assert.equal(allows(config, bot, { kind: 'broker', name: 'dlq_redrive' }), false);
    assert.equal(allows(config, bot, { kind: 'broker', name: 'submit' }), false);
    assert.equal(allows({ rules: [{ allow: { tools: ['*'] } }] }, bot, { kind: 'broker', name: 'get_call' }), false);
  });

  it('BROKER_TOOL_NAMES (for config checks) is the broker tool registry', () => {
    assert.deepEqual([...BROKER_TOOL_NAMES], BROKER_TOOLS.map((t) => t.name));
  });

  it('principals: tenant, subject glob, group, role, API key name and admin; all given must match, each list is any-of', () => {
    const rule = (principals: Record<string, unknown>) => ({ rules: [{ principals, allow: { tools: ['*'] } }] });
    const target = tool('github', 'x');
    assert.equal(allows(rule({ tenants: ['acme'] }), alice, target), true);
    assert.equal(allows(rule({ tenants: ['globex'] }), alice, target), false);
    assert.equal(allows(rule({ subjects: ['oauth:*@example.com'] }), alice, target), true);
    assert.equal(allows(rule({ subjects: ['oauth:*@example.com'] }), bot, target), false);
    assert.equal(allows(rule({ groups: ['ops', 'eng'] }), alice, target), true);
    assert.equal(allows(rule({ groups: ['ops'] }), alice, target), false);
    assert.equal(allows(rule({ roles: ['reader'] }), alice, target), true);
    assert.equal(allows(rule({ roles: ['writer'] }), alice, target), false);
    assert.equal(allows(rule({ groups: ['eng'] }), bot, target), false, 'a principal without groups matches no group');
    assert.equal(allows(rule({ apiKeys: ['ci-bot'] }), bot, target), true);
    assert.equal(allows(rule({ apiKeys: ['ci-bot'] }), alice, target), false);
    assert.equal(allows(rule({ admin: true }), { ...bot, admin: true }, target), true);
    assert.equal(allows(rule({ admin: true }), bot, target), false);
    assert.equal(allows(rule({ admin: false }), bot, target), true);
    assert.equal(allows(rule({ tenants: ['acme'], groups: ['eng'] }), alice, target), true);
    assert.equal(allows(rule({ tenants: ['acme'], groups: ['ops'] }), alice, target), false);
    assert.equal(allows(rule({}), bot, target), true, 'no principals: everyone');
  });
});

describe('where identities come from', () => {
  it('a named API key gives its name; an unnamed one none', () => {
    const principals = apiKeyPrincipals([{ id: 'acme', apiKeys: [{ name: 'ci-bot', key: 'key-one-0123456789abcdef' }, 'key-two-0123456789abcdef'], adminApiKeys: [] }]);
    assert.equal(principals('Bearer key-one-0123456789abcdef')?.keyName, 'ci-bot');
    assert.equal(principals('Bearer key-two-0123456789abcdef')?.keyName, undefined);
  });

  it('claims.roles fills roles (an array, or one string); claims.groups fills groups', () => {
    const config = ConfigSchema.parse({
      tenants: [{ id: 'acme' }],
      auth: { oauth: { issuer: 'https://idp.example.com', resource: 'https://mcp.example.com/mcp', claims: { tenantFixed: 'acme', groups: 'groups', roles: 'roles' } } },
    });
    const mapped = principalFromClaims({ sub: 'alice', groups: ['eng', 7], roles: 'reader' }, config.auth.oauth!, config.tenants);
    assert.ok(mapped.ok);
    assert.deepEqual(mapped.principal.groups, ['eng']);
    assert.deepEqual(mapped.principal.roles, ['reader']);
  });
});

describe('the gateway: listing and refusing', () => {
  const config: Config = ConfigSchema.parse({
    servers: [{ id: 'fixture', transport: 'stdio', command: 'node', toolPolicies: { wipe: { mutation: 'idempotent' } } }],
    tenants: [{ id: 'acme', apiKeys: [{ name: 'reader', key: 'key-one-0123456789abcdef' }, { name: 'writer', key: 'key-two-0123456789abcdef' }] }],
    gateway: { pageSize: 2 },
    auth: {
      policy: {
        rules: [
          { principals: { apiKeys: ['reader'] }, allow: { mutations: ['read_only'], broker: ['get_call'] } },
          { principals: { apiKeys: ['writer'] }, allow: { tools: ['fixture.*'], broker: ['*'] }, deny: { tools: ['fixture.wipe'] } },
        ],
      },
    },
  });
  const tools: Tool[] = [
    { name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
    { name: 'search', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
    { name: 'apply', inputSchema: { type: 'object' } },
    // Annotated read-only, but the config says idempotent: the config's class counts, as for retries.
    { name: 'wipe', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
  ];
  const connection = { id: 'fixture', listTools: () => tools, knownTools: () => tools, isToolAllowed: () => true };
  const pool = { all: () => [connection], get: (id: string) => (id === 'fixture' ? connection : undefined) } as never;
  const logged: string[] = [];
  const log = createLogger('warn', 'test', (line) => logged.push(line));
  const refusals: Refusal[] = [];
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 200, interceptors: [] }) });
  const deps: HandlerDeps = {
    config,
    catalog: new ToolCatalog(pool, { separator: '.', unprefixed: new Set() }, config.gateway.pageSize, log),
    access: new GatewayAccess(config, { log, onRefusal: (r) => refusals.push(r) }),
    calls: new CallService(temporal, config.temporal.taskQueue, { keys: keySettings(config), updatesPerWorkflow: config.callPath.updatesPerWorkflow }),
    deadLetters: new DeadLetterService(temporal),
    sagas: new SagaService(temporal, config.temporal.taskQueue),
    log,
  };
  const reader: Principal = { tenant: 'acme', subject: 'apikey:aaaaaaaaaaaa', admin: false, via: 'apikey', keyName: 'reader' };
  const writer: Principal = { tenant: 'acme', subject: 'apikey:bbbbbbbbbbbb', admin: false, via: 'apikey', keyName: 'writer' };
  after(() => temporal.connection.close().catch(() => undefined));

  /** Every page of tools/list for a principal. */
  const listAll = (principal: Principal) => {
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = listTools(deps, cursor, principal);
      assert.ok(page.tools.length > 0, 'no empty page before the end');
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    return { names, pages };
  };

  it('tools/list shows each principal only its tools, and pages count in the filtered list', () => {
    assert.deepEqual(listAll(reader), { names: ['fixture.echo', 'fixture.search', 'switchyard.get_call'], pages: 2 });
    const writerList = listAll(writer);
    assert.deepEqual(writerList.names.slice(0, 3), ['fixture.echo', 'fixture.search', 'fixture.apply']);
    assert.ok(!writerList.names.includes('fixture.wipe'));
    assert.equal(writerList.names.filter((n) => n.startsWith('switchyard.')).length, BROKER_TOOLS.length);
  });

  it('without a policy, tools/list is everything', () => {
    const open: HandlerDeps = { ...deps, access: new GatewayAccess(ConfigSchema.parse({}), { log }) };
    assert.equal(listAll(reader).names.length < tools.length + BROKER_TOOLS.length, true);
    const all: string[] = [];
    let cursor: string | undefined;
    do {
      const page = listTools(open, cursor, reader);
      all.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    assert.equal(all.length, tools.length + BROKER_TOOLS.length);
  });

  it('a call outside the policy is -32003 naming the tool and nothing of the policy, logged and told to onRefusal, before Temporal', async () => {
    refusals.length = 0;
    logged.length = 0;
    const context = (principal: Principal) => ({ principal, headers: {}, signal: new AbortController().signal });
    const cases: Array<[Principal, string]> = [
      [reader, 'fixture.apply'],
      [writer, 'fixture.wipe'],
      [reader, 'switchyard.cancel_call'],
    ];
    for (const [principal, name] of cases) {
      const error = await callTool(deps, { name, arguments: {} }, context(principal)).then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof JsonRpcError, String(error));
      assert.equal(error.code, ACCESS_DENIED);
      assert.equal(error.message, `Access denied: this caller may not use the tool ${name} (access policy)`);
      assert.equal(error.data, undefined);
    }
    assert.deepEqual(
      refusals.map((r) => [r.subject, r.method, r.kind, r.name]),
      [
        [reader.subject, 'tools/call', 'tool', 'fixture.apply'],
        [writer.subject, 'tools/call', 'tool', 'fixture.wipe'],
        [reader.subject, 'tools/call', 'broker', 'switchyard.cancel_call'],
      ],
    );
    assert.equal(logged.filter((l) => l.includes('request refused by the access policy') && l.includes('tenant="acme"')).length, 3);
    // Allowed, it goes on to Temporal, which is unreachable here: -32005, not -32003.
    const passed = await callTool(deps, { name: 'fixture.apply', arguments: {} }, context(writer)).catch((e: unknown) => e);
    assert.ok(passed instanceof JsonRpcError && passed.code !== ACCESS_DENIED, String(passed));
  });

  it('switchyard.submit and run_saga steps are checked as the tool they call', async () => {
    const context = { principal: reader, headers: {}, signal: new AbortController().signal };
    // The reader may not use submit at all; the writer may, but not for fixture.wipe.
    const viaSubmit = await callTool(deps, { name: 'switchyard.submit', arguments: { tool: 'fixture.wipe' } }, { ...context, principal: writer }).catch((e: unknown) => e);
    assert.ok(viaSubmit instanceof JsonRpcError && viaSubmit.code === ACCESS_DENIED && viaSubmit.message.includes('fixture.wipe'), String(viaSubmit));
    const viaSaga = await callTool(deps, { name: 'switchyard.run_saga', arguments: { steps: [{ tool: 'fixture.echo' }, { tool: 'fixture.wipe' }] } }, { ...context, principal: writer }).catch((e: unknown) => e);
    assert.ok(viaSaga instanceof JsonRpcError && viaSaga.code === ACCESS_DENIED && viaSaga.message.includes('fixture.wipe'), String(viaSaga));
  });
});
