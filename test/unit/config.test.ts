// Configuration: schema defaults and refusals (src/config/schema.ts), loading, ${VAR} expansion
// and error reporting (src/config/load.ts), and how the CLI reports a bad config.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatPath, loadConfig, locateConfig, parseConfig } from '../../src/config/load.js';
import { auditStoreLocation, type Config } from '../../src/config/schema.js';
import { DownstreamConnection } from '../../src/downstream/connection.js';
import { createLogger } from '../../src/observability/log.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const stdio = (id: string, extra: Record<string, unknown> = {}) => ({ id, transport: 'stdio', command: 'node', ...extra });

function parse(raw: unknown, env: NodeJS.ProcessEnv = {}): Config {
  return parseConfig({ source: 'test.yaml', raw }, env);
}

/** The ConfigError thrown for `raw`; fails the test when parsing succeeds or throws something else. */
function refuse(raw: unknown, env: NodeJS.ProcessEnv = {}): ConfigError {
  let thrown: unknown;
  try {
    parse(raw, env);
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ConfigError, `expected a ConfigError, got ${thrown === undefined ? 'a parsed config' : String(thrown)}`);
  return thrown;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-config-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, 'utf8');
  return path;
}

describe('built-in demo config', () => {
  it('is used when nothing else is configured, parses, and denies get-env', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const { config, source } = loadConfig(undefined, {}, empty);
    assert.equal(source, 'built-in demo config');
    assert.equal(config.servers.length, 1);
    const server = config.servers[0]!;
    assert.equal(server.id, 'everything');
    assert.equal(server.transport, 'stdio');
    assert.deepEqual(server.tools.deny, ['get-env']);
    const connection = new DownstreamConnection(server, createLogger('silent'));
    assert.equal(connection.isToolAllowed('get-env'), false);
    assert.equal(connection.isToolAllowed('echo'), true);
  });
});

describe('defaults', () => {
  it('fills every section from an empty document', () => {
    const config = parse({});
    assert.equal(config.gateway.host, '127.0.0.1');
    assert.equal(config.gateway.port, 3000);
    assert.equal(config.gateway.toolSeparator, '.');
    assert.equal(config.temporal.address, 'embedded');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.defaults.deadlineMs, 30_000);
    assert.equal(config.defaults.syncWaitMs, 20_000);
    assert.equal(config.defaults.retry.maxAttempts, 5);
    assert.deepEqual(config.servers, []);
    assert.deepEqual(config.tenants, []);
  });

  it('fills server defaults', () => {
    const server = parse({ servers: [stdio('files')] }).servers[0]!;
    assert.equal(server.timeoutMs, 30_000);
    assert.equal(server.unprefixed, false);
    assert.deepEqual(server.tools, { deny: [] });
    assert.ok(server.transport === 'stdio');
    assert.deepEqual(server.args, []);
    assert.deepEqual(server.env, {});
  });

  it('keeps explicit values', () => {
    const config = parse({ gateway: { port: 4000, host: 'localhost' }, defaults: { deadlineMs: 5_000 } });
    assert.equal(config.gateway.port, 4000);
    assert.equal(config.gateway.host, 'localhost');
    assert.equal(config.defaults.deadlineMs, 5_000);
    assert.equal(config.defaults.syncWaitMs, 20_000);
  });
});

describe('gateway.sessions', () => {
  it('defaults to 10000 sessions in all, 1000 per tenant, closed after an idle hour', () => {
    assert.deepEqual(parse({}).gateway.sessions, { max: 10_000, maxPerTenant: 1_000, idleTimeoutMs: 3_600_000, maxAgeMs: 86_400_000 });
    assert.deepEqual(parse({ gateway: { sessions: { maxPerTenant: 5 } } }).gateway.sessions, { max: 10_000, maxPerTenant: 5, idleTimeoutMs: 3_600_000, maxAgeMs: 86_400_000 });
  });

  it('names the key of a bad value or an unknown key', () => {
    assert.match(refuse({ gateway: { sessions: { maxPerTenant: 0 } } }).problems[0]!, /^gateway\.sessions\.maxPerTenant: /);
    assert.match(refuse({ gateway: { sessions: { idleTimeoutMs: 10 } } }).problems[0]!, /^gateway\.sessions\.idleTimeoutMs: /);
    assert.match(refuse({ gateway: { sessions: { key: 'short' } } }).problems[0]!, /^gateway\.sessions\.key: must be at least 32 characters/);
    assert.match(refuse({ gateway: { sessions: { max: 'many' } } }).problems[0]!, /^gateway\.sessions\.max: /);
    assert.deepEqual(refuse({ gateway: { sessions: { perTenant: 3 } } }).problems, ['gateway.sessions: unknown key "perTenant"']);
  });
});

