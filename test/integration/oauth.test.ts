// The OAuth 2.1 resource server (docs/auth-design.md, "Identity"), against a real authorization
// server (oidc-provider in this process, test/support/auth-server.ts) and the real stack. An SDK
// v2 client runs the whole MCP authorization flow: 401, Protected Resource Metadata, AS metadata,
// dynamic registration, authorization code with PKCE and `resource`, the token, then tools/list
// and tools/call through the broker. Then the refusals: expired, wrong audience, another issuer,
// alg none and HS256 with the public key, insufficient scope (403), a key rotation, an opaque
// token by introspection, sessions bound to their opener, and no token passthrough downstream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport, UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/client';
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { AuthServer } from '../support/auth-server.js';
import { ConformanceModernServer } from '../support/conformance-modern-server.js';
import { Stack, textOf } from '../support/stack.js';

const ACME_KEY = 'acme-key-0123456789abcdef';
const OTHER_RESOURCE = 'https://other.example/mcp';
const SCOPES = 'mcp tools:read';
const REDIRECT = 'http://127.0.0.1:1/callback';

/** An OAuthClientProvider that keeps everything in memory and hands the authorization URL to the test. */
class MemoryProvider implements OAuthClientProvider {
  client: Record<string, unknown> | undefined;
  saved: { access_token: string; token_type: string } | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return { client_name: 'switchyard-oauth-test', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.client as never;
  }
  saveClientInformation(info: Record<string, unknown>) {
    this.client = info;
  }
  tokens() {
    return this.saved as never;
  }
  saveTokens(tokens: { access_token: string; token_type: string }) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  discovery: unknown;
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
}

