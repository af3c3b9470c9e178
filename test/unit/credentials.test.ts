// Per-user downstream credentials (src/downstream/credentials.ts, sealed-token.ts): the sealed
// caller token opens only for its tenant and subject and only before it expires; exchanged tokens
// are cached per (server, tenant, subject) until refreshBeforeExpiryMs before they expire; the
// authorization server's refusals become fixed reasons that carry no token. The authorization
// server is outside the product, so here it is a recorded answer; test/integration/credentials.test.ts
// runs the same exchange against a real one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { ServerConfig } from '../../src/config/schema.js';
import { CredentialError, DownstreamCredentials } from '../../src/downstream/credentials.js';
import { credentialKeyBytes, openToken, sealToken, SealedTokenError } from '../../src/downstream/sealed-token.js';

const KEY = randomBytes(32).toString('base64');
const T0 = 1_800_000_000_000;

function server(credentials: Record<string, unknown>): ServerConfig {
  const config = parseConfig(
    {
      source: 'test.yaml',
      raw: {
        tenants: [{ id: 'acme' }, { id: 'globex' }],
        auth: { oauth: { issuer: 'https://idp.example.com', resource: 'https://mcp.example.com/mcp', claims: { tenant: 'tenant' } }, credentialKey: KEY },
        servers: [{ id: 'crm', transport: 'http', url: 'https://crm.example.com/mcp', credentials }],
      },
    },
    {},
  );
  return config.servers[0]!;
}

const exchangeServer = server({ mode: 'tokenExchange', tokenEndpoint: 'https://idp.example.com/token', clientId: 'switchyard', clientSecret: 'exchange-secret', audience: 'https://crm.example.com', refreshBeforeExpiryMs: 60_000 });

