// The pieces of the OAuth resource server that need no authorization server: the claims mapping,
// the challenges and metadata URL, the session seal's owner, and the middleware's order and its
// answer when the issuer cannot be reached, and the verifier's clock skew and claim checks against
// a loopback JWKS. The flows against a real authorization server are in
// test/integration/oauth.test.ts.
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Hono } from 'hono';
import { parseConfig } from '../../src/config/load.js';
import { principalFromClaims, scopesOf } from '../../src/gateway/auth/claims.js';
import { bearerChallenge, resourceMetadataPaths, resourceMetadataUrl } from '../../src/gateway/auth/resource-metadata.js';
import { createTokenVerifier, type TokenCheck } from '../../src/gateway/auth/token-verifier.js';
import { auth } from '../../src/gateway/middleware/auth.js';
import { SessionSeal } from '../../src/gateway/session-seal.js';
import type { GatewayEnv } from '../../src/gateway/types.js';
import { createLogger } from '../../src/observability/log.js';

const KEY = 'acme-key-0123456789abcdef';
const config = parseConfig(
  {
    source: 'test.yaml',
    raw: {
      tenants: [{ id: 'acme', apiKeys: [KEY] }, { id: 'globex' }],
      auth: { oauth: { issuer: 'https://idp.example.com/realms/x', resource: 'https://mcp.example.com/team/mcp', requiredScopes: ['mcp', 'tools:read'], claims: { tenant: 'org', groups: 'groups', admin: 'roles' } } },
    },
  },
  {},
);
const oauth = config.auth.oauth!;

describe('claims mapping', () => {
  const base = { sub: 'alice@example.com', org: 'globex', client_id: 'claude', scope: 'mcp tools:read', groups: ['eng', 7], roles: ['admin'] };

  it('maps tenant, subject, client, scopes, groups and the admin role', () => {
    const mapped = principalFromClaims(base, oauth, config.tenants);
    assert.ok(mapped.ok);
    assert.deepEqual(mapped.principal, {
      tenant: 'globex', subject: 'oauth:alice@example.com', admin: true, via: 'oauth', issuer: oauth.issuer, clientId: 'claude', scopes: ['mcp', 'tools:read'], groups: ['eng'],
    });
  });

  it('accepts a tenant claim holding an array of one, and refuses an unknown tenant without naming it', () => {
    assert.equal((principalFromClaims({ ...base, org: ['acme'] }, oauth, config.tenants) as { principal: { tenant: string } }).principal.tenant, 'acme');
    const unknown = principalFromClaims({ ...base, org: 'initech' }, oauth, config.tenants);
    assert.ok(!unknown.ok);
    assert.ok(!unknown.reason.includes('initech'));
    assert.ok(!principalFromClaims({ ...base, org: ['acme', 'globex'] }, oauth, config.tenants).ok);
    assert.ok(!principalFromClaims({ ...base, sub: undefined }, oauth, config.tenants).ok);
  });

  it('reads scp as a string (Entra ID) or an array (Okta)', () => {
    assert.deepEqual(scopesOf({ scp: 'a b' }), ['a', 'b']);
    assert.deepEqual(scopesOf({ scp: ['a', 'b'] }), ['a', 'b']);
    assert.deepEqual(scopesOf({}), []);
  });

  it('replaces a subject that is not printable ASCII by its digest, so two never collide', () => {
    const a = principalFromClaims({ ...base, sub: 'jürgen' }, oauth, config.tenants);
    const b = principalFromClaims({ ...base, sub: 'jörgen' }, oauth, config.tenants);
    assert.ok(a.ok && b.ok);
    assert.match(a.principal.subject, /^oauth:sha256:[0-9a-f]{32}$/);
    assert.notEqual(a.principal.subject, b.principal.subject);
  });
});