describe('worker threads', () => {
  it('runs workflows on the main thread by default; stack traces need a pool, and the refusal names the key', () => {
    assert.equal(parse({}).worker.workflowThreads, 0);
    assert.equal(parse({ worker: { workflowThreads: 2, workflowStackTraces: true } }).worker.workflowThreads, 2);
    assert.deepEqual(refuse({ worker: { workflowStackTraces: true } }).problems, [
      'worker.workflowThreads: must be 1 or more when worker.workflowStackTraces is on (the stack capture hooks every promise of the thread it runs on)',
    ]);
    assert.match(refuse({ worker: { workflowThreads: -1 } }).problems[0]!, /^worker\.workflowThreads: /);
  });
});

describe('unknown keys and wrong types', () => {
  it('audit: on by default in <temporal.dataDir>/audit.db with digests; a bad store or mode names the key and never echoes a URL', () => {
    const config = parseConfig({ source: 'test', raw: {} }, {});
    assert.deepEqual(auditStoreLocation(config), { kind: 'sqlite', path: '.switchyard/audit.db' });
    assert.equal(config.audit.arguments, 'digest');
    assert.deepEqual(auditStoreLocation(parseConfig({ source: 'test', raw: { audit: { store: 'postgresql://u:p@db/audit' } } }, {})), { kind: 'postgres', url: 'postgresql://u:p@db/audit' });
    assert.equal(auditStoreLocation(parseConfig({ source: 'test', raw: { audit: { enabled: false } } }, {})), undefined);
    const bad = refuse({ audit: { store: 'mysql://user:secret@db/audit' } }).problems;
    assert.deepEqual(bad, ['audit.store: must be a SQLite file path or a postgres:// (postgresql://) URL']);
    assert.deepEqual(refuse({ audit: { arguments: 'all' } }).problems, ['audit.arguments: must be "digest", "redacted" or "full"']);
    assert.deepEqual(refuse({ audit: { redact: ['x'] } }).problems, ['audit: unknown key "redact"']);
  });

  it('refuses an unknown top-level key', () => {
    assert.deepEqual(refuse({ gatewy: {} }).problems, ['(top level): unknown key "gatewy"']);
  });

  it('refuses an unknown nested key, naming its path and the key', () => {
    assert.deepEqual(refuse({ gateway: { prot: 3000 } }).problems, ['gateway: unknown key "prot"']);
  });

  it('refuses an unknown key in a server', () => {
    const { problems } = refuse({ servers: [{ id: 'a', transport: 'stdio', comand: 'node' }] });
    assert.ok(problems.includes('servers[0]: unknown key "comand"'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('servers[0].command: ')), problems.join('\n'));
  });

  it('lists several unknown keys in one problem', () => {
    assert.deepEqual(refuse({ temporal: { adress: 'x', namspace: 'y' } }).problems, ['temporal: unknown keys "adress", "namspace"']);
  });

  it('names the path of a wrong type and does not echo the value', () => {
    const error = refuse({ gateway: { port: 'abc' } });
    assert.equal(error.problems.length, 1);
    assert.match(error.problems[0]!, /^gateway\.port: .*number/);
    assert.ok(!error.message.includes('abc'));
  });

  it('refuses a top level that is not a mapping', () => {
    assert.match(refuse([1, 2]).problems[0]!, /^\(top level\): /);
  });

  it('puts the source and every problem in the message', () => {
    const error = refuse({ gatewy: {}, tenantz: [] });
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.source, 'test.yaml');
    assert.ok(error instanceof Error);
    assert.match(error.message, /^invalid configuration \(test\.yaml\):\n/);
    assert.ok(error.message.includes('  - (top level): unknown keys "gatewy", "tenantz"'), error.message);
  });
});

