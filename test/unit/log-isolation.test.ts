// Which sessions a downstream server's log messages reach (src/gateway/passthrough.ts): a stdio
// server's messages during a tool call reach no other session (in `switchyard dev` the worker's
// tool calls run on the gateway's own pool, as here), and a server-wide message is relayed only
// when one tenant alone can see the server. Real parts: the stdio fixture as a child process, the
// real pool and Passthrough, SDK servers and clients over in-memory linked transports.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseConfig } from '../../src/config/load.js';
import { DownstreamPool } from '../../src/downstream/pool.js';
import { Passthrough } from '../../src/gateway/passthrough.js';
import { createLogger } from '../../src/observability/log.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

interface Session {
  tenant: string;
  logs: string[];
  client: Client;
}

describe('log messages of a stdio server shared by tenants', { timeout: 60_000 }, () => {
  let pool: DownstreamPool;
  let passthrough: Passthrough | undefined;
  const clients: Client[] = [];

  before(async () => {
    const config = parseConfig(
      {
        source: 'test.yaml',
        raw: { servers: [{ id: 'logger', transport: 'stdio', command: process.execPath, args: ['--import', 'tsx', join(ROOT, 'test', 'support', 'stdio-server.ts')], cwd: ROOT }] },
      },
      {},
    );
    pool = new DownstreamPool(config.servers, createLogger('silent'));
    await pool.start();
    assert.equal(pool.get('logger')!.status().state, 'ready');
  });

  afterEach(async () => {
    passthrough?.stop();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  after(() => pool?.close());

  function relayFor(tenants: string[]): Passthrough {
    passthrough = new Passthrough(pool, { separator: '.', unprefixed: new Set() }, createLogger('silent'), tenants);
    passthrough.start();
    return passthrough;
  }

  /** A gateway session of `tenant` as sessions.ts builds it, with an MCP client that records log messages. */
  async function session(relay: Passthrough, tenant: string): Promise<Session> {
    const capabilities = relay.capabilities();
    assert.deepEqual(capabilities.logging, {});
    const server = new Server({ name: 'switchyard', version: '0' }, { capabilities });
    relay.register(server, capabilities, tenant);
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: tenant, version: '1' });
    const logs: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(String(n.params.data));
    });
    await client.connect(clientSide);
    clients.push(client);
    return { tenant, logs, client };
  }

  /** A tool call as the worker's activity makes it: with its own scope, on the shared pool. */
  async function workerCall(tool: string, args: Record<string, unknown>): Promise<void> {
    await pool.get('logger')!.callTool(tool, args, { timeoutMs: 10_000, scope: {} });
  }

  it('a tool call by tenant A that logs reaches no session of tenant B (nor any other session)', async () => {
    const relay = relayFor(['acme', 'globex']);
    const acme = await session(relay, 'acme');
    const globex = await session(relay, 'globex');
    await workerCall('chatty', { tag: 'acme-order-4711' });
    await settle();
    assert.deepEqual(globex.logs, []);
    assert.deepEqual(acme.logs, [], 'a stdio message cannot be tied to the call, so it is not relayed to the caller either');
  });

  it('a server-wide message of a server shared by several tenants is relayed to nobody', async () => {
    const relay = relayFor(['acme', 'globex']);
    const acme = await session(relay, 'acme');
    const globex = await session(relay, 'globex');
    await workerCall('announce', { text: 'shared', delayMs: 100 });
    await settle(600);
    assert.deepEqual(acme.logs, []);
    assert.deepEqual(globex.logs, []);
  });

  it('with one tenant, a server-wide message reaches its sessions at their level, and a tool call’s messages still reach none', async () => {
    const relay = relayFor(['acme']);
    const first = await session(relay, 'acme');
    const quiet = await session(relay, 'acme');
    await quiet.client.setLoggingLevel('error');
    await workerCall('chatty', { tag: 'solo-call' });
    // Sent 100 ms after the answer, with nothing in flight: a server-wide message.
    await workerCall('announce', { text: 'solo', delayMs: 100 });
    await settle(600);
    assert.deepEqual(first.logs, ['announce solo']);
    assert.deepEqual(quiet.logs, [], 'below the session’s level');
  });
});