describe('challenges and metadata URLs', () => {
  it('points at the path-suffixed metadata of the configured resource', () => {
    assert.equal(resourceMetadataUrl(oauth), 'https://mcp.example.com/.well-known/oauth-protected-resource/team/mcp');
    assert.deepEqual(resourceMetadataPaths(oauth), ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource/team/mcp']);
  });

  it('gives no error code without a token, and never lets a quote break the header', () => {
    assert.equal(bearerChallenge(oauth, { kind: 'missing' }), 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/team/mcp", scope="mcp tools:read"');
    assert.match(bearerChallenge(oauth, { kind: 'invalid_token', description: 'bad "x"\n' }), /error="invalid_token", error_description="bad \?x\?\?"$/);
    assert.match(bearerChallenge(oauth, { kind: 'insufficient_scope', description: 'd', scopes: ['mcp', 'tools:read'] }), /scope="mcp tools:read", error="insufficient_scope"/);
  });
});

describe('session seal owner', () => {
  const key = Buffer.alloc(32, 7);
  it('records a digest of the opener, not the subject itself', () => {
    const seal = new SessionSeal(key, 60_000);
    const id = seal.issue('acme', 'oauth:alice@example.com');
    assert.ok(!Buffer.from(id.split('.')[1]!, 'base64url').toString().includes('alice'));
    const opened = seal.open(id)!;
    assert.equal(opened.tenant, 'acme');
    assert.notEqual(opened.owner, seal.open(seal.issue('acme', 'oauth:bob@example.com'))!.owner);
    assert.equal(seal.open(seal.issue('acme'))!.owner, undefined, 'an id sealed before owners existed opens without one');
  });
});

describe('auth middleware', () => {
  const app = (check: TokenCheck) => {
    const calls: string[] = [];
    const hono = new Hono<GatewayEnv>();
    hono.use('/mcp', auth({ tenants: config.tenants, oauth, log: createLogger('silent'), verifier: { verify: (token) => (calls.push(token), Promise.resolve(check)) } }));
    hono.post('/mcp', (c) => c.json(c.get('principal')));
    return { hono, calls };
  };
  const request = (hono: Hono<GatewayEnv>, authorization?: string) => hono.request('/mcp', { method: 'POST', headers: authorization ? { authorization } : {} });

  it('takes an API key first, without asking the token verifier', async () => {
    const { hono, calls } = app({ ok: false, status: 401, reason: 'x' });
    const response = await request(hono, `Bearer ${KEY}`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { via: string }).via, 'apikey');
    assert.deepEqual(calls, []);
  });

  it('answers 503 with Retry-After, not 401, when the issuer cannot be reached', async () => {
    const { hono } = app({ ok: false, status: 503, reason: 'authorization server keys unavailable' });
    const response = await request(hono, 'Bearer a.b.c');
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '5');
    assert.equal(response.headers.get('www-authenticate'), null);
    assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32000);
  });

  it('refuses a good token that lacks a required scope with 403 naming all of them', async () => {
    const { hono } = app({ ok: true, claims: { sub: 'alice', org: 'acme', scope: 'mcp' } });
    const response = await request(hono, 'Bearer a.b.c');
    assert.equal(response.status, 403);
    assert.match(response.headers.get('www-authenticate')!, /scope="mcp tools:read", error="insufficient_scope"/);
  });
});

describe('token verifier: clock skew and claims', () => {
  // The issuer's keys come from a real loopback JWKS endpoint; only the clock is the test's.
  const NOW = 1_800_000_000_000;
  let server: HttpServer;
  let sign: (claims: Record<string, unknown>, alg?: string) => Promise<string>;
  let verify: (token: string) => Promise<TokenCheck>;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    const verifier = createTokenVerifier({ ...oauth, jwksUri, clockToleranceSec: 30 }, { log: createLogger('silent'), now: () => NOW });
    verify = (token) => verifier.verify(token);
    sign = (claims, alg = 'ES256') =>
      new SignJWT({ iss: oauth.issuer, aud: oauth.resource, sub: 'alice', exp: NOW / 1000 + 600, ...claims }).setProtectedHeader({ alg, kid: 'k1' }).sign(privateKey);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const reason = (check: TokenCheck) => (check.ok ? 'ok' : `${check.status} ${check.reason}`);

  it('accepts a token expired or not yet valid by less than clockToleranceSec, and refuses one beyond it', async () => {
    assert.equal(reason(await verify(await sign({ exp: NOW / 1000 - 20 }))), 'ok');
    assert.equal(reason(await verify(await sign({ exp: NOW / 1000 - 40 }))), '401 token expired');
    assert.equal(reason(await verify(await sign({ nbf: NOW / 1000 + 20 }))), 'ok');
    assert.equal(reason(await verify(await sign({ nbf: NOW / 1000 + 40 }))), '401 token not yet valid');
  });

  it('needs exp, the configured issuer and audience', async () => {
    assert.equal(reason(await verify(await sign({ exp: undefined }))), '401 token claim exp invalid');
    assert.equal(reason(await verify(await sign({ iss: 'https://idp.example.com/realms/other' }))), '401 token from another issuer');
    assert.equal(reason(await verify(await sign({ aud: 'https://mcp.example.com/other' }))), '401 token not issued for this resource (aud)');
  });
});