describe('environment variables', () => {
  it('replaces ${VAR} in any string, nested in arrays and objects', () => {
    const config = parse(
      { servers: [stdio('files', { args: ['--root', '${ROOT_DIR}/data'], env: { TOKEN: '${TOKEN}' } })] },
      { ROOT_DIR: '/srv', TOKEN: 't0k3n' },
    );
    const server = config.servers[0]!;
    assert.ok(server.transport === 'stdio');
    assert.deepEqual(server.args, ['--root', '/srv/data']);
    assert.deepEqual(server.env, { TOKEN: 't0k3n' });
  });

  it('names the path and the variable of a missing ${VAR} and leaks no other env value', () => {
    const env = { PRESENT_SECRET: 'hunter2-present-secret-value', UNRELATED: 'unrelated-env-value-xyz' };
    const error = refuse(
      {
        servers: [
          stdio('a', { env: { SECRET: '${PRESENT_SECRET}' } }),
          { id: 'b', transport: 'http', url: 'https://example.com/mcp', headers: { Authorization: 'Bearer ${MISSING_TOKEN}' } },
        ],
      },
      env,
    );
    assert.deepEqual(error.problems, ['servers[1].headers.Authorization: environment variable MISSING_TOKEN is not set']);
    assert.ok(!error.message.includes(env.PRESENT_SECRET));
    assert.ok(!error.message.includes(env.UNRELATED));
  });

  it('treats an empty variable as missing', () => {
    assert.deepEqual(refuse({ gateway: { host: '${HOST}' } }, { HOST: '' }).problems, ['gateway.host: environment variable HOST is not set']);
  });

  it('reports every missing variable', () => {
    const { problems } = refuse({ servers: [stdio('a', { args: ['${A}', '${B}'] })] });
    assert.deepEqual(problems, ['servers[0].args[0]: environment variable A is not set', 'servers[0].args[1]: environment variable B is not set']);
  });

  it('does not echo a secret that expanded into an invalid value', () => {
    const secret = 'not a host:port s3cr3t';
    const error = refuse({ temporal: { address: '${ADDR}' } }, { ADDR: secret });
    assert.match(error.problems[0]!, /^temporal\.address: /);
    assert.ok(!error.message.includes(secret));
    assert.ok(!error.message.includes('s3cr3t'));
  });

  it('$${ escapes a literal ${', () => {
    const config = parse({ servers: [stdio('a', { args: ['$${NOT_A_VAR}', 'x-${SET}-$${SET}'] })] }, { SET: 'v' });
    const server = config.servers[0]!;
    assert.ok(server.transport === 'stdio');
    assert.deepEqual(server.args, ['${NOT_A_VAR}', 'x-v-${SET}']);
  });
});

describe('server rules', () => {
  it('refuses duplicate server ids naming the second one', () => {
    const { problems } = refuse({ servers: [stdio('files'), stdio('files')] });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^servers\[1\]\.id: duplicate server id "files"/);
  });

  it('reserves the server id "switchyard"', () => {
    const { problems } = refuse({ servers: [stdio('switchyard')] });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^servers\[0\]\.id: .*reserved/);
  });

  it('refuses a server id that contains the tool separator', () => {
    const { problems } = refuse({ gateway: { toolSeparator: '_' }, servers: [stdio('ok-one'), stdio('my_files')] });
    assert.deepEqual(problems, ['servers[1].id: must not contain the tool separator "_"']);
  });

  it('refuses a server id containing a multi-character separator but not its parts', () => {
    assert.deepEqual(refuse({ gateway: { toolSeparator: '__' }, servers: [stdio('a__b')] }).problems, [
      'servers[0].id: must not contain the tool separator "__"',
    ]);
    assert.equal(parse({ gateway: { toolSeparator: '__' }, servers: [stdio('a_b')] }).servers[0]!.id, 'a_b');
  });

  it('refuses an invalid server id', () => {
    assert.match(refuse({ servers: [stdio('-bad')] }).problems[0]!, /^servers\[0\]\.id: must be 1-63 characters/);
  });

  it('gives a clear message for an invalid transport', () => {
    assert.deepEqual(refuse({ servers: [stdio('a', { transport: 'sse' })] }).problems, ['servers[0].transport: transport must be "stdio" or "http"']);
  });

  it('gives the same message for a missing transport', () => {
    assert.deepEqual(refuse({ servers: [{ id: 'a', command: 'node' }] }).problems, ['servers[0].transport: transport must be "stdio" or "http"']);
  });

  it('defaults protocol to auto for http and legacy for stdio, and names the key of a wrong value', () => {
    const [http, local] = parse({ servers: [{ id: 'a', transport: 'http', url: 'https://example.com/mcp' }, stdio('b')] }).servers;
    assert.equal(http!.protocol, 'auto');
    assert.equal(local!.protocol, 'legacy');
    assert.equal(parse({ servers: [stdio('a', { protocol: '2026-07-28' })] }).servers[0]!.protocol, '2026-07-28');
    assert.deepEqual(refuse({ servers: [stdio('a', { protocol: '2025-11-25' })] }).problems, ['servers[0].protocol: must be "auto", "legacy" or "2026-07-28"']);
  });

  it('refuses an http server with a non-http url', () => {
    for (const url of ['ftp://example.com/mcp', 'file:///etc/passwd', 'not a url']) {
      assert.deepEqual(refuse({ servers: [{ id: 'a', transport: 'http', url }] }).problems, ['servers[0].url: must be an http:// or https:// URL'], url);
    }
    const server = parse({ servers: [{ id: 'a', transport: 'http', url: 'https://example.com/mcp' }] }).servers[0]!;
    assert.ok(server.transport === 'http');
    assert.equal(server.url, 'https://example.com/mcp');
  });

  it('refuses unprefixed beside a prefixed server, and allows it on one server or on every server', () => {
    assert.equal(parse({ servers: [stdio('a', { unprefixed: true }), stdio('b', { unprefixed: true })] }).servers.every((s) => s.unprefixed), true);
    assert.deepEqual(refuse({ servers: [stdio('a'), stdio('b', { unprefixed: true })] }).problems, [
      'servers[1].unprefixed: only allowed when every configured server is unprefixed',
    ]);
    assert.equal(parse({ servers: [stdio('a', { unprefixed: true })] }).servers[0]!.unprefixed, true);
  });
});

