// The codes a pass-through request fails with (src/gateway/passthrough.ts, codes in jsonrpc.ts):
// a downstream server that does not answer within its timeoutMs is SERVER_TIMEOUT (-32007), one
// that is down is SERVER_UNAVAILABLE (-32006); they were -32001 and -32000, codes that also meant
// "session not found" and "refused at the transport". Real parts: the stdio fixture as a child
// process, the real pool and Passthrough, an SDK server and client over in-memory linked transports.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { parseConfig } from '../../src/config/load.js';
import { DownstreamPool } from '../../src/downstream/pool.js';
import { SERVER_TIMEOUT, SERVER_UNAVAILABLE } from '../../src/gateway/jsonrpc.js';
import { Passthrough } from '../../src/gateway/passthrough.js';
import { createLogger } from '../../src/observability/log.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

describe('pass-through failures', { timeout: 60_000 }, () => {
  const crashFile = join(mkdtempSync(join(tmpdir(), 'switchyard-passthrough-')), 'crashed');
  let pool: DownstreamPool;
  let passthrough: Passthrough;
  let client: Client;

  before(async () => {
    const config = parseConfig(
      {
        source: 'test.yaml',
        raw: {
          servers: [
            {
              id: 'slow',
              transport: 'stdio',
              command: process.execPath,
              args: ['--import', 'tsx', join(ROOT, 'test', 'support', 'stdio-server.ts')],
              cwd: ROOT,
              env: { STDIO_CRASH_FILE: crashFile },
              timeoutMs: 500,
            },
          ],
        },
      },
      {},
    );
    pool = new DownstreamPool(config.servers, createLogger('silent'));
    await pool.start();
    assert.equal(pool.get('slow')!.status().state, 'ready');
    passthrough = new Passthrough(pool, { separator: '.', unprefixed: new Set() }, createLogger('silent'), ['acme']);
    passthrough.start();
    const capabilities = passthrough.capabilities();
    const server = new Server({ name: 'switchyard', version: '0' }, { capabilities });
    passthrough.register(server, capabilities, 'acme');
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    client = new Client({ name: 'acme', version: '1' });
    await client.connect(clientSide);
  });

  after(async () => {
    await client?.close();
    passthrough?.stop();
    await pool?.close();
  });

  async function failure(promise: Promise<unknown>): Promise<McpError> {
    const error = await promise.then(
      () => assert.fail('expected the request to fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof McpError, String(error));
    return error;
  }

  it('answers in time when the server does', async () => {
    const prompt = await client.getPrompt({ name: 'slow.slow', arguments: { delayMs: '10' } });
    assert.deepEqual(prompt.messages[0]!.content, { type: 'text', text: 'slow after 10 ms' });
  });

  it('is SERVER_TIMEOUT (-32007) past the server\'s timeoutMs', async () => {
    assert.equal(SERVER_TIMEOUT, -32007);
    const error = await failure(client.getPrompt({ name: 'slow.slow', arguments: { delayMs: '3000' } }));
    assert.equal(error.code, -32007, error.message);
  });

  it('is SERVER_UNAVAILABLE (-32006) while the server is down', async () => {
    assert.equal(SERVER_UNAVAILABLE, -32006);
    // The fixture exits and, with its crash file written, crashes again at every restart.
    await pool.get('slow')!.callTool('crash', {}, { timeoutMs: 5_000, scope: {} }).catch(() => undefined);
    for (let i = 0; i < 50 && pool.get('slow')!.status().state === 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.notEqual(pool.get('slow')!.status().state, 'ready');
    const error = await failure(client.getPrompt({ name: 'slow.slow', arguments: { delayMs: '10' } }));
    assert.equal(error.code, -32006, error.message);
  });
});
