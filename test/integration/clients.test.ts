// Third-party and whole-product checks: the MCP Inspector CLI talks to the broker, and
// `switchyard dev` (what `npm start` runs) brings everything up and down with one command.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stringify } from 'yaml';
import { demoConfig } from '../../src/config/demo.js';
import { Stack } from '../support/stack.js';
import { freePort, waitFor } from '../support/ports.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');

describe('MCP Inspector CLI through the broker', { timeout: 180_000 }, () => {
  const stack = new Stack();
  // inspector-cli 1.0.3 looks for its package.json relative to the working directory, so it
  // runs from its own build folder.
  const inspector = createRequire(import.meta.url).resolve('@modelcontextprotocol/inspector-cli/build/index.js');

  before(async () => {
    await stack.start();
    await stack.waitForReady();
  });
  after(() => stack.stop());

  const inspect = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [inspector, stack.mcpUrl, '--transport', 'http', ...args], { cwd: dirname(inspector), timeout: 60_000 });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it('lists the aggregated tools', async () => {
    const { tools } = (await inspect('--method', 'tools/list')) as { tools: Array<{ name: string }> };
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('everything.echo'));
    assert.ok(names.includes('fixture.add'));
    assert.ok(names.includes('switchyard.get_call'));
  });

  it('calls a tool and gets the downstream result with a correlation id', async () => {
    const result = (await inspect('--method', 'tools/call', '--tool-name', 'everything.echo', '--tool-arg', 'message=from-inspector')) as {
      content: Array<{ text: string }>;
      _meta: Record<string, string>;
    };
    assert.equal(result.content[0]?.text, 'Echo: from-inspector');
    // A call answered on the fast path: a UUID behind the route of the shard workflow that ran it.
    assert.match(result._meta['switchyard/correlation_id']!, /^s\d+\.[0-9a-f-]{36}$/);
  });
});

describe('switchyard dev', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-dev-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('starts Temporal, worker and gateway, serves a call, and stops cleanly on Ctrl-C', async () => {
    const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(join(dir, 'switchyard.yaml'), stringify({ ...demoConfig(), gateway: { port }, temporal: { port: temporalPort, uiPort, dataDir: join(dir, 'data') } }));
    // No --config: ./switchyard.yaml in the working directory is picked up.
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'switchyard.js'), 'dev'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor('banner', () => output.includes('Press Ctrl-C to stop.'), 90_000, 200);
      assert.match(output, new RegExp(`MCP endpoint:  http://127\\.0\\.0\\.1:${port}/mcp`));
      assert.match(output, new RegExp(`Temporal UI:   http://127\\.0\\.0\\.1:${uiPort}`));
      assert.match(output, /Auth: +none: one "default" tenant/);
      const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
      assert.equal(ui.status, 200, 'the Web UI answers');

      const client = new Client({ name: 'dev-test', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
      const result = await client.callTool({ name: 'everything.echo', arguments: { message: 'dev' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: dev' }]);
      await client.close();
      assert.ok(existsSync(join(dir, 'data', 'temporal.db')), 'the dev server keeps its state in the data dir');
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, output);
    await assert.rejects(fetch(`http://127.0.0.1:${uiPort}/`), 'the embedded Temporal server stopped too');
  });
});