describe('tenants and binding', () => {
  const key1 = 'key-one-0123456789abcdef';
  const key2 = 'key-two-0123456789abcdef';

  it('reserves the tenant id "default"', () => {
    const { problems } = refuse({ tenants: [{ id: 'default', apiKeys: [key1] }] });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^tenants: .*"default".*reserved/);
  });

  it('refuses a non-loopback gateway.host without tenants', () => {
    const { problems } = refuse({ gateway: { host: '0.0.0.0' } });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^tenants: at least one tenant/);
    assert.ok(problems[0]!.includes('0.0.0.0'));
  });

  it('allows a non-loopback gateway.host with tenants', () => {
    const config = parse({ gateway: { host: '0.0.0.0' }, tenants: [{ id: 'acme', apiKeys: [key1] }] });
    assert.equal(config.tenants[0]!.id, 'acme');
  });

  it('allows loopback hosts without tenants', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) {
      assert.equal(parse({ gateway: { host } }).gateway.host, host);
    }
  });

  it('refuses an API key used by two tenants without printing the key', () => {
    const error = refuse({ gateway: { host: '0.0.0.0' }, tenants: [{ id: 'acme', apiKeys: [key1] }, { id: 'globex', apiKeys: [key2, key1] }] });
    assert.deepEqual(error.problems, ['tenants[1].apiKeys[1]: API key is already used by tenant "acme"']);
    assert.ok(!error.message.includes(key1));
  });

  it('refuses duplicate tenant ids', () => {
    const { problems } = refuse({ tenants: [{ id: 'acme', apiKeys: [key1] }, { id: 'acme', apiKeys: [key2] }] });
    assert.deepEqual(problems, ['tenants[1].id: duplicate tenant id "acme"']);
  });

  it('refuses short API keys without printing them', () => {
    const short = 'short-k3y';
    const error = refuse({ tenants: [{ id: 'acme', apiKeys: [short] }] });
    assert.deepEqual(error.problems, ['tenants[0].apiKeys[0]: API keys must be at least 16 characters']);
    assert.ok(!error.message.includes(short));
  });

  it('requires at least one API key per tenant unless auth.oauth is set', () => {
    assert.deepEqual(refuse({ tenants: [{ id: 'acme', apiKeys: [] }] }).problems, ['tenants[0].apiKeys: at least one API key is required unless auth.oauth is configured']);
  });
});

