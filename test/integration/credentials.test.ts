// Per-user downstream credentials (docs/security.md, "Per-user downstream credentials"), against
// a real authorization server (oidc-provider, test/support/auth-server.ts, with an RFC 8693 grant)
// and two downstream servers that demand credentials on every request
// (test/support/protected-server.ts):
//   crm   tokenExchange: each caller's OAuth token is exchanged in the worker, at call time, for a
//         JWT of the crm audience; the broker's own requests carry a client_credentials token;
//   team  tenantSecret: each tenant's own header; the broker's own requests the static headers.
// Then: an API-key caller of crm is refused at the front door; a tenant without a secret gets a
// failed call that never reached the server; and no token or secret is in any Temporal history
// or in the broker's debug logs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { AuthServer } from '../support/auth-server.js';
import { ProtectedServer } from '../support/protected-server.js';
import { Stack, textOf } from '../support/stack.js';

const CRM = 'https://crm.example';
const ACME_KEY = 'acme-key-0123456789abcdef';
const GLOBEX_KEY = 'globex-key-0123456789abcdef';
const EXCHANGE_SECRET = 'exchange-secret-0123456789';
const TEAM_SECRET = 'team-acme-secret-0123456789';
const BROKER_SECRET = 'team-broker-secret-0123456789';

/** Every byte string in a history, decoded: payloads are JSON inside Uint8Arrays. */
function textOfHistory(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) textOfHistory(item, out);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) textOfHistory(item, out);
  return out;
}

