// API keys map callers to tenants, and every lookup is tenant-scoped: one tenant cannot see or
// cancel another's calls, nor reuse its session.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Stack, correlationIdOf, textOf } from '../support/stack.js';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';

describe('tenancy', { timeout: 180_000 }, () => {
  const stack = new Stack({
    withEverything: false,
    syncWaitMs: 500,
    tenants: [
      { id: 'acme', apiKeys: [ACME] },
      { id: 'globex', apiKeys: [GLOBEX] },
    ],
  });
  before(async () => {
    await stack.start();
    await stack.waitForReady();
  });
  after(() => stack.stop());

  it('refuses requests without a key or with an unknown key: 401 with a JSON-RPC body, no secret echoed', async () => {
    for (const authorization of [undefined, 'Bearer not-a-real-key-at-all']) {
      const response = await fetch(stack.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      const text = await response.text();
      assert.equal((JSON.parse(text) as { error: { code: number } }).error.code, -32001);
      assert.ok(!text.includes('not-a-real-key'), 'the presented key is not echoed');
    }
  });

  it('scopes calls to the caller tenant', async () => {
    const acme = await stack.client({ authorization: `Bearer ${ACME}` });
    const globex = await stack.client({ authorization: `Bearer ${GLOBEX}` });
    const accepted = await acme.callTool({ name: 'fixture.slow', arguments: { ms: 1_500, tag: 'acme' } });
    const correlationId = correlationIdOf(accepted);

    const peek = await globex.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
    assert.equal(peek._meta?.['switchyard/status'], 'not_found');
    const cancel = await globex.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: correlationId } });
    assert.equal(cancel._meta?.['switchyard/status'], 'not_found');

    const own = await acme.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
    assert.notEqual(own._meta?.['switchyard/status'], 'not_found');
    const description = await stack.temporalClient.workflow.getHandle(`switchyard/acme/call/${correlationId}`).describe();
    assert.equal(description.typedSearchAttributes.get({ name: 'SwitchyardTenant', type: 'KEYWORD' } as never), 'acme');

    // The same idempotency key in two tenants is two different calls.
    const a = await acme.callTool({ name: 'fixture.echo', arguments: { message: 'a' }, _meta: { 'switchyard/idempotency_key': 'shared' } });
    const g = await globex.callTool({ name: 'fixture.echo', arguments: { message: 'g' }, _meta: { 'switchyard/idempotency_key': 'shared' } });
    assert.equal(textOf(a), 'a');
    assert.equal(textOf(g), 'g');
    assert.notEqual(correlationIdOf(a), correlationIdOf(g));
    await acme.close();
    await globex.close();
  });

  it('does not let another tenant use a session it did not open', async () => {
    const acme = await stack.client({ authorization: `Bearer ${ACME}` });
    const sessionId = (acme.transport as { sessionId?: string }).sessionId!;
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${GLOBEX}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
    });
    assert.equal(response.status, 404);
    await acme.close();
  });
});