describe('auth.oauth', () => {
  const key1 = 'key-one-0123456789abcdef';
  const oauth = (extra: Record<string, unknown> = {}) => ({
    issuer: 'https://idp.example.com/realms/acme',
    resource: 'https://mcp.example.com/mcp',
    claims: { tenant: 'tenant' },
    ...extra,
  });

  it('fills defaults: audience from resource at check time, asymmetric algorithms, 30 s skew, sub and client_id/azp', () => {
    const config = parse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth() } });
    const o = config.auth.oauth!;
    assert.equal(o.audience, undefined);
    assert.deepEqual(o.algorithms, ['RS256', 'PS256', 'ES256', 'EdDSA']);
    assert.equal(o.clockToleranceSec, 30);
    assert.equal(o.claims.subject, 'sub');
    assert.deepEqual(o.claims.clientId, ['client_id', 'azp']);
    assert.deepEqual(o.requiredScopes, []);
    assert.deepEqual(config.tenants[0]!.apiKeys, []);
    assert.equal(parse({}).auth.oauth, undefined);
  });

  it('refuses alg none and HMAC algorithms, naming the index', () => {
    const { problems } = refuse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth({ algorithms: ['RS256', 'none', 'HS256'] }) } });
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^auth\.oauth\.algorithms\[1\]: "none": unsigned and HMAC tokens are never accepted/);
    assert.match(problems[1]!, /^auth\.oauth\.algorithms\[2\]: "HS256": unsigned and HMAC/);
  });

  it('refuses an http issuer or resource that is not loopback, and a resource with a fragment', () => {
    const { problems } = refuse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth({ issuer: 'http://idp.example.com', resource: 'https://mcp.example.com/mcp#x' }) } });
    assert.deepEqual(problems, ['auth.oauth.issuer: must be an https:// URL (http:// only for a loopback host)', 'auth.oauth.resource: must not contain a fragment (RFC 8707)']);
    assert.equal(parse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth({ issuer: 'http://127.0.0.1:4000' }) } }).auth.oauth!.issuer, 'http://127.0.0.1:4000');
  });

  it('needs exactly one of claims.tenant and claims.tenantFixed, and a configured fixed tenant', () => {
    assert.deepEqual(refuse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth({ claims: {} }) } }).problems, [
      'auth.oauth.claims: set exactly one of tenant (a claim naming the tenant) and tenantFixed (one tenant for every token)',
    ]);
    assert.deepEqual(refuse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth({ claims: { tenant: 't', tenantFixed: 'acme' } }) } }).problems, [
      'auth.oauth.claims: set exactly one of tenant (a claim naming the tenant) and tenantFixed (one tenant for every token)',
    ]);
    assert.deepEqual(refuse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth({ claims: { tenantFixed: 'globex' } }) } }).problems, [
      'auth.oauth.claims.tenantFixed: "globex" is not a configured tenant',
    ]);
  });

  it('needs a tenant to map tokens to', () => {
    assert.deepEqual(refuse({ auth: { oauth: oauth() } }).problems, ['tenants: auth.oauth maps tokens to configured tenants: configure at least one tenant']);
  });

  it('refuses an API key shaped like a JWT when OAuth is on, without printing it', () => {
    const jwtLike = 'aaaaaaaa.bbbbbbbb.cccccccc';
    const error = refuse({ tenants: [{ id: 'acme', apiKeys: [key1, jwtLike] }], auth: { oauth: oauth() } });
    assert.deepEqual(error.problems, ['tenants[0].apiKeys[1]: an API key must not look like a JWT (three dot-separated base64url parts) when auth.oauth is set']);
    assert.ok(!error.message.includes(jwtLike));
  });

  it('names unknown keys, out-of-range skew and a missing introspection secret', () => {
    const { problems } = refuse({
      tenants: [{ id: 'acme' }],
      auth: { oauth: oauth({ clockToleranceSec: 900, introspection: { endpoint: 'https://idp.example.com/introspect', clientId: 'switchyard' }, audiences: ['x'] }) },
    });
    assert.ok(problems.some((p) => p.startsWith('auth.oauth: ') && p.includes('audiences')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('auth.oauth.clockToleranceSec: ')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('auth.oauth.introspection.clientSecret: ')), problems.join('\n'));
  });

  it('refuses a required scope with a space or quote (it goes into the challenge header)', () => {
    assert.match(refuse({ tenants: [{ id: 'acme' }], auth: { oauth: oauth({ requiredScopes: ['mcp tools'] }) } }).problems[0]!, /^auth\.oauth\.requiredScopes\[0\]: must be a scope token/);
  });
});

describe('servers[].credentials', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const oauth = { issuer: 'https://idp.example.com', resource: 'https://mcp.example.com/mcp', claims: { tenant: 'tenant' } };
  const exchange = (extra: Record<string, unknown> = {}) => ({
    id: 'crm',
    transport: 'http',
    url: 'https://crm.example.com/mcp',
    credentials: { mode: 'tokenExchange', tokenEndpoint: 'https://idp.example.com/token', clientId: 'switchyard', clientSecret: 's3cret', audience: 'https://crm.example.com', ...extra },
  });
  const problemsOf = (raw: unknown) => refuse(raw).problems;

  it('defaults to static, and accepts a full tokenExchange with auth.oauth and auth.credentialKey', () => {
    const plain = parse({ servers: [{ id: 'a', transport: 'http', url: 'http://127.0.0.1:1/mcp' }] }).servers[0]!;
    assert.deepEqual(plain.transport === 'http' && plain.credentials, { mode: 'static' });
    const config = parse({ tenants: [{ id: 'acme' }], auth: { oauth, credentialKey: key }, servers: [exchange()] });
    const credentials = config.servers[0]!.transport === 'http' ? config.servers[0]!.credentials : undefined;
    assert.equal(credentials?.mode === 'tokenExchange' && credentials.refreshBeforeExpiryMs, 60_000);
    assert.equal(credentials?.mode === 'tokenExchange' && credentials.connectionAuth, 'headers');
  });

  it('names the key when tokenExchange lacks auth.oauth, auth.credentialKey, or an audience', () => {
    const problems = problemsOf({ tenants: [{ id: 'acme', apiKeys: ['key-one-0123456789abcdef'] }], servers: [exchange({ audience: undefined })] });
    assert.ok(problems.some((p) => p.startsWith('servers[0].credentials.mode: tokenExchange exchanges callers')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('auth.credentialKey: required when a server uses tokenExchange (servers[0])')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('servers[0].credentials: set audience or resource')), problems.join('\n'));
  });

  it('refuses a credentialKey that is not 32 bytes of base64, without echoing it', () => {
    const problems = problemsOf({ tenants: [{ id: 'acme' }], auth: { oauth, credentialKey: 'too-short-secret' }, servers: [exchange()] });
    assert.ok(problems.some((p) => p.startsWith('auth.credentialKey: must be 32 bytes, base64')), problems.join('\n'));
    assert.ok(!problems.join('\n').includes('too-short-secret'));
  });

  it('refuses a tenantSecret for an unknown tenant, an unknown mode, and credentials on a stdio server', () => {
    const team = { id: 'team', transport: 'http', url: 'http://127.0.0.1:1/mcp', credentials: { mode: 'tenantSecret', tenants: { acme: 'Bearer a', initech: 'Bearer i' } } };
    assert.ok(problemsOf({ tenants: [{ id: 'acme', apiKeys: ['key-one-0123456789abcdef'] }], servers: [team] }).some((p) => p.startsWith('servers[0].credentials.tenants.initech: "initech" is not a configured tenant')));
    assert.match(problemsOf({ servers: [{ ...team, credentials: { mode: 'vault' } }] })[0]!, /^servers\[0\]\.credentials(\.mode)?: mode must be "static", "tenantSecret" or "tokenExchange"/);
    assert.match(problemsOf({ servers: [{ ...stdio('local'), credentials: { mode: 'static' } }] })[0]!, /^servers\[0\]: .*credentials/);
  });
});