describe('per-user downstream credentials', { timeout: 300_000 }, () => {
  const resources: Record<string, string> = { [CRM]: 'crm' };
  const tenantOf: Record<string, string> = { 'svc-alice': 'acme', 'svc-bob': 'acme' };
  const clients = [
    { clientId: 'svc-alice', secret: 'svc-alice-secret-0123456789' },
    { clientId: 'svc-bob', secret: 'svc-bob-secret-0123456789' },
    { clientId: 'switchyard-exchange', secret: EXCHANGE_SECRET, tokenExchange: true },
  ];
  const as = new AuthServer({ resources, tenantOf: (who) => tenantOf[who], clients, exchangeAudiences: [CRM], exchangeTtlSec: 600 });
  const crm = new ProtectedServer(async (headers) => {
    const token = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '')?.[1];
    if (token === undefined) return undefined;
    try {
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${as.issuer}/jwks`)), { issuer: as.issuer, audience: CRM });
      return { sub: payload.sub, act: (payload.act as { sub?: string } | undefined)?.sub ?? null, aud: payload.aud };
    } catch {
      return undefined;
    }
  });
  const team = new ProtectedServer(async (headers) => {
    const presented = headers.get('authorization');
    if (presented === `Bearer ${TEAM_SECRET}`) return { sub: 'acme-team' };
    if (presented === `Bearer ${BROKER_SECRET}`) return { sub: 'broker' };
    return undefined;
  });
  let mcpUrl = '';
  const previousLogLevel = process.env.SWITCHYARD_TEST_LOG;
  const stack = new Stack({
    withEverything: false,
    syncWaitMs: 10_000,
    retry: { maxAttempts: 2, initialIntervalMs: 100, maxIntervalMs: 200 },
    tenants: [
      { id: 'acme', apiKeys: [ACME_KEY] },
      { id: 'globex', apiKeys: [GLOBEX_KEY] },
    ],
    configure: (config) => {
      mcpUrl = `http://127.0.0.1:${(config.gateway as { port: number }).port}/mcp`;
      resources[mcpUrl] = 'mcp';
      config.servers.push(
        {
          id: 'crm',
          transport: 'http',
          url: crm.url,
          timeoutMs: 10_000,
          credentials: { mode: 'tokenExchange', tokenEndpoint: `${as.issuer}/token`, clientId: 'switchyard-exchange', clientSecret: EXCHANGE_SECRET, audience: CRM, resource: CRM, connectionAuth: 'clientCredentials' },
        },
        { id: 'team', transport: 'http', url: team.url, timeoutMs: 10_000, headers: { authorization: `Bearer ${BROKER_SECRET}` }, credentials: { mode: 'tenantSecret', tenants: { acme: `Bearer ${TEAM_SECRET}` } } },
      );
      config.auth = { oauth: { issuer: as.issuer, resource: mcpUrl, claims: { tenant: 'tenant' } }, credentialKey: randomBytes(32).toString('base64') };
    },
  });
  const userTokens: string[] = [];
  const userToken = async (clientId: string) => {
    const token = await as.serviceToken(clientId, mcpUrl, 'mcp');
    userTokens.push(token);
    return token;
  };

  before(async () => {
    process.env.SWITCHYARD_TEST_LOG = 'debug';
    await as.start();
    await crm.start();
    await team.start();
    await stack.start();
    await stack.waitForReady();
  });
  after(async () => {
    if (previousLogLevel === undefined) delete process.env.SWITCHYARD_TEST_LOG;
    else process.env.SWITCHYARD_TEST_LOG = previousLogLevel;
    await stack.stop();
    await crm.stop();
    await team.stop();
    await as.stop();
  });

  it("gives the tool server a token of its own audience for each caller, exchanged once per user, never the caller's token", async () => {
    const alice = await userToken('svc-alice');
    const bob = await userToken('svc-bob');
    const asAlice = await stack.client({ authorization: `Bearer ${alice}` });
    const asBob = await stack.client({ authorization: `Bearer ${bob}` });
    try {
      const tools = (await asAlice.listTools()).tools.map((t) => t.name);
      assert.ok(tools.includes('crm.whoami'), `the broker listed crm's tools with its own client_credentials token: ${tools.join(', ')}`);
      const first = await asAlice.callTool({ name: 'crm.whoami', arguments: {} });
      assert.deepEqual(first.structuredContent, { sub: 'svc-alice', act: 'switchyard-exchange', aud: CRM }, textOf(first));
      const second = await asBob.callTool({ name: 'crm.whoami', arguments: {} });
      assert.deepEqual(second.structuredContent, { sub: 'svc-bob', act: 'switchyard-exchange', aud: CRM }, textOf(second));
      const again = await asAlice.callTool({ name: 'crm.whoami', arguments: { note: 'again' } });
      assert.equal((again.structuredContent as { sub: string }).sub, 'svc-alice');
      const exchanged = as.exchanges.filter((e) => e.audience === CRM);
      assert.deepEqual(exchanged.map((e) => e.subject).sort(), ['svc-alice', 'svc-bob'], "alice's second call reused her exchanged token");
      assert.ok(exchanged.every((e) => e.clientId === 'switchyard-exchange'));
      for (const token of [alice, bob]) assert.ok(!crm.credentials.some((c) => c.includes(token)), "a caller's own token never reached the tool server");
    } finally {
      await asAlice.close();
      await asBob.close();
    }
  });

  it('refuses an API-key caller of a token-exchange tool at the front door, before anything runs', async () => {
    const calls = crm.calls.length;
    const client = await stack.client({ authorization: `Bearer ${ACME_KEY}` });
    try {
      await assert.rejects(client.callTool({ name: 'crm.whoami', arguments: {} }), (error: unknown) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, -32004);
        assert.match(error.message, /acts as the signed-in user: call it with an OAuth access token/);
        return true;
      });
      assert.equal(crm.calls.length, calls, 'the tool server was not called');
    } finally {
      await client.close();
    }
  });

  it("sends each tenant's own secret to a tenantSecret server, and fails a tenant without one before sending", async () => {
    const acme = await stack.client({ authorization: `Bearer ${ACME_KEY}` });
    const globex = await stack.client({ authorization: `Bearer ${GLOBEX_KEY}` });
    try {
      const own = await acme.callTool({ name: 'team.whoami', arguments: {} });
      assert.deepEqual(own.structuredContent, { sub: 'acme-team' }, textOf(own));
      const calls = team.calls.length;
      const refused = await globex.callTool({ name: 'team.whoami', arguments: {} });
      assert.equal(refused.isError, true);
      assert.match(textOf(refused), /server "team" has no credential for tenant "globex"/);
      assert.ok(!textOf(refused).includes(TEAM_SECRET));
      assert.equal(team.calls.length, calls, 'nothing reached the tool server');
    } finally {
      await acme.close();
      await globex.close();
    }
  });

  it('keeps every token and secret out of Temporal histories and the debug logs', async () => {
    const secrets = [...userTokens, ...crm.credentials.map((c) => c.replace(/^Bearer /, '')), TEAM_SECRET, EXCHANGE_SECRET];
    assert.ok(crm.credentials.length >= 3, 'the crm server saw exchanged tokens');
    let histories = 0;
    for await (const execution of stack.temporalClient.workflow.list()) {
      const history = await stack.temporalClient.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      const text = textOfHistory(history).join('\n');
      histories++;
      for (const secret of secrets) assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 12)}…) is in the history of ${execution.workflowId}`);
    }
    assert.ok(histories > 0);
    const logs = stack.logs();
    assert.match(logs, /\bDEBUG\b/, "the processes logged at debug level");
    for (const secret of secrets) assert.ok(!logs.includes(secret), `a secret (${secret.slice(0, 12)}…) is in the logs`);
  });
});