/** A token endpoint's recorded answers, and the requests it got. */
function tokenEndpoint(answer: (form: URLSearchParams) => { status: number; body: unknown }) {
  const requests: URLSearchParams[] = [];
  const fetchImpl = (async (_url: string | URL | Request, init?: RequestInit) => {
    const form = new URLSearchParams(init?.body as URLSearchParams);
    requests.push(form);
    const { status, body } = answer(form);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { requests, fetchImpl };
}

describe('sealed caller tokens', () => {
  const key = credentialKeyBytes(KEY);
  const sealed = sealToken(key, 'acme', 'oauth:alice', { token: 'the-token', expiresAt: T0 + 60_000 });

  it('open for their own tenant and subject before expiry, and never show the token in the ciphertext', () => {
    assert.deepEqual(openToken(key, 'acme', 'oauth:alice', sealed, T0), { token: 'the-token', expiresAt: T0 + 60_000 });
    assert.ok(!sealed.includes('the-token') && !Buffer.from(sealed.slice(4), 'base64url').toString('latin1').includes('the-token'));
  });

  it('do not open for another tenant or subject, under another key, or when altered', () => {
    const unreadable = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof SealedTokenError && e.reason === 'credentials_unreadable');
    unreadable(() => openToken(key, 'globex', 'oauth:alice', sealed, T0));
    unreadable(() => openToken(key, 'acme', 'oauth:bob', sealed, T0));
    unreadable(() => openToken(randomBytes(32), 'acme', 'oauth:alice', sealed, T0));
    const bytes = Buffer.from(sealed.slice(4), 'base64url');
    bytes[20] = bytes[20]! ^ 1;
    unreadable(() => openToken(key, 'acme', 'oauth:alice', `st1.${bytes.toString('base64url')}`, T0));
    unreadable(() => openToken(key, 'acme', 'oauth:alice', 'st0.AAAA', T0));
  });

  it('are refused once the token expired', () => {
    assert.throws(() => openToken(key, 'acme', 'oauth:alice', sealed, T0 + 60_000), (e: unknown) => e instanceof SealedTokenError && e.reason === 'credentials_expired');
  });
});

describe('DownstreamCredentials', () => {
  const key = credentialKeyBytes(KEY);
  const caller = (subject: string, expiresAt = T0 + 3_600_000) => ({ tenant: 'acme', subject, credential: sealToken(key, 'acme', subject, { token: `user-token-of-${subject}`, expiresAt }) });

  it('exchanges the caller token once per subject and reuses it until refreshBeforeExpiryMs before expiry', async () => {
    let now = T0;
    let issued = 0;
    const as = tokenEndpoint(() => ({ status: 200, body: { access_token: `downstream-${++issued}`, token_type: 'Bearer', expires_in: 300 } }));
    const credentials = new DownstreamCredentials({ credentialKey: KEY, now: () => now, fetch: as.fetchImpl });
    assert.deepEqual(await credentials.callHeaders(exchangeServer, caller('oauth:alice')), { authorization: 'Bearer downstream-1' });
    const form = as.requests[0]!;
    assert.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:token-exchange');
    assert.equal(form.get('subject_token'), 'user-token-of-oauth:alice');
    assert.equal(form.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(form.get('audience'), 'https://crm.example.com');
    now += 239_000; // 61 s before the 300 s token expires: still reused
    assert.deepEqual(await credentials.callHeaders(exchangeServer, caller('oauth:alice')), { authorization: 'Bearer downstream-1' });
    assert.deepEqual(await credentials.callHeaders(exchangeServer, caller('oauth:bob')), { authorization: 'Bearer downstream-2' }, 'another subject: its own exchange');
    now += 2_000; // 59 s before expiry: exchanged again
    assert.deepEqual(await credentials.callHeaders(exchangeServer, caller('oauth:alice')), { authorization: 'Bearer downstream-3' });
    assert.equal(as.requests.length, 3);
  });

  it('sends one exchange for a burst of concurrent calls by one user', async () => {
    const as = tokenEndpoint(() => ({ status: 200, body: { access_token: 'downstream', expires_in: 300 } }));
    const credentials = new DownstreamCredentials({ credentialKey: KEY, now: () => T0, fetch: as.fetchImpl });
    await Promise.all(Array.from({ length: 10 }, () => credentials.callHeaders(exchangeServer, caller('oauth:alice'))));
    assert.equal(as.requests.length, 1);
  });

  it('refuses an expired caller token before asking the authorization server, without retry', async () => {
    const as = tokenEndpoint(() => ({ status: 200, body: { access_token: 'never', expires_in: 300 } }));
    const credentials = new DownstreamCredentials({ credentialKey: KEY, now: () => T0, fetch: as.fetchImpl });
    await assert.rejects(credentials.callHeaders(exchangeServer, caller('oauth:alice', T0 - 1)), (e: unknown) => e instanceof CredentialError && !e.retryable && e.message.startsWith('credentials_expired'));
    await assert.rejects(credentials.callHeaders(exchangeServer, { tenant: 'acme', subject: 'apikey:x' }), (e: unknown) => e instanceof CredentialError && !e.retryable);
    assert.equal(as.requests.length, 0);
  });

  it("turns the authorization server's refusal into a fixed reason (no token, no echoed text); a 5xx or no answer is retryable", async () => {
    const refusing = tokenEndpoint((form) => ({ status: 400, body: { error: 'invalid_grant', error_description: `bad ${form.get('subject_token')}` } }));
    const credentials = new DownstreamCredentials({ credentialKey: KEY, now: () => T0, fetch: refusing.fetchImpl });
    await assert.rejects(credentials.callHeaders(exchangeServer, caller('oauth:alice')), (e: unknown) => e instanceof CredentialError && e.message === 'token_exchange_failed: invalid_grant' && !e.retryable);
    const echoing = tokenEndpoint((form) => ({ status: 400, body: { error: `oops ${form.get('subject_token')}` } }));
    const second = new DownstreamCredentials({ credentialKey: KEY, now: () => T0, fetch: echoing.fetchImpl });
    await assert.rejects(second.callHeaders(exchangeServer, caller('oauth:alice')), (e: unknown) => e instanceof CredentialError && e.message === 'token_exchange_failed: HTTP 400');
    const failing = tokenEndpoint(() => ({ status: 503, body: {} }));
    const third = new DownstreamCredentials({ credentialKey: KEY, now: () => T0, fetch: failing.fetchImpl });
    await assert.rejects(third.callHeaders(exchangeServer, caller('oauth:alice')), (e: unknown) => e instanceof CredentialError && e.retryable);
    const down = new DownstreamCredentials({ credentialKey: KEY, now: () => T0, fetch: (async () => { throw new TypeError('fetch failed'); }) as typeof fetch });
    await assert.rejects(down.callHeaders(exchangeServer, caller('oauth:alice')), (e: unknown) => e instanceof CredentialError && e.retryable);
  });

  it("gives a tenantSecret server the calling tenant's header, and refuses a tenant without one", async () => {
    const team = server({ mode: 'tenantSecret', header: 'X-Team-Key', tenants: { acme: 'acme-secret' } });
    const credentials = new DownstreamCredentials();
    assert.deepEqual(await credentials.callHeaders(team, { tenant: 'acme', subject: 'apikey:1' }), { 'x-team-key': 'acme-secret' });
    await assert.rejects(credentials.callHeaders(team, { tenant: 'globex', subject: 'apikey:2' }), (e: unknown) => e instanceof CredentialError && !e.retryable && !e.message.includes('acme-secret'));
  });
});