describe('auth.policy', () => {
  const key = 'key-one-0123456789abcdef';
  const base = (policy: unknown, extra: Record<string, unknown> = {}) => ({
    servers: [stdio('github'), stdio('docs')],
    tenants: [{ id: 'acme', apiKeys: [{ name: 'ci-bot', key }, 'key-two-0123456789abcdef'] }],
    auth: { policy },
    ...extra,
  });

  it('is unset by default (everything allowed) and parses rules, named keys and a roles claim', () => {
    assert.equal(parse({}).auth.policy, undefined);
    const config = parse(base({ rules: [{ name: 'bots', principals: { apiKeys: ['ci-bot'] }, allow: { tools: ['github.search_*'], mutations: ['read_only'], broker: ['get_call'] } }] }));
    assert.deepEqual(config.auth.policy!.rules[0]!.allow, { tools: ['github.search_*'], mutations: ['read_only'], broker: ['get_call'] });
    assert.deepEqual(config.tenants[0]!.apiKeys[0], { name: 'ci-bot', key });
    const oauth = { issuer: 'https://idp.example.com', resource: 'https://mcp.example.com/mcp', claims: { tenantFixed: 'acme', roles: 'roles', groups: 'groups' } };
    assert.equal(parse(base({ rules: [{ principals: { roles: ['reader'] }, allow: { tools: ['*'] } }] }, { auth: { oauth, policy: { rules: [{ principals: { roles: ['reader'] }, allow: { tools: ['*'] } }] } } })).auth.oauth!.claims.roles, 'roles');
  });

  it('names the key and the reason of each bad rule', () => {
    const { problems } = refuse(base({ rules: [{ principals: {}, allow: {} }, { name: 'nothing' }, { allow: { mutations: ['read_mostly'] } }] }));
    assert.deepEqual(problems, [
      'auth.policy.rules[0].allow: must name at least one of tools, mutations, prompts, resources, broker',
      'auth.policy.rules[1]: a rule needs allow, deny or both',
      'auth.policy.rules[2].allow.mutations[0]: must be one of read_only, idempotent, non_idempotent',
    ]);
  });

  it('names tenants, key names, servers and broker tools that do not exist, and a glob without its server', () => {
    const { problems } = refuse(
      base({ rules: [{ principals: { tenants: ['globex'], apiKeys: ['nobody'] }, allow: { tools: ['gitlab.*', 'search'], prompts: ['docs.*'], broker: ['dlq_purge'] } }] }),
    );
    assert.deepEqual(problems, [
      'auth.policy.rules[0].principals.tenants[0]: "globex" is not a configured tenant',
      'auth.policy.rules[0].principals.apiKeys[0]: "nobody" names no API key (give one a name: {name, key} in tenants[].apiKeys)',
      'auth.policy.rules[0].allow.tools[0]: "gitlab" matches no configured server id',
      'auth.policy.rules[0].allow.tools[1]: "search" must be "<server>.<name>" (globs with *), or "*" for everything',
      'auth.policy.rules[0].allow.broker[0]: "dlq_purge" matches no broker tool (submit, get_call, cancel_call, run_saga, saga_commit, saga_abort, get_saga, dlq_list, dlq_show, dlq_redrive, dlq_discard, audit_list)',
    ]);
  });

  it('needs auth.oauth for groups and roles, at least one rule, and no unknown keys', () => {
    assert.deepEqual(refuse(base({ rules: [{ principals: { groups: ['eng'] }, allow: { tools: ['*'] } }] })).problems, [
      'auth.policy.rules[0].principals: groups and roles come from OAuth tokens: configure auth.oauth (and its claims.groups or claims.roles)',
    ]);
    assert.deepEqual(refuse(base({ rules: [] })).problems, ['auth.policy.rules: must have at least one rule (omit auth.policy to allow everything)']);
    assert.ok(refuse(base({ rules: [{ allow: { tool: ['*'] } }] })).problems[0]!.startsWith('auth.policy.rules[0].allow: '));
  });

  it('refuses a duplicate key name and a malformed key entry, without printing the key', () => {
    const duplicate = refuse({ tenants: [{ id: 'acme', apiKeys: [{ name: 'ci', key }] }, { id: 'globex', apiKeys: [{ name: 'ci', key: 'key-three-0123456789abcdef' }] }] });
    assert.deepEqual(duplicate.problems, ['tenants[1].apiKeys[0].name: duplicate API key name "ci" (also in tenant "acme")']);
    const malformed = refuse({ tenants: [{ id: 'acme', apiKeys: [{ name: 'x' }, { name: 'y', key: 'short-secret' }] }] });
    assert.deepEqual(malformed.problems, [
      'tenants[0].apiKeys[0]: must be an API key (a string of at least 16 characters) or {name, key}',
      'tenants[0].apiKeys[1].key: API keys must be at least 16 characters',
    ]);
    assert.ok(!malformed.message.includes('short-secret') && !duplicate.message.includes('key-three'));
  });
});

