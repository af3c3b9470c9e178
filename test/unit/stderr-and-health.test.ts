// A stdio server's stderr stays in the operator's log: callers and /readyz get a fixed reason
// ("exited with code 1"), and /readyz shows server detail only to loopback or an admin key.
// Real parts: the stdio fixture (test/support/stdio-server.ts) as a real child process, the real
// downstream pool and the gateway app driven with app.request and a socket address as
// @hono/node-server reports it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { DownstreamError } from '../../src/downstream/errors.js';
import { DownstreamPool } from '../../src/downstream/pool.js';
import { createGatewayApp } from '../../src/gateway/app.js';
import { createLogger } from '../../src/observability/log.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SECRET = 'hunter2-0f9e8d7c';
const MEMBER_KEY = 'member-key-0123456789abcdef';
const ADMIN_KEY = 'admin-key-0123456789abcdef';
// Slow reconnects: the crashed servers stay down for the whole test.
const BACKOFF = { initialMs: 60_000, maxMs: 60_000, healthCheckMs: 60_000, connectTimeoutMs: 15_000 };

function stdioFixture(id: string, crashFile: string) {
  return {
    id,
    transport: 'stdio',
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'test', 'support', 'stdio-server.ts')],
    cwd: ROOT,
    env: { STDIO_SECRET: SECRET, STDIO_CRASH_FILE: crashFile },
  };
}

async function rejection(promise: Promise<unknown>): Promise<DownstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DownstreamError, `expected a DownstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('a stdio server that prints a secret to stderr and exits', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-stderr-'));
  const operatorLog: string[] = [];
  let config: Config;
  let pool: DownstreamPool;

  before(async () => {
    // "atstart" crashes at every start; "midcall" runs until its `crash` tool is called.
    writeFileSync(join(dir, 'atstart'), 'crashed');
    config = parseConfig(
      {
        source: 'test.yaml',
        raw: {
          servers: [stdioFixture('atstart', join(dir, 'atstart')), stdioFixture('midcall', join(dir, 'midcall'))],
          tenants: [{ id: 'acme', apiKeys: [MEMBER_KEY], adminApiKeys: [ADMIN_KEY] }],
        },
      },
      {},
    );
    pool = new DownstreamPool(config.servers, createLogger('warn', 'test', (line) => operatorLog.push(line)), BACKOFF);
    await pool.start();
  });

  after(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives callers "exited with code 1", never the stderr line, and keeps stderr in the operator log', async () => {
    const atStart = pool.get('atstart')!;
    assert.equal(atStart.status().state, 'down');
    assert.equal(atStart.status().lastError, 'exited with code 1');
    const refused = await rejection(atStart.callTool('echo', { message: 'x' }, { timeoutMs: 5_000 }));
    assert.equal(refused.message, 'downstream server "atstart" is not connected (exited with code 1)');

    const midCall = pool.get('midcall')!;
    assert.equal(midCall.status().state, 'ready');
    const crashed = await rejection(midCall.callTool('crash', {}, { timeoutMs: 5_000 }));
    assert.ok(!crashed.message.includes(SECRET), crashed.message);
    assert.equal(midCall.status().state, 'down');
    assert.equal(midCall.status().lastError, 'exited with code 1');
    const next = await rejection(midCall.callTool('echo', { message: 'x' }, { timeoutMs: 5_000 }));
    assert.equal(next.message, 'downstream server "midcall" is not connected (exited with code 1)');

    assert.ok(!JSON.stringify(pool.status()).includes(SECRET), JSON.stringify(pool.status()));
    const logged = operatorLog.join('');
    assert.ok(logged.includes(`password=${SECRET}`), 'the operator log keeps the stderr line');
  });

  describe('/readyz and /healthz', () => {
    // The health endpoints read only the pool and Temporal's reachability; no tool is called here.
    const healthApp = () =>
      createGatewayApp({
        config,
        catalog: undefined as never,
        calls: undefined as never,
        deadLetters: undefined as never,
        sagas: undefined as never,
        log: createLogger('silent'),
        pool,
        temporalReachable: async () => true,
        allowedHosts: [],
        allowedOrigins: [],
      }).app;
    const readyz = async (socket: { remoteAddress: string } | undefined, headers: Record<string, string> = {}) => {
      const app = healthApp();
      // @hono/node-server passes the Node request as `incoming`; its socket has the peer address.
      const response = await app.request('/readyz', { headers }, socket === undefined ? {} : { incoming: { socket } });
      return { status: response.status, text: await response.text() };
    };

    it('answers an unauthenticated caller from elsewhere with the status alone', async () => {
      for (const [socket, headers] of [
        [{ remoteAddress: '203.0.113.7' }, {}],
        [{ remoteAddress: '::ffff:198.51.100.2' }, {}],
        [{ remoteAddress: '203.0.113.7' }, { authorization: `Bearer ${MEMBER_KEY}` }],
        [{ remoteAddress: '203.0.113.7' }, { authorization: 'Bearer not-a-key-0123456789' }],
        // A proxy on the same host connects from loopback for anyone.
        [{ remoteAddress: '127.0.0.1' }, { 'x-forwarded-for': '203.0.113.7' }],
        [{ remoteAddress: '::1' }, { forwarded: 'for=203.0.113.7' }],
        [undefined, {}],
      ] as const) {
        const answer = await readyz(socket, headers);
        assert.equal(answer.status, 200);
        assert.deepEqual(JSON.parse(answer.text), { status: 'degraded' }, `${JSON.stringify(socket)} ${JSON.stringify(headers)}`);
      }
    });

    it('shows loopback and admin keys each server with its fixed reason, never the secret', async () => {
      for (const [socket, headers] of [
        [{ remoteAddress: '127.0.0.1' }, {}],
        [{ remoteAddress: '::1' }, {}],
        [{ remoteAddress: '::ffff:127.0.0.1' }, {}],
        [{ remoteAddress: '203.0.113.7' }, { authorization: `Bearer ${ADMIN_KEY}` }],
      ] as const) {
        const answer = await readyz(socket, headers);
        const body = JSON.parse(answer.text) as { status: string; servers: Array<{ id: string; state: string; lastError?: string }> };
        assert.equal(body.status, 'degraded');
        assert.deepEqual(
          body.servers.map((s) => [s.id, s.state, s.lastError]),
          [
            ['atstart', 'down', 'exited with code 1'],
            ['midcall', 'down', 'exited with code 1'],
          ],
        );
        assert.ok(!answer.text.includes(SECRET), answer.text);
      }
    });

    it('/healthz says ok and nothing else', async () => {
      const response = await healthApp().request('/healthz', {}, { incoming: { socket: { remoteAddress: '203.0.113.7' } } });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ok' });
    });
  });
});
