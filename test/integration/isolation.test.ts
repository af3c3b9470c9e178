// Tenant isolation of what downstream servers say, through `switchyard dev` (one process whose
// worker shares the gateway's downstream pool, so a tool call's stdio log messages reach the
// gateway's connections): tenant A's tool-call logs never reach tenant B's session, and a stdio
// server that prints a secret to stderr and exits never puts it in a call result, /readyz, a
// dead letter or a Temporal history, only in the operator's log.
// Real parts: a Temporal dev server, the `switchyard dev` process, the stdio fixture
// (test/support/stdio-server.ts) as child processes of it, MCP clients over Streamable HTTP.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { createLogger } from '../../src/observability/log.js';
import { findTemporalCli } from '../../src/temporal/cli-path.js';
import { DevServer } from '../../src/temporal/dev-server.js';
import { freePort, waitFor } from '../support/ports.js';
import { correlationIdOf, textOf } from '../support/stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'switchyard.js');
const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const SECRET = 'pg-password-5f4dcc3b5aa765d6';

describe('isolation through switchyard dev (worker and gateway share one pool)', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-isolation-'));
  let temporal: DevServer;
  let connection: Connection;
  let temporalClient: Client;
  let dev: ChildProcess | undefined;
  let output = '';
  let port = 0;
  const clients: McpClient[] = [];

  const fixture = (id: string) => ({
    id,
    transport: 'stdio',
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'test', 'support', 'stdio-server.ts')],
    cwd: ROOT,
    env: { STDIO_SECRET: SECRET, STDIO_CRASH_FILE: join(dir, `${id}.crashed`) },
  });

  async function client(key: string): Promise<McpClient> {
    const c = new McpClient({ name: 'isolation-test', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    clients.push(c);
    return c;
  }

  before(async () => {
    const cliPath = findTemporalCli(process.env);
    if (cliPath === undefined) throw new Error('no Temporal CLI: run `npm run provision` first');
    temporal = new DevServer({ cliPath, dataDir: join(dir, 'temporal'), namespace: 'default', port: await freePort(), uiPort: 1, headless: true, log: createLogger('silent') });
    await temporal.start();
    connection = await Connection.connect({ address: temporal.address });
    temporalClient = new Client({ connection, namespace: 'default' });
    port = await freePort();
    const configPath = join(dir, 'switchyard.yaml');
    writeFileSync(
      configPath,
      stringify({
        gateway: { port },
        temporal: { address: temporal.address },
        worker: { heartbeatTimeoutMs: 2_000 },
        servers: [fixture('logger'), fixture('crashy')],
        tenants: [
          { id: 'acme', apiKeys: [ACME] },
          { id: 'globex', apiKeys: [GLOBEX] },
        ],
        defaults: { syncWaitMs: 30_000, deadlineMs: 60_000, retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 300 } },
      }),
    );
    dev = spawn(process.execPath, [BIN, 'dev', '--config', configPath, '--log-level', 'warn'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (process.env.SWITCHYARD_TEST_LOG) process.stderr.write(chunk);
    };
    dev.stdout?.on('data', collect);
    dev.stderr?.on('data', collect);
    await waitFor('switchyard dev to start', () => output.includes('Switchyard dev is running') || (dev?.exitCode !== null ? Promise.reject(new Error(output)) : undefined), 90_000);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    if (dev && dev.exitCode === null) {
      const exited = new Promise((r) => dev!.once('exit', r));
      dev.kill('SIGKILL');
      await exited;
    }
    await connection?.close().catch(() => undefined);
    await temporal?.stop().catch(() => undefined);
    if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
  });

  it('a stdio tool that logs while tenant A calls it sends nothing to tenant B’s session', async () => {
    const acme = await client(ACME);
    const globex = await client(GLOBEX);
    const seenByGlobex: unknown[] = [];
    globex.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      seenByGlobex.push(n.params.data);
    });
    await globex.setLoggingLevel('debug');

    for (let i = 0; i < 3; i++) {
      const result = await acme.callTool({ name: 'logger.chatty', arguments: { tag: `acme-invoice-${i}` } });
      assert.equal(textOf(result), `chatty acme-invoice-${i}`);
      assert.equal(result._meta?.['switchyard/status'], 'completed');
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(seenByGlobex, []);
  });

  it('keeps a crashed stdio server’s stderr out of call results, /readyz, dead letters and histories', async () => {
    const acme = await client(ACME);
    // The crash is sent, then the connection breaks: a non-idempotent call's outcome is unknown.
    const crashed = await acme.callTool({ name: 'crashy.crash', arguments: {} });
    assert.equal(crashed._meta?.['switchyard/status'], 'dead_lettered');
    // The server now exits at every start: the next call finds it down and is retried until it
    // is dead-lettered with the last reason, which is the exit code alone.
    const refused = await acme.callTool({ name: 'crashy.echo', arguments: { message: 'hello' } });
    assert.equal(refused._meta?.['switchyard/status'], 'dead_lettered');
    assert.match(textOf(refused), /downstream server "crashy" is not connected \(exited with code 1\)/);

    const readyz = await waitFor('crashy down in /readyz', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/readyz`)).text();
      const body = JSON.parse(text) as { servers: Array<{ id: string; state: string; lastError?: string }> };
      const crashy = body.servers.find((s) => s.id === 'crashy');
      return crashy?.state !== 'ready' && crashy?.lastError !== undefined ? { text, crashy } : undefined;
    });
    assert.equal(readyz.crashy.lastError, 'exited with code 1');

    const ids = [correlationIdOf(crashed), correlationIdOf(refused)];
    const histories: string[] = [];
    for (const id of ids) {
      for (const workflowId of [`switchyard/acme/call/${id}`, `switchyard/acme/dead-letter/${id}`]) {
        histories.push(JSON.stringify(await temporalClient.workflow.getHandle(workflowId).fetchHistory()));
      }
    }
    const dlq = await new Promise<string>((resolveOutput) => {
      const child = spawn(process.execPath, [BIN, 'dlq', 'show', ids[1]!, '--tenant', 'acme', '--config', join(dir, 'switchyard.yaml'), '--log-level', 'error'], { cwd: dir });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (text += c.toString('utf8')));
      child.once('exit', () => resolveOutput(text));
    });
    assert.match(dlq, /exited with code 1/);

    for (const [where, text] of [
      ['the crash call’s result', JSON.stringify(crashed)],
      ['the next call’s result', JSON.stringify(refused)],
      ['/readyz', readyz.text],
      ['the dead letter (dlq show)', dlq],
      ...histories.map((h, i) => [`history ${i}`, h] as const),
    ] as const) {
      assert.ok(!text.includes(SECRET), `${where} must not contain the server's stderr: ${text.slice(0, 2_000)}`);
    }
    assert.ok(output.includes(`password=${SECRET}`), 'the operator’s log keeps the stderr line');
  });
});