describe('locateConfig and loadConfig', () => {
  it('reads an explicit --config path relative to cwd', () => {
    writeConfig('explicit.yaml', 'gateway:\n  port: 4100\n');
    const { config, source } = loadConfig('explicit.yaml', {}, dir);
    assert.equal(source, join(dir, 'explicit.yaml'));
    assert.equal(config.gateway.port, 4100);
  });

  it('falls back to SWITCHYARD_CONFIG, then ./switchyard.yaml', () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    writeFileSync(join(cwd, 'switchyard.yaml'), 'gateway:\n  port: 4200\n');
    const fromEnv = writeConfig('from-env.yaml', 'gateway:\n  port: 4300\n');
    assert.equal(loadConfig(undefined, { SWITCHYARD_CONFIG: fromEnv }, cwd).config.gateway.port, 4300);
    assert.equal(loadConfig(undefined, {}, cwd).config.gateway.port, 4200);
    assert.equal(loadConfig(fromEnv, { SWITCHYARD_CONFIG: join(cwd, 'switchyard.yaml') }, cwd).config.gateway.port, 4300);
  });

  it('treats an empty file as an empty document', () => {
    const path = writeConfig('empty.yaml', '');
    assert.deepEqual(locateConfig(path, {}, dir).raw, {});
    assert.equal(loadConfig(path, {}, dir).config.gateway.port, 3000);
  });

  it('expands variables from the given env when loading a file', () => {
    const path = writeConfig('vars.yaml', 'gateway:\n  host: ${BIND}\n');
    assert.equal(loadConfig(path, { BIND: 'localhost' }, dir).config.gateway.host, 'localhost');
  });

  it('gives a ConfigError for a nonexistent path', () => {
    const missing = join(dir, 'does-not-exist.yaml');
    assert.throws(
      () => loadConfig(missing, {}, dir),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.source, missing);
        assert.deepEqual(error.problems, ['cannot read the file (ENOENT)']);
        return true;
      },
    );
  });

  it('gives the line of a YAML syntax error', () => {
    const cases: Array<[string, number]> = [
      ['gateway:\n  port: 3000\n  port: 3001\n', 3],
      ['servers:\n  - id: x\n\ttransport: stdio\n', 3],
      ['gateway:\n  port: 3000\n   host: x\n', 2],
    ];
    for (const [text, line] of cases) {
      const path = writeConfig('syntax.yaml', text);
      assert.throws(
        () => locateConfig(path, {}, dir),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.problems.length, 1);
          assert.match(error.problems[0]!, new RegExp(`^not valid YAML at line ${line}, column \\d+: [A-Z_]+$`));
          return true;
        },
        JSON.stringify(text),
      );
    }
  });
});

describe('formatPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    assert.equal(formatPath([]), '(top level)');
    assert.equal(formatPath(['gateway']), 'gateway');
    assert.equal(formatPath(['servers', 0, 'id']), 'servers[0].id');
    assert.equal(formatPath(['tenants', 2, 'apiKeys', 1]), 'tenants[2].apiKeys[1]');
    assert.equal(formatPath([0, 'a']), '[0].a');
  });
});

