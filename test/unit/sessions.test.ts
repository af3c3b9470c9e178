// Session caps (src/gateway/sessions.ts): per tenant and in total, each refusal naming its limit,
// slots given back when a session ends, and idle sessions closed. Real MCP initializes through the
// SDK's Streamable HTTP transport; no Temporal is needed because no tool is called.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { HandlerDeps } from '../../src/gateway/handlers.js';
import type { Principal } from '../../src/gateway/middleware/auth.js';
import { SessionRegistry, type SessionOptions } from '../../src/gateway/sessions.js';
import { createLogger } from '../../src/observability/log.js';

const principal = (tenant: string): Principal => ({ tenant, subject: `apikey:${tenant}`, admin: false });

const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cap-test', version: '1' } } };

function request(init: { method?: string; sessionId?: string; body?: unknown } = {}): Request {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (init.sessionId !== undefined) headers['mcp-session-id'] = init.sessionId;
  return new Request('http://127.0.0.1/mcp', {
    method: init.method ?? 'POST',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

let registries: SessionRegistry[] = [];
afterEach(async () => {
  await Promise.all(registries.map((r) => r.closeAll()));
  registries = [];
});

function registry(options: Partial<SessionOptions>): SessionRegistry {
  // Only what an initialize touches: no catalog or Temporal, because no tool is called here.
  const deps = { log: createLogger('silent') } as unknown as HandlerDeps;
  const r = new SessionRegistry(deps, { idleTimeoutMs: 3_600_000, max: 100, maxPerTenant: 100, maxAgeMs: 86_400_000, ...options });
  registries.push(r);
  return r;
}

async function initialize(r: SessionRegistry, tenant: string): Promise<{ status: number; sessionId: string | null; error?: { code: number; message: string }; retryAfter: string | null }> {
  const response = await r.handle(request({ body: INITIALIZE }), principal(tenant), INITIALIZE);
  const sessionId = response.headers.get('mcp-session-id');
  const retryAfter = response.headers.get('retry-after');
  if (response.status !== 200) {
    const body = (await response.json()) as { error: { code: number; message: string } };
    return { status: response.status, sessionId, error: body.error, retryAfter };
  }
  await response.body?.cancel();
  return { status: response.status, sessionId, retryAfter };
}

describe('session caps', () => {
  it('a tenant at its cap is refused, naming gateway.sessions.maxPerTenant, and another tenant still opens sessions', async () => {
    const r = registry({ maxPerTenant: 2, max: 10 });
    for (let i = 0; i < 2; i++) assert.equal((await initialize(r, 'acme')).status, 200);

    const refused = await initialize(r, 'acme');
    assert.equal(refused.status, 429);
    assert.equal(refused.sessionId, null);
    assert.equal(refused.error?.code, -32000);
    assert.match(refused.error?.message ?? '', /gateway\.sessions\.maxPerTenant/);
    assert.match(refused.error?.message ?? '', /\b2 open\b/);
    assert.equal(refused.retryAfter, '5');
    assert.equal(r.sizeOf('acme'), 2);

    for (let i = 0; i < 2; i++) {
      const globex = await initialize(r, 'globex');
      assert.equal(globex.status, 200, 'acme at its cap does not stop globex');
      assert.ok(globex.sessionId);
    }
    assert.equal(r.size, 4);
    assert.equal(r.sizeOf('globex'), 2);
  });

  it('the gateway-wide cap is refused with 503, naming gateway.sessions.max', async () => {
    const r = registry({ maxPerTenant: 2, max: 3 });
    assert.equal((await initialize(r, 'acme')).status, 200);
    assert.equal((await initialize(r, 'acme')).status, 200);
    assert.equal((await initialize(r, 'globex')).status, 200);
    const refused = await initialize(r, 'globex');
    assert.equal(refused.status, 503);
    assert.match(refused.error?.message ?? '', /gateway\.sessions\.max\b/);
    assert.equal(r.size, 3);
  });

  it('concurrent initializes cannot overshoot the cap', async () => {
    const r = registry({ maxPerTenant: 3, max: 100 });
    const answers = await Promise.all(Array.from({ length: 8 }, () => initialize(r, 'acme')));
    assert.equal(answers.filter((a) => a.status === 200).length, 3);
    assert.equal(answers.filter((a) => a.status === 429).length, 5);
    assert.equal(r.size, 3);
  });

  it('gives the slot back when a session is deleted, and a refusal takes none', async () => {
    const r = registry({ maxPerTenant: 1, max: 10 });
    const first = await initialize(r, 'acme');
    assert.equal(first.status, 200);
    assert.equal((await initialize(r, 'acme')).status, 429);
    const deleted = await r.handle(request({ method: 'DELETE', sessionId: first.sessionId! }), principal('acme'), undefined);
    assert.equal(deleted.status, 200);
    assert.equal(r.sizeOf('acme'), 0);
    assert.equal(r.size, 0);
    const again = await initialize(r, 'acme');
    assert.equal(again.status, 200, 'the deleted session’s slot is free again');
    assert.equal(r.sizeOf('acme'), 1);
  });

  it('closes sessions idle for gateway.sessions.idleTimeoutMs and frees their slots', async () => {
    const r = registry({ maxPerTenant: 1, max: 10, idleTimeoutMs: 50 });
    const first = await initialize(r, 'acme');
    assert.equal(first.status, 200);
    const deadline = Date.now() + 2_000;
    while (r.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(r.size, 0);
    assert.equal(r.sizeOf('acme'), 0);
    const stale = await r.handle(request({ sessionId: first.sessionId!, body: { jsonrpc: '2.0', id: 2, method: 'ping' } }), principal('acme'), { jsonrpc: '2.0', id: 2, method: 'ping' });
    assert.equal(stale.status, 404);
    assert.equal((await initialize(r, 'acme')).status, 200);
  });
});

describe('sealed session ids', () => {
  const KEY = 'a-shared-session-key-of-32-characters!';
  const PING = { jsonrpc: '2.0', id: 2, method: 'ping' };
  const ping = (r: SessionRegistry, sessionId: string, tenant = 'acme') => r.handle(request({ sessionId, body: PING }), principal(tenant), PING);

  it('lets any gateway with the same key serve a session another opened, and no other gateway or tenant', async () => {
    const a = registry({ key: KEY });
    const b = registry({ key: KEY });
    const c = registry({ key: 'another-key-of-at-least-32-characters' });
    const { sessionId } = await initialize(a, 'acme');
    assert.equal(b.size, 0, 'b holds nothing');
    const served = await ping(b, sessionId!);
    assert.equal(served.status, 200, 'b serves the session of a from the id alone');
    const answer = (await served.text()).split('\n').find((line) => line.startsWith('data:'));
    assert.deepEqual(JSON.parse(answer!.slice(5)), { jsonrpc: '2.0', id: 2, result: {} });
    assert.equal((await ping(c, sessionId!)).status, 404, 'a gateway with another key cannot');
    assert.equal((await ping(b, sessionId!, 'globex')).status, 404, 'another tenant cannot');
    const tampered = sessionId!.replace(/\.([^.]*)\./, (_, payload: string) => `.${Buffer.from(Buffer.from(payload, 'base64url').toString('utf8').replace('acme', 'acmf'), 'utf8').toString('base64url')}.`);
    assert.notEqual(tampered, sessionId);
    assert.equal((await ping(b, tampered, 'acmf')).status, 404, 'an altered id does not open');

    const stream = await b.handle(request({ method: 'GET', sessionId: sessionId! }), principal('acme'), undefined);
    assert.equal(stream.status, 405, 'only the holding gateway has the stream');
    const reinit = await b.handle(request({ sessionId: sessionId!, body: INITIALIZE }), principal('acme'), INITIALIZE);
    assert.equal(reinit.status, 400, 'initialize with a session id opens nothing');
  });

  it('refuses a session id after gateway.sessions.maxAgeMs, and one ended on this gateway', async () => {
    const a = registry({ key: KEY, maxAgeMs: 200 });
    const b = registry({ key: KEY, maxAgeMs: 200 });
    const { sessionId } = await initialize(a, 'acme');
    const held = (await initialize(a, 'acme')).sessionId!;
    const ended = await a.handle(request({ method: 'DELETE', sessionId: sessionId! }), principal('acme'), undefined);
    assert.equal(ended.status, 200);
    assert.equal((await ping(a, sessionId!)).status, 404, 'ended here: refused here');
    assert.equal((await ping(b, sessionId!)).status, 200, 'a seal cannot be revoked on other gateways before it expires');
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal((await ping(b, sessionId!)).status, 404, 'expired everywhere');
    assert.equal((await ping(a, held)).status, 404, 'also on the gateway that holds it');
    assert.equal(a.size, 0, 'and it is closed there');
    const reinit = await b.handle(request({ sessionId: held, body: INITIALIZE }), principal('acme'), INITIALIZE);
    assert.equal(reinit.status, 404, 'an expired id opens nothing');
  });
});
