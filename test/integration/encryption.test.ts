// Encrypted payloads against a real Temporal dev server (docs/security.md): what Temporal stores
// holds no argument, result or key in plaintext; the codec server gives them back only with its
// token and only to the Web UI's origin; a worker without the key fails loudly; keys rotate.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { findTemporalCli } from '../../src/temporal/cli-path.js';
import { keyWorkflowId, routeOf, callWorkflowId } from '../../src/shared/ids.js';
import { freePort, waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, TEST_ENCRYPTION, textOf } from '../support/stack.js';

const run = promisify(execFile);
type Result = Awaited<ReturnType<McpClient['callTool']>>;

// Distinctive strings that must appear nowhere in what Temporal stores.
const SECRET_ARG = 'alice-4111-1111-1111-1111@example.com';
const SECRET_IDEMPOTENCY = 'order-for-bob@example.com';
const SECRET_FAIL = 'reason-carol-555-0100';
const UI_ORIGIN = 'http://ui.test:8233';
const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');

describe('encrypted payloads', { timeout: 600_000 }, () => {
  let codecPort = 0;
  const stack = new Stack({
    encryption: true,
    withEverything: false,
    syncWaitMs: 8_000,
    configure: (config) => {
      // Calls of fixture.echo are ordered by their message: an `arg:` key made of tool data.
      config.servers.find((s) => s.id === 'fixture')!.toolPolicies = { echo: { ordering: 'arg:/message' } };
      (config.encryption as { codecServer: Record<string, unknown> }).codecServer = { ...TEST_ENCRYPTION.codecServer, port: codecPort, allowedOrigins: [UI_ORIGIN] };
    },
  });
  let client: McpClient;
  let raw: Client;
  let rawConnection: Connection;
  const correlationIds: string[] = [];

  before(async () => {
    codecPort = await freePort();
    await stack.start();
    await stack.waitForReady();
    client = await stack.client();
    // A client without the codec: what anyone with access to Temporal reads.
    rawConnection = await Connection.connect({ address: stack.temporal.address });
    raw = new Client({ connection: rawConnection, namespace: 'default' });
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await rawConnection?.close().catch(() => undefined);
    await stack.stop();
  });

  const call = (name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
    client.callTool({ name, arguments: args, _meta: meta }, CallToolResultSchema, { timeout: 60_000 }) as Promise<Result>;

  /** Every workflow in the namespace, with its history as the raw client sees it. */
  async function everythingStored(): Promise<Array<{ workflowId: string; runId: string; stored: unknown[] }>> {
    const out = [];
    for await (const execution of raw.workflow.list()) {
      const handle = raw.workflow.getHandle(execution.workflowId, execution.runId);
      const [history, description] = await Promise.all([handle.fetchHistory(), handle.describe()]);
      out.push({ workflowId: execution.workflowId, runId: execution.runId, stored: [history, description.raw, execution.searchAttributes] });
    }
    return out;
  }

  it('stores no argument, result, failure text or key in plaintext, in histories, search attributes or workflow ids', async () => {
    const echoed = await call('fixture.echo', { message: SECRET_ARG });
    assert.equal(textOf(echoed), SECRET_ARG);
    correlationIds.push(correlationIdOf(echoed));
    const idempotent = await call('fixture.echo', { message: `${SECRET_ARG} again` }, { 'switchyard/idempotency_key': SECRET_IDEMPOTENCY });
    assert.equal(textOf(idempotent), `${SECRET_ARG} again`);
    correlationIds.push(correlationIdOf(idempotent));
    // A downstream JSON-RPC error becomes an activity failure whose message is the server's:
    // without the failure converter it would sit in the history in plaintext.
    await assert.rejects(call('fixture.rpc_error', { tag: 'x' }), /failed on purpose/);
    const failed = await call('fixture.fail', { reason: SECRET_FAIL });
    assert.equal(failed.isError, true);
    assert.match(textOf(failed), new RegExp(SECRET_FAIL));

    const stored = await waitFor('the calls in visibility', async () => {
      const all = await everythingStored();
      return all.some((w) => w.workflowId === callWorkflowId('default', correlationIds[1]!)) ? all : undefined;
    });
    assert.ok(stored.length >= 3, `expected the key, shard and call workflows, got ${stored.map((w) => w.workflowId).join(', ')}`);
    let encryptedPayloads = 0;
    for (const { workflowId, stored: parts } of stored) {
      for (const secret of [SECRET_ARG, SECRET_IDEMPOTENCY, SECRET_FAIL, 'alice-4111', 'bob@example', 'failed on purpose']) {
        assert.ok(!workflowId.includes(secret), `workflow id ${workflowId} holds "${secret}"`);
        const where = findPlaintext(parts, secret);
        assert.equal(where, undefined, `${workflowId}: "${secret}" in plaintext at ${where}`);
      }
      encryptedPayloads += countEncrypted(parts);
    }
    assert.ok(encryptedPayloads > 10, `only ${encryptedPayloads} encrypted payloads: the history was not read`);
    // A call workflow's summary and details (tool, tenant, principal) are payloads too.
    const callDescription = await raw.workflow.getHandle(callWorkflowId('default', correlationIds[1]!)).describe();
    const metadata = callDescription.raw.executionConfig?.userMetadata;
    assert.equal(Buffer.from(metadata?.summary?.metadata?.encoding ?? []).toString('utf8'), 'binary/encrypted');
    assert.equal(Buffer.from(metadata?.details?.metadata?.encoding ?? []).toString('utf8'), 'binary/encrypted');

    // The same through the Temporal CLI, as an operator would look.
    const cli = findTemporalCli(process.env)!;
    const keyWorkflow = keyWorkflowId('default', routeOf(correlationIds[0]!)!);
    const { stdout } = await run(cli, ['workflow', 'show', '--address', stack.temporal.address, '--namespace', 'default', '-w', keyWorkflow, '--output', 'json'], { maxBuffer: 64 * 1024 * 1024 });
    assert.match(stdout, /binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA==/);
    assert.ok(!stdout.includes(SECRET_ARG) && !stdout.includes('alice-4111'), 'temporal workflow show printed the argument');
  });

  it('keeps ordering and idempotency keys as keyed hashes that `switchyard search-key` reproduces, and get_call finds the idempotent call', async () => {
    const keyWorkflow = keyWorkflowId('default', routeOf(correlationIds[0]!)!);
    const description = await raw.workflow.getHandle(keyWorkflow).describe();
    const stored = description.typedSearchAttributes.get({ name: 'SwitchyardOrderingKey', type: 'KEYWORD' });
    assert.match(stored ?? '', /^hmac:[0-9a-f]{32}$/);

    const ordering = await stack.cli('search-key', `arg:/message=${SECRET_ARG}`);
    assert.equal(ordering.code, 0, ordering.stderr);
    assert.ok(ordering.stdout.includes(`SwitchyardOrderingKey = '${stored}'`), ordering.stdout);
    assert.ok(ordering.stdout.includes(`key workflow ${keyWorkflow}`), ordering.stdout);
    const found = [];
    for await (const w of raw.workflow.list({ query: `SwitchyardTenant = 'default' AND SwitchyardOrderingKey = '${stored}'` })) found.push(w.workflowId);
    assert.deepEqual(found, [keyWorkflow]);

    const idempotency = await stack.cli('search-key', SECRET_IDEMPOTENCY);
    assert.ok(idempotency.stdout.includes(`SwitchyardCorrelationId = '${correlationIds[1]}'`), idempotency.stdout);
    const view = await call('switchyard.get_call', { idempotency_key: SECRET_IDEMPOTENCY });
    assert.equal((view.structuredContent as { correlation_id?: string })?.correlation_id, correlationIds[1]);
  });

  it("serves the Web UI's codec endpoint: decodes with the token, refuses without (401), CORS for the UI's origin only", async () => {
    const server = spawnCli(['codec-server', '--config', stack.configPath]);
    try {
      const url = `http://127.0.0.1:${codecPort}`;
      await waitFor('the codec server', async () => (await fetch(`${url}/decode`, { method: 'POST' }).catch(() => undefined)) !== undefined || undefined);
      // The call workflow's input: the envelope with the arguments, as Temporal stores it.
      const history = await raw.workflow.getHandle(callWorkflowId('default', correlationIds[1]!)).fetchHistory();
      const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const body = JSON.stringify({
        payloads: [{ metadata: Object.fromEntries(Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(input.data!).toString('base64') }],
      });
      const post = (headers: Record<string, string>) => fetch(`${url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, body });

      const decoded = await post({ authorization: `Bearer ${TEST_ENCRYPTION.codecServer.token}`, origin: UI_ORIGIN });
      assert.equal(decoded.status, 200);
      assert.equal(decoded.headers.get('access-control-allow-origin'), UI_ORIGIN);
      const payload = ((await decoded.json()) as { payloads: Array<{ data: string }> }).payloads[0]!;
      assert.ok(Buffer.from(payload.data, 'base64').toString('utf8').includes(`${SECRET_ARG} again`));

      const refused = await post({ origin: UI_ORIGIN });
      assert.equal(refused.status, 401);
      assert.ok(!(await refused.text()).includes('alice'));
      assert.equal((await post({ authorization: 'Bearer not-the-token' })).status, 401);

      const elsewhere = await post({ authorization: `Bearer ${TEST_ENCRYPTION.codecServer.token}`, origin: 'http://evil.test' });
      assert.equal(elsewhere.headers.get('access-control-allow-origin'), null);
      const preflight = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
      assert.equal(preflight.headers.get('access-control-allow-origin'), UI_ORIGIN);

      // The Temporal CLI as a client of the same protocol: it shows the arguments with the token.
      const cli = findTemporalCli(process.env)!;
      const show = (auth: string[]) =>
        run(cli, ['workflow', 'show', '--address', stack.temporal.address, '--namespace', 'default', '-w', callWorkflowId('default', correlationIds[1]!), '--output', 'json', '--codec-endpoint', url, ...auth], { maxBuffer: 64 * 1024 * 1024 });
      const { stdout } = await show(['--codec-auth', `Bearer ${TEST_ENCRYPTION.codecServer.token}`]);
      // It prints payload data in base64.
      const shown = [...stdout.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
      assert.ok(shown.some((data) => data.includes(`${SECRET_ARG} again`)), 'temporal workflow show --codec-endpoint did not decode the arguments');
      await assert.rejects(show(['--command-timeout', '3s']), 'the CLI decoded without the token');
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('a worker without the key fails loudly, naming the key, and finishes the call once it has it; then keys rotate', async () => {
    const base = parse(readFileSync(stack.configPath, 'utf8')) as { encryption: { keys: Array<{ id: string }>; currentKeyId: string } };
    const writeConfig = (name: string, keys: string[], current: string) => {
      const path = join(stack.dir, name);
      writeFileSync(path, stringify({ ...base, encryption: { ...base.encryption, keys: TEST_ENCRYPTION.keys.filter((k) => keys.includes(k.id)), currentKeyId: current } }));
      return path;
    };

    // A worker that has only test-k2, while the gateway writes with test-k1.
    await stack.kill('worker');
    await stack.startWorker(undefined, writeConfig('worker-k2.yaml', ['test-k2'], 'test-k2'));
    // Unordered (an ordered call would wait for the worker to admit it, which cannot happen).
    const accepted = await call('fixture.slow', { ms: 1, tag: 'while the worker lacks the key' }, { 'switchyard/accept_async': true });
    const stuck = correlationIdOf(accepted);
    await waitFor('the worker to report the missing key', async () => stack.logs().includes('encrypted with key "test-k1", which is not configured here') || undefined, 60_000);
    const pending = await call('switchyard.get_call', { correlation_id: stuck });
    assert.notEqual((pending.structuredContent as { status?: string })?.status, 'completed');

    // Rotation: every process gets test-k2 as the current key and keeps test-k1 for what it wrote.
    const rotated = writeConfig('rotated.yaml', ['test-k1', 'test-k2'], 'test-k2');
    await stack.kill('worker');
    await stack.kill('gateway');
    await Promise.all([stack.startWorker(undefined, rotated), stack.startGateway(undefined, rotated)]);
    await stack.waitForReady();
    await client.close().catch(() => undefined);
    client = await stack.client();

    // The call written under test-k1 runs now, and its answer is read back.
    const done = await waitFor('the stuck call to finish', async () => {
      const view = await call('switchyard.get_call', { correlation_id: stuck });
      return (view.structuredContent as { status?: string })?.status === 'completed' ? view : undefined;
    }, 60_000);
    assert.match(JSON.stringify(done.structuredContent), /while the worker lacks the key/);
    // Older calls, all under test-k1, still decode.
    const old = await call('switchyard.get_call', { idempotency_key: SECRET_IDEMPOTENCY });
    assert.match(JSON.stringify(old.structuredContent), new RegExp(`${SECRET_ARG} again`));
    // New payloads are written with test-k2.
    const fresh = await call('fixture.echo', { message: 'after rotation' }, { 'switchyard/idempotency_key': 'after-rotation' });
    assert.equal(textOf(fresh), 'after rotation');
    const history = await raw.workflow.getHandle(callWorkflowId('default', correlationIdOf(fresh))).fetchHistory();
    const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    assert.equal(Buffer.from(input.metadata!['encryption-key-id']!).toString('utf8'), 'test-k2');
  });

  function spawnCli(args: string[]): ChildProcess {
    const child = spawn(process.execPath, [BIN, ...args, '--log-level', 'error'], { cwd: stack.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.on('data', (c: Buffer) => process.stderr.write(`[codec-server] ${c.toString('utf8')}`));
    return child;
  }
});

/** The path to the first string or byte array under `value` that contains `secret`. */
function findPlaintext(value: unknown, secret: string, path = '$', seen = new Set<unknown>()): string | undefined {
  if (typeof value === 'string') return value.includes(secret) ? path : undefined;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).includes(secret) ? path : undefined;
  if (value === null || typeof value !== 'object' || seen.has(value)) return undefined;
  seen.add(value);
  if (value instanceof Map) value = Object.fromEntries(value);
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key.includes(secret)) return `${path}.${key}`;
    const found = findPlaintext(child, secret, `${path}.${key}`, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

function countEncrypted(value: unknown, seen = new Set<unknown>()): number {
  if (value === null || typeof value !== 'object' || seen.has(value) || value instanceof Uint8Array) return 0;
  seen.add(value);
  const encoding = (value as { metadata?: Record<string, Uint8Array> }).metadata?.encoding;
  if (encoding instanceof Uint8Array && Buffer.from(encoding).toString('utf8') === 'binary/encrypted') return 1;
  return Object.values(value as Record<string, unknown>).reduce<number>((sum, child) => sum + countEncrypted(child, seen), 0);
}