describe('CLI', () => {
  function runCli(args: string[], extraEnv: Record<string, string> = {}) {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
    delete env.SWITCHYARD_CONFIG;
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.error, undefined);
    return result;
  }

  it('exits 2 on a bad config, naming the key path and reason, without a stack trace', () => {
    const path = writeConfig('bad.yaml', 'gateway:\n  prot: 3000\n');
    const result = runCli(['worker', '--config', path]);
    assert.equal(result.status, 2, result.stderr);
    assert.ok(result.stderr.includes('gateway: unknown key "prot"'), result.stderr);
    assert.ok(result.stderr.includes(path), result.stderr);
    assert.doesNotMatch(result.stderr, /^ {4}at /m);
  });

  it('exits 2 on a missing variable without printing other env values', () => {
    const path = writeConfig('missing-var.yaml', 'servers:\n  - id: a\n    transport: stdio\n    command: node\n    env:\n      TOKEN: ${SWITCHYARD_TEST_MISSING_VAR}\n');
    const secret = 'cli-secret-value-0123456789';
    const result = runCli(['worker', '--config', path], { SWITCHYARD_TEST_SECRET: secret });
    assert.equal(result.status, 2, result.stderr);
    assert.ok(result.stderr.includes('servers[0].env.TOKEN: environment variable SWITCHYARD_TEST_MISSING_VAR is not set'), result.stderr);
    assert.ok(!result.stderr.includes(secret));
    assert.doesNotMatch(result.stderr, /^ {4}at /m);
  });

  it('exits 2 on a nonexistent config file', () => {
    const result = runCli(['worker', '--config', join(dir, 'nope.yaml')]);
    assert.equal(result.status, 2, result.stderr);
    assert.ok(result.stderr.includes('cannot read the file (ENOENT)'), result.stderr);
    assert.doesNotMatch(result.stderr, /^ {4}at /m);
  });

  it('exits 2 on an unknown command', () => {
    const result = runCli(['frobnicate']);
    assert.equal(result.status, 2, result.stderr);
    assert.ok(result.stderr.includes('unknown command "frobnicate"'), result.stderr);
    assert.ok(result.stderr.includes('Usage: switchyard'), result.stderr);
    assert.doesNotMatch(result.stderr, /^ {4}at /m);
  });
});

describe('encryption', () => {
  const A = Buffer.alloc(32, 1).toString('base64');
  const B = Buffer.alloc(32, 2).toString('base64');
  const H = Buffer.alloc(32, 3).toString('base64');
  const encryption = (extra: Record<string, unknown> = {}) => ({ encryption: { keys: [{ id: 'k1', key: A }, { id: 'k2', key: B }], currentKeyId: 'k2', hashKey: H, ...extra } });

  it('is off by default, and parses keys, the current key and codec server defaults when configured', () => {
    assert.equal(parse({}).encryption, undefined);
    const config = parse(encryption());
    assert.equal(config.encryption?.currentKeyId, 'k2');
    assert.deepEqual(config.encryption?.codecServer, { host: '127.0.0.1', port: 8234, allowedOrigins: [] });
  });

  it('takes keys from the environment', () => {
    const config = parse({ encryption: { keys: [{ id: 'k1', key: '${KEY_1}' }], currentKeyId: 'k1', hashKey: '${HASH_KEY}' } }, { KEY_1: A, HASH_KEY: H });
    assert.equal(config.encryption?.keys[0]?.key, A);
  });

  it('names the key of a key that is not 32 bytes of base64, without printing it', () => {
    const short = Buffer.alloc(16, 9).toString('base64');
    const error = refuse(encryption({ keys: [{ id: 'k1', key: A }, { id: 'k2', key: short }] }));
    assert.match(error.message, /encryption\.keys\[1\]\.key: must be 32 random bytes in base64/);
    assert.ok(!error.message.includes(short));
    assert.match(refuse(encryption({ hashKey: 'not base64!' })).message, /encryption\.hashKey: must be 32 random bytes/);
  });

  it('refuses a current key id that names no key, duplicate ids, a hash key equal to a key, and a missing hash key', () => {
    assert.match(refuse(encryption({ currentKeyId: 'k3' })).message, /encryption\.currentKeyId: names no key in encryption\.keys \(ids: "k1", "k2"\)/);
    assert.match(refuse(encryption({ keys: [{ id: 'k1', key: A }, { id: 'k1', key: B }], currentKeyId: 'k1' })).message, /encryption\.keys\[1\]\.id: duplicate key id "k1"/);
    assert.match(refuse(encryption({ hashKey: B })).message, /encryption\.hashKey: must differ from encryption\.keys\[1\]\.key/);
    assert.match(refuse({ encryption: { keys: [{ id: 'k1', key: A }], currentKeyId: 'k1' } }).message, /encryption\.hashKey:/);
    assert.match(refuse(encryption({ keys: [] })).message, /encryption\.keys: must list at least one key/);
  });

  it('refuses a short codec server token and an origin with a path', () => {
    assert.match(refuse(encryption({ codecServer: { token: 'short' } })).message, /encryption\.codecServer\.token: must be at least 32 characters/);
    assert.match(refuse(encryption({ codecServer: { allowedOrigins: ['http://ui.example.com/x'] } })).message, /encryption\.codecServer\.allowedOrigins\[0\]: must be an origin/);
  });
});