describe('OAuth resource server', { timeout: 300_000 }, () => {
  const resources: Record<string, string> = { [OTHER_RESOURCE]: SCOPES };
  const tenants: Record<string, string> = { alice: 'acme', bob: 'acme', carol: 'globex', 'svc-acme': 'acme', 'svc-acme-2': 'acme', 'svc-short': 'acme', 'svc-opaque': 'acme', 'svc-stranger': 'initech' };
  const clients = [
    { clientId: 'svc-acme', secret: 'svc-acme-secret-0123456789' },
    { clientId: 'svc-acme-2', secret: 'svc-acme-2-secret-0123456789' },
    { clientId: 'svc-short', secret: 'svc-short-secret-0123456789', ttlSec: 1 },
    { clientId: 'svc-opaque', secret: 'svc-opaque-secret-0123456789', accessTokenFormat: 'opaque' as const },
    { clientId: 'svc-stranger', secret: 'svc-stranger-secret-0123456789' },
    { clientId: 'switchyard', secret: 'switchyard-introspection-secret' },
  ];
  const as = new AuthServer({ resources, tenantOf: (who) => tenants[who], clients });
  const otherAs = new AuthServer({ resources, tenantOf: (who) => tenants[who], clients });
  // A 2026-07-28 server that asks its client for input: the broker's requestState must stay the user's.
  const asking = new ConformanceModernServer();
  let mcpUrl = '';
  const stack = new Stack({
    withEverything: false,
    syncWaitMs: 5_000,
    tenants: [{ id: 'acme', apiKeys: [ACME_KEY] }],
    configure: (config) => {
      mcpUrl = `http://127.0.0.1:${(config.gateway as { port: number }).port}/mcp`;
      resources[mcpUrl] = SCOPES;
      (config.tenants as Array<Record<string, unknown>>).push({ id: 'globex' });
      config.servers.push({ id: 'asking', transport: 'http', url: asking.url, timeoutMs: 10_000 });
      config.auth = {
        oauth: {
          issuer: as.issuer,
          resource: mcpUrl,
          requiredScopes: ['mcp'],
          scopesSupported: ['mcp', 'tools:read'],
          clockToleranceSec: 1,
          jwksCacheMs: 4_000,
          jwksRefetchCooldownMs: 1_000,
          introspection: { endpoint: `${as.issuer}/token/introspection`, clientId: 'switchyard', clientSecret: 'switchyard-introspection-secret', cacheMs: 60_000 },
          claims: { tenant: 'tenant' },
        },
      };
    },
  });

  const post = (authorization: string | undefined, body: unknown = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }, headers: Record<string, string> = {}) =>
    fetch(mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list', ...(authorization ? { authorization } : {}), ...headers },
      body: JSON.stringify(body),
    });

  /** A refusal's status, WWW-Authenticate parameters and JSON-RPC error. */
  async function refusal(response: Response) {
    const header = response.headers.get('www-authenticate') ?? '';
    const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const body = (await response.json()) as { error: { code: number; message: string } };
    return { status: response.status, scheme: header.split(' ')[0], params, error: body.error };
  }

  before(async () => {
    await as.start();
    await otherAs.start();
    await asking.start();
    await stack.start();
    await stack.waitForReady();
  });
  after(async () => {
    await stack.stop();
    await as.stop();
    await otherAs.stop();
    await asking.stop();
  });

  it('serves Protected Resource Metadata at the root and path-suffixed URIs, public and CORS-readable', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const response = await fetch(new URL(path, mcpUrl), { headers: { origin: 'https://claude.ai' } });
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
      assert.deepEqual(await response.json(), {
        resource: mcpUrl,
        authorization_servers: [as.issuer],
        scopes_supported: ['mcp', 'tools:read'],
        bearer_methods_supported: ['header'],
        resource_name: 'Switchyard',
      });
    }
  });

  it('answers a request without a token 401, pointing at the metadata, with a JSON-RPC body', async () => {
    const r = await refusal(await post(undefined));
    assert.equal(r.status, 401);
    assert.equal(r.scheme, 'Bearer');
    assert.equal(r.params.resource_metadata, new URL('/.well-known/oauth-protected-resource/mcp', mcpUrl).href);
    assert.equal(r.params.scope, 'mcp');
    assert.equal(r.params.error, undefined, 'RFC 6750 §3.1: no error code when no token was sent');
    assert.equal(r.error.code, -32004);
  });

  it('answers a 2025 client without a token the same way: 401 with the metadata challenge, before any session', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
    const r = await refusal(await post(undefined, init, { 'mcp-protocol-version': '2025-11-25', 'mcp-method': 'initialize' }));
    assert.equal(r.status, 401);
    assert.equal(r.params.resource_metadata, new URL('/.well-known/oauth-protected-resource/mcp', mcpUrl).href);
    assert.equal(r.error.code, -32004);
  });

  it('answers malformed tokens 401 invalid_token with a JSON-RPC body, never a stack trace or the token', async () => {
    const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
    const good = await as.serviceToken('svc-acme', mcpUrl, SCOPES);
    const [, payload, signature] = good.split('.');
    const tokens = [
      'a.b.c',
      `${b64('null')}.${payload}.${signature}`,
      `${b64({ alg: ['RS256'] })}.${payload}.${signature}`,
      `${b64({ alg: 'RS256', crit: ['exp'] })}.${payload}.${signature}`,
      `${b64({ alg: 'RS256', kid: { nested: true } })}.${payload}.${signature}`,
      `${b64({ alg: 'RS256', x5u: 'http://127.0.0.1:1/keys' })}.${b64('not json')}.${signature}`,
      `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.${payload}.${signature}`,
      `${good.slice(0, -4)}AAAA`,
    ];
    for (const token of tokens) {
      const response = await post(`Bearer ${token}`);
      const text = await response.text();
      assert.equal(response.status, 401, token);
      assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.equal((JSON.parse(text) as { error: { code: number } }).error.code, -32004);
      assert.doesNotMatch(text, /\bat \S+ \(|node_modules|\.ts:\d/, 'no stack trace');
      assert.ok(!text.includes(signature!), 'the token is not echoed');
    }
  });

  it('runs the whole MCP authorization flow with the SDK v2 client, then lists and calls tools through the broker', async () => {
    const provider = new MemoryProvider();
    const transport = new ModernTransport(new URL(mcpUrl), { authProvider: provider });
    const client = new ModernClient({ name: 'oauth-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    // 401 -> PRM -> AS metadata -> dynamic registration -> the authorization URL, then UnauthorizedError.
    await assert.rejects(client.connect(transport), (error: unknown) => error instanceof UnauthorizedError);
    assert.ok(provider.client?.client_id, 'registered dynamically');
    const url = provider.authorizationUrl!;
    assert.equal(url.origin, as.issuer);
    assert.equal(url.searchParams.get('resource'), mcpUrl, 'RFC 8707 resource indicator');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('scope') ?? '', /\bmcp\b/);

    // The user agent: login and consent on the provider's pages, back to the redirect URI with code and iss.
    const callback = await as.authorize(url, 'alice', REDIRECT);
    assert.equal(callback.searchParams.get('iss'), as.issuer);
    await transport.finishAuth(callback.searchParams);
    const [, payload] = provider.saved!.access_token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.aud, mcpUrl);
    assert.equal(claims.tenant, 'acme');

    const authed = new ModernClient({ name: 'oauth-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await authed.connect(new ModernTransport(new URL(mcpUrl), { authProvider: provider }));
    try {
      const { tools } = await authed.listTools();
      assert.ok(tools.some((t) => t.name === 'fixture.echo'));
      const result = await authed.callTool({ name: 'fixture.echo', arguments: { message: 'hello over oauth' } });
      assert.equal(textOf(result), 'hello over oauth');
      // No token passthrough: the downstream server never saw the client's token, in a header
      // (its Authorization or any other) or in the call's _meta.
      const token = provider.saved!.access_token;
      const signature = token.split('.')[2]!;
      assert.ok(stack.fixture.requestHeaders.length > 0);
      for (const headers of stack.fixture.requestHeaders) {
        assert.equal(headers.authorization, undefined, 'no Authorization header reaches the downstream server');
        assert.ok(!JSON.stringify(headers).includes(signature), 'the token appears in no downstream header');
      }
      const call = stack.fixture.executions.find((e) => e.tool === 'echo' && e.args.message === 'hello over oauth');
      assert.ok(call?.meta, 'the downstream server got the call, with its _meta');
      assert.ok(!JSON.stringify(call).includes(signature), 'the token appears nowhere in the downstream call');
    } finally {
      await authed.close();
    }
  });

  it('accepts a token on the legacy session leg too, and binds the session to its opener', async () => {
    const alice = await as.serviceToken('svc-acme', mcpUrl, SCOPES);
    assert.equal((JSON.parse(Buffer.from(alice.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub, 'svc-acme');
    const legacy = await stack.client({ authorization: `Bearer ${alice}` });
    try {
      const result = await legacy.callTool({ name: 'fixture.echo', arguments: { message: 'legacy leg' } });
      assert.equal(textOf(result), 'legacy leg');
      const sessionId = (legacy.transport as { sessionId?: string }).sessionId!;
      // Other principals of the same tenant (an API key of acme, another token subject of acme) cannot use the session.
      const init = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} };
      const other = await as.serviceToken('svc-acme-2', mcpUrl, SCOPES);
      for (const intruder of [ACME_KEY, other]) {
        const stolen = await fetch(mcpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${intruder}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
          body: JSON.stringify(init),
        });
        assert.equal(stolen.status, 404);
        assert.equal(((await stolen.json()) as { error: { code: number } }).error.code, -32001);
      }
      const own = await fetch(mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${alice}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify(init),
      });
      assert.equal(own.status, 200);
      await own.body?.cancel();
    } finally {
      await legacy.close();
    }
  });

  it('binds a 2026-07-28 requestState to the token\'s user: another user of the tenant cannot answer it', async () => {
    const ask = async (token: string, params: Record<string, unknown>) => {
      const response = await fetch(mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': params.name as string },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } } }),
      });
      const text = await response.text();
      const data = (response.headers.get('content-type') ?? '').includes('text/event-stream') ? text.split('\n').filter((l) => l.startsWith('data:')).at(-1)!.slice(5) : text;
      return JSON.parse(data) as { result?: Record<string, unknown>; error?: { code: number; message: string } };
    };
    const name = 'asking.test_input_required_result_elicitation';
    const alice = await as.serviceToken('svc-acme', mcpUrl, SCOPES);
    const bob = await as.serviceToken('svc-acme-2', mcpUrl, SCOPES);
    const first = await ask(alice, { name, arguments: {} });
    const requestState = first.result?.requestState;
    assert.equal(typeof requestState, 'string', `an input_required answer: ${JSON.stringify(first)}`);
    const inputResponses = { user_name: { action: 'accept', content: { name: 'Alice' } } };
    // Same tenant, another subject: the state does not verify for it.
    const stolen = await ask(bob, { name, arguments: {}, inputResponses, requestState });
    assert.equal(stolen.error?.code, -32602, JSON.stringify(stolen));
    const own = await ask(alice, { name, arguments: {}, inputResponses, requestState });
    assert.equal(own.error, undefined, JSON.stringify(own));
    assert.equal(textOf(own.result as never), 'Hello, Alice!');
  });

  it('keeps API keys working beside OAuth', async () => {
    const response = await post(`Bearer ${ACME_KEY}`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  it('refuses an expired token with 401 invalid_token', async () => {
    const token = await as.serviceToken('svc-short', mcpUrl, SCOPES);
    const fresh = await post(`Bearer ${token}`);
    assert.equal(fresh.status, 200, 'valid before it expires');
    await fresh.body?.cancel();
    // ttl 1 s, plus the configured 1 s of clock tolerance.
    await new Promise((r) => setTimeout(r, 2_600));
    const r = await refusal(await post(`Bearer ${token}`));
    assert.equal(r.status, 401);
    assert.equal(r.params.error, 'invalid_token');
    assert.equal(r.params.error_description, 'token expired');
    assert.ok(r.params.resource_metadata);
    assert.equal(r.error.code, -32004);
  });

  it('refuses a token issued for another resource (audience, RFC 8707)', async () => {
    const token = await as.serviceToken('svc-acme', OTHER_RESOURCE, SCOPES);
    const r = await refusal(await post(`Bearer ${token}`));
    assert.equal(r.status, 401);
    assert.equal(r.params.error, 'invalid_token');
    assert.equal(r.params.error_description, 'token not issued for this resource (aud)');
  });

  it('refuses a token of another issuer, even one for this resource', async () => {
    const token = await otherAs.serviceToken('svc-acme', mcpUrl, SCOPES);
    const r = await refusal(await post(`Bearer ${token}`));
    assert.equal(r.status, 401);
    assert.equal(r.params.error, 'invalid_token');
  });

  it('refuses alg none, and HS256 signed with the issuer\'s public key', async () => {
    const good = await as.serviceToken('svc-acme', mcpUrl, SCOPES);
    const [header, payload] = good.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const kid = (JSON.parse(Buffer.from(header!, 'base64url').toString()) as { kid: string }).kid;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid })).toString('base64url')}.${payload}.`;
    let r = await refusal(await post(`Bearer ${unsigned}`));
    assert.equal(r.status, 401);
    assert.equal(r.params.error_description, 'token algorithm not allowed');

    const publicJwk: JWK = { kty: 'RSA', n: as.keys[0]!.n, e: as.keys[0]!.e };
    const pem = await exportSPKI((await importJWK(publicJwk, 'RS256')) as CryptoKey);
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(new TextEncoder().encode(pem));
    r = await refusal(await post(`Bearer ${confused}`));
    assert.equal(r.status, 401);
    assert.equal(r.params.error_description, 'token algorithm not allowed');
  });

  it('answers a token without the required scope 403 insufficient_scope, naming every needed scope', async () => {
    const token = await as.serviceToken('svc-acme', mcpUrl, 'tools:read');
    const r = await refusal(await post(`Bearer ${token}`));
    assert.equal(r.status, 403);
    assert.equal(r.params.error, 'insufficient_scope');
    assert.equal(r.params.scope, 'mcp');
    assert.ok(r.params.resource_metadata);
    assert.equal(r.error.code, -32004);
  });

  it('answers a good token whose tenant is not configured 403, without naming that tenant', async () => {
    const token = await as.serviceToken('svc-stranger', mcpUrl, SCOPES);
    const r = await refusal(await post(`Bearer ${token}`));
    assert.equal(r.status, 403);
    assert.ok(!r.error.message.includes('initech'));
  });

  it('accepts an opaque token by introspection, and asks the issuer once per token', async () => {
    const token = await as.serviceToken('svc-opaque', mcpUrl, SCOPES);
    assert.equal(token.split('.').length, 1, 'opaque');
    const before = as.requests.filter((p) => p === '/token/introspection').length;
    for (let i = 0; i < 3; i++) {
      const response = await post(`Bearer ${token}`);
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    assert.equal(as.requests.filter((p) => p === '/token/introspection').length - before, 1, 'cached');
    const r = await refusal(await post('Bearer not-a-token-and-not-a-key'));
    assert.equal(r.status, 401);
    assert.equal(r.params.error_description, 'token not active');
  });

  it('follows a key rotation: a new kid is fetched after the cooldown, old tokens stay good until their key is removed', async () => {
    const jwksFetches = () => as.requests.filter((p) => p === '/jwks').length;
    const kidOf = (t: string) => (JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    const status = async (token: string) => {
      const response = await post(`Bearer ${token}`);
      await response.body?.cancel();
      return response.status;
    };
    const old = await as.serviceToken('svc-acme', mcpUrl, SCOPES);
    const claims = JSON.parse(Buffer.from(old.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const { privateKey: forgedKey } = await generateKeyPair('RS256');
    const forged = (i: number) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: `forged-${i}` }).sign(forgedKey);

    // An unknown kid refetches the JWKS (the cooldown has passed): this fixes the time of the last fetch.
    await new Promise((r) => setTimeout(r, 1_100));
    let before = jwksFetches();
    assert.equal(await status(await forged(0)), 401);
    assert.equal(jwksFetches() - before, 1, 'an unknown kid refetched the JWKS');
    // More forged kids inside the cooldown cost no fetch at all.
    before = jwksFetches();
    for (let i = 1; i <= 5; i++) assert.equal(await status(await forged(i)), 401);
    assert.equal(jwksFetches() - before, 0, 'no JWKS fetch for five unknown kids inside the cooldown');

    await as.rotate();
    const fresh = await as.serviceToken('svc-acme', mcpUrl, SCOPES);
    assert.notEqual(kidOf(fresh), kidOf(old));
    assert.equal(await status(old), 200, 'the old key is still published and cached');
    // After the 1 s cooldown, and well inside the 4 s cache age: only the unknown kid explains the refetch.
    await new Promise((r) => setTimeout(r, 1_100));
    before = jwksFetches();
    assert.equal(await status(fresh), 200, 'the new kid was fetched');
    assert.equal(jwksFetches() - before, 1);
    assert.equal(await status(old), 200, 'both keys are published');

    as.dropOldKeys();
    // Known keys are trusted for jwksCacheMs (4 s here); after it, the removed key no longer verifies.
    await new Promise((r) => setTimeout(r, 4_200));
    const r = await refusal(await post(`Bearer ${old}`));
    assert.equal(r.status, 401);
    assert.equal(r.params.error_description, "token signature not verified by the issuer's keys");
    assert.equal(await status(fresh), 200);
  });

  // Last: it stops the authorization server.
  it('answers 503 with Retry-After, not a 401 that would start a new login, while the issuer cannot be reached', async () => {
    const opaque = await as.serviceToken('svc-opaque', mcpUrl, SCOPES);
    await as.stop();
    const response = await post(`Bearer ${opaque}`);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '5');
    assert.equal(response.headers.get('www-authenticate'), null);
    const body = (await response.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32000);
    assert.match(body.error.message, /token introspection unavailable/);
    // An API key does not depend on the issuer.
    const keyed = await post(`Bearer ${ACME_KEY}`);
    assert.equal(keyed.status, 200);
    await keyed.body?.cancel();
  });
});
