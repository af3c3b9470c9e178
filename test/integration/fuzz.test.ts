// Property-based fuzzing of the gateway's HTTP surface with fast-check: malformed and hostile
// requests to /mcp and the other endpoints. For every case the answer must be a JSON-RPC error
// with the right code (or a proper 4xx), must not leak stack traces, file paths or secrets, and
// the gateway must stay up, keep its memory bounded, open no session and start no workflow.
//
// `npm test` runs a fixed seed and a small number of runs per property. `npm run fuzz` runs many
// more with a random seed (printed); reproduce with SWITCHYARD_FUZZ_SEED=<seed>.
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { recordedCalls } from '../support/recorded-calls.js';
import { Stack } from '../support/stack.js';

const RUNS = Number(process.env.SWITCHYARD_FUZZ_RUNS ?? 40);
const SEED = process.env.SWITCHYARD_FUZZ_SEED !== undefined ? Number(process.env.SWITCHYARD_FUZZ_SEED) : process.env.SWITCHYARD_FUZZ_RUNS !== undefined ? Math.floor(Math.random() * 2 ** 31) : 20_260_901;
process.stderr.write(`fuzz: seed ${SEED}, ${RUNS} runs per property (reproduce with SWITCHYARD_FUZZ_SEED=${SEED} SWITCHYARD_FUZZ_RUNS=${RUNS})\n`);

// Secrets the gateway holds: an API key (the fuzzer's own, sent on every request), an admin key
// it never sends, and an environment variable expanded into a downstream server's headers.
const API_KEY = 'fuzz-api-key-5f2c9e0b7a41d386';
const ADMIN_KEY = 'fuzz-admin-key-a9d04e7c1b3f6285';
const ENV_SECRET = 'fuzz-env-secret-e61b0f9a3c7d2458';
process.env.SWITCHYARD_FUZZ_SECRET = ENV_SECRET;
const SECRETS = [API_KEY, ADMIN_KEY, ENV_SECRET];

const MAX_BODY_BYTES = 256 * 1024;
const MAX_DEPTH = 128;
const ROOT = resolve(import.meta.dirname, '..', '..');
const KNOWN_TOOLS = ['fixture.echo', 'fixture.add', 'fixture.fail', 'fixture.slow', 'fixture.record', 'fixture.apply', 'fixture.extra'];
const PROTOCOL = '2025-06-18';
/** RSS growth allowed over the gateway's RSS after start-up. */
const RSS_HEADROOM_BYTES = 256 * 1024 * 1024;

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Send the body without Content-Length (chunked). */
  chunked?: boolean;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  /** JSON-RPC messages in the body (a JSON body or SSE data lines). */
  messages: unknown[];
}

interface RpcError {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string; data?: unknown };
}

describe('fuzzing the gateway', { timeout: 120_000 + RUNS * 20 * 1_000 }, () => {
  const stack = new Stack({
    withEverything: false,
    syncWaitMs: 2_000,
    tenants: [{ id: 'fuzz', apiKeys: [API_KEY] }],
    configure: (config) => {
      (config.gateway as Record<string, unknown>).maxBodyBytes = MAX_BODY_BYTES;
      (config.tenants as Array<Record<string, unknown>>)[0]!.adminApiKeys = [ADMIN_KEY];
      const fixture = config.servers.find((s) => s.id === 'fixture')!;
      fixture.headers = { 'x-fuzz-secret': '${SWITCHYARD_FUZZ_SECRET}' };
    },
  });
  // No keep-alive: a socket the gateway closed after a refusal must not be reused by the next case.
  const agent = new Agent({ keepAlive: false });
  let session = '';
  let staleSession = '';
  let baselineRss = 0;
  let peakRss = 0;
  let workflowsBefore = 0;
  let sessionsBefore = 0;
  let nextId = 1;

  const base = (): Record<string, string> => ({
    authorization: `Bearer ${API_KEY}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  });
  const inSession = (): Record<string, string> => ({ ...base(), 'mcp-session-id': session, 'mcp-protocol-version': PROTOCOL });

  function send(req: Req): Promise<Answer> {
    return new Promise((resolvePromise, reject) => {
      const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : Buffer.from(req.body);
      const headers: Record<string, string> = { ...req.headers };
      if (body !== undefined && !req.chunked) headers['content-length'] = String(body.length);
      const r = httpRequest({ host: '127.0.0.1', port: stack.gatewayPort, method: req.method, path: req.path, headers, agent, timeout: 20_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const contentType = String(res.headers['content-type'] ?? '');
          resolvePromise({ status: res.statusCode ?? 0, contentType, text, messages: messagesOf(contentType, text) });
        });
        res.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new Error(`no answer within 20 s: ${req.method} ${req.path}`)));
      r.on('error', reject);
      if (body !== undefined && req.chunked) {
        // A few chunks, so the size is only known while reading.
        const step = Math.max(1, Math.ceil(body.length / 4));
        for (let i = 0; i < body.length; i += step) r.write(body.subarray(i, i + step));
      } else if (body !== undefined) r.write(body);
      r.end();
    });
  }

  const rpc = (method: string, params?: unknown, id: string | number = nextId++) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) });

  /** Invariants of every answer: no 5xx, no leaked internals or secrets. */
  function checkCommon(req: Req, answer: Answer): void {
    assert.ok(answer.status >= 200 && answer.status < 500, `status ${answer.status}: ${answer.text.slice(0, 300)}`);
    const sent = `${req.path}\n${JSON.stringify(req.headers)}\n${typeof req.body === 'string' ? req.body : req.body ? Buffer.from(req.body).toString('latin1') : ''}`;
    for (const secret of SECRETS) assert.ok(!answer.text.includes(secret), 'a secret appears in the answer');
    for (const leak of [ROOT, '/work/', 'node_modules', stack.dir, 'file://']) {
      if (!sent.includes(leak)) assert.ok(!answer.text.includes(leak), `answer leaks "${leak}": ${answer.text.slice(0, 300)}`);
    }
    for (const pattern of [/\n\s+at .+:\d+:\d+/, /\bat .*\((?:\/|node:)[^)]*:\d+:\d+\)/, /\.(?:ts|js|mjs):\d+:\d+/, /\bZodError\b/, /\bTypeError\b/, /\bRangeError\b/]) {
      if (!pattern.test(sent)) assert.ok(!pattern.test(answer.text), `answer has internals (${pattern}): ${answer.text.slice(0, 300)}`);
    }
  }

  /** A single JSON-RPC error answer (HTTP error or in-session response) with the expected code and id. */
  function expectError(req: Req, answer: Answer, codes: number[], options: { status?: number[]; id?: string | number | null } = {}): RpcError {
    checkCommon(req, answer);
    if (options.status) assert.ok(options.status.includes(answer.status), `status ${answer.status}, expected ${options.status.join('/')}: ${answer.text.slice(0, 300)}`);
    assert.equal(answer.messages.length, 1, `one JSON-RPC message expected: ${answer.contentType} ${answer.text.slice(0, 300)}`);
    const message = answer.messages[0] as RpcError;
    assert.equal(message.jsonrpc, '2.0');
    assert.ok(message.error && typeof message.error.message === 'string' && Number.isInteger(message.error.code), `not a JSON-RPC error: ${answer.text.slice(0, 300)}`);
    assert.ok(codes.includes(message.error.code), `code ${message.error.code} (${message.error.message.slice(0, 200)}), expected ${codes.join('/')}`);
    if (options.id !== undefined) assert.deepEqual(message.id, options.id);
    return message;
  }

  async function gatewayRss(): Promise<number> {
    const pid = stack.gateway?.pid;
    assert.ok(pid !== undefined && stack.gateway?.exitCode === null && stack.gateway.signalCode === null, 'gateway process is running');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    assert.ok(kb > 0, 'VmRSS readable');
    return kb * 1024;
  }

  async function readyz(): Promise<{ sessions: number }> {
    const response = await fetch(`http://127.0.0.1:${stack.gatewayPort}/readyz`);
    return (await response.json()) as { sessions: number };
  }

  /** After each property: alive, healthy, memory bounded, no session opened, no workflow started. */
  async function checkGateway(label: string): Promise<void> {
    const health = await fetch(`http://127.0.0.1:${stack.gatewayPort}/healthz`);
    assert.equal(health.status, 200, `${label}: healthz`);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const rss = await gatewayRss();
    peakRss = Math.max(peakRss, rss);
    assert.ok(rss < baselineRss + RSS_HEADROOM_BYTES, `${label}: gateway RSS ${mb(rss)} MiB, baseline ${mb(baselineRss)} MiB`);
    assert.equal((await readyz()).sessions, sessionsBefore, `${label}: rejected requests opened no session`);
    // Visibility lags a little behind a start: wait, then count.
    await sleep(1_000);
    assert.equal(await workflowCount(), workflowsBefore, `${label}: no call was recorded`);
    const logs = stack.logs();
    assert.ok(!/unhandled gateway error|handler failed/.test(logs), `${label}: the gateway logged an internal fault:\n${logs.slice(-2_000)}`);
  }

  // Calls recorded in Temporal, as workflows of their own or inside key and shard workflows.
  const workflowCount = () => recordedCalls(stack.temporalClient);

  before(async () => {
    await stack.start();
    await stack.waitForReady();
    // Sessions: one to fuzz inside, one closed at once (a stale id).
    session = await openSessionRaw();
    staleSession = await openSessionRaw();
    const closed = await send({ method: 'DELETE', path: '/mcp', headers: { ...base(), 'mcp-session-id': staleSession, 'mcp-protocol-version': PROTOCOL } });
    assert.equal(closed.status, 200, closed.text);
    const initialized = await send({ method: 'POST', path: '/mcp', headers: inSession(), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    assert.equal(initialized.status, 202);
    // A valid call before measuring, so the baseline includes a warmed-up call path.
    const warm = await send({ method: 'POST', path: '/mcp', headers: inSession(), body: rpc('tools/call', { name: 'fixture.echo', arguments: { message: 'warm' } }) });
    assert.equal(warm.status, 200, warm.text);
    await sleep(1_500);
    baselineRss = await gatewayRss();
    peakRss = baselineRss;
    workflowsBefore = await workflowCount();
    assert.equal(workflowsBefore, 1, 'Temporal has the warm-up call');
    sessionsBefore = (await readyz()).sessions;
    assert.equal(sessionsBefore, 1);
  });
  after(async () => {
    agent.destroy();
    process.stderr.write(`fuzz: gateway RSS baseline ${mb(baselineRss)} MiB, peak ${mb(peakRss)} MiB\n`);
    await stack.stop();
  });

  async function openSessionRaw(): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const body = Buffer.from(rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } }));
      const r = httpRequest(
        { host: '127.0.0.1', port: stack.gatewayPort, method: 'POST', path: '/mcp', headers: { ...base(), 'content-length': String(body.length) }, agent },
        (res) => {
          res.resume();
          res.on('end', () => {
            const id = res.headers['mcp-session-id'];
            if (res.statusCode !== 200 || typeof id !== 'string') reject(new Error(`initialize failed: ${res.statusCode}`));
            else resolvePromise(id);
          });
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  }

  async function property<T>(label: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>, runs = RUNS): Promise<void> {
    workflowsBefore = await workflowCount();
    await fc.assert(fc.asyncProperty(arbitrary, check), { seed: SEED, numRuns: runs });
    await checkGateway(label);
  }

  // ---- Arbitraries ----

  /** Strings with the hard parts of Unicode: lone surrogates, NUL, RTL marks, astral characters. */
  const nastyString = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('\u0000', '\ud800', '\udfff', 'a\ud800b', '\u202eevil\u202c', '\u200f\u05d0\u05d1', '😀'.repeat(10), '\ufeff', '\u0085', '\u2028\u2029', 'Ω≈ç√'),
    fc.integer({ min: 1_000, max: 50_000 }).map((n) => 'x'.repeat(n)),
  );
  const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }));
  const knownMethods = new Set(['initialize', 'ping', 'tools/list', 'tools/call', 'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel', 'completion/complete', 'logging/setLevel', 'prompts/get', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read', 'resources/subscribe', 'resources/unsubscribe']);

  // ---- Properties ----

  it('answers bodies that are not JSON with -32700, whatever the bytes', async () => {
    const notJson = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.jsonValue().map((v) => JSON.stringify(v)).chain((s) => fc.integer({ min: 0, max: Math.max(0, s.length - 1) }).map((cut) => s.slice(0, cut))),
      fc.constantFrom('', '{', '{"jsonrpc":"2.0",', "{'a':1}", 'NaN', '[1,]', '{"a":1}}', '\u0000', '\ufeff{', 'undefined', '{"id":1,"method":"x"', '"\\ud800', '[' .repeat(5_000)),
    );
    await property('not JSON', fc.tuple(notJson, fc.boolean()), async ([body, withSession]) => {
      const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
      const req: Req = { method: 'POST', path: '/mcp', headers: withSession ? inSession() : base(), body };
      const answer = await send(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        expectError(req, answer, [-32700], { status: [400], id: null });
        return;
      }
      // Rarely, decoding made it JSON (e.g. a BOM or a replacement character inside a string).
      checkCommon(req, answer);
      assert.ok(answer.status >= 400 || JSONRPCMessageSchema.safeParse(parsed).success, answer.text);
    });
  });

  it('answers JSON that is not a JSON-RPC message, or an empty batch, with -32600', async () => {
    const valid = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    const broken = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom<unknown>([], [[]], [1, 2], { jsonrpc: '1.0', id: 1, method: 'ping' }, { id: 1, method: 'ping' }, { jsonrpc: '2.0' }, { jsonrpc: '2.0', id: 1 }, { jsonrpc: '2.0', result: {} }),
      fc.record({ key: fc.constantFrom('jsonrpc', 'id', 'method', 'params'), value: fc.oneof(notAString, fc.double(), fc.string()) }).map(({ key, value }) => ({ ...valid, [key]: value })),
      fc.record({ key: fc.string({ minLength: 1, maxLength: 10 }), value: fc.jsonValue({ maxDepth: 1 }) }).map(({ key, value }) => ({ ...valid, [key]: value })),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 4 }).map((items) => [valid, ...items]),
    );
    await property(
      'not JSON-RPC',
      fc.tuple(broken.filter((v) => !isJsonRpc(v)), fc.boolean()),
      async ([value, withSession]) => {
        const req: Req = { method: 'POST', path: '/mcp', headers: withSession ? inSession() : base(), body: JSON.stringify(value) };
        expectError(req, await send(req), [-32600], { status: [400] });
      },
    );
  });

  it('refuses bodies nested deeper than the limit with -32600, and bodies over maxBodyBytes with 413', async () => {
    const deep = fc.record({ depth: fc.integer({ min: MAX_DEPTH + 1, max: 30_000 }), arrays: fc.boolean(), where: fc.constantFrom('arguments', 'meta', 'params') });
    await property('deep nesting', deep, async ({ depth, arrays, where }) => {
      const inner = arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const params =
        where === 'arguments'
          ? `{"name":"fixture.echo","arguments":{"message":"x","deep":${inner}}}`
          : where === 'meta'
            ? `{"name":"fixture.echo","arguments":{"message":"x"},"_meta":{"deep":${inner}}}`
            : inner;
      const id = nextId++;
      const req: Req = { method: 'POST', path: '/mcp', headers: inSession(), body: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":${params}}` };
      expectError(req, await send(req), [-32600], { status: [400], id });
    });

    const big = fc.record({ size: fc.integer({ min: MAX_BODY_BYTES + 1, max: 3 * MAX_BODY_BYTES }), chunked: fc.boolean(), json: fc.boolean() });
    await property('oversized bodies', big, async ({ size, chunked, json }) => {
      const body = json ? rpc('tools/call', { name: 'fixture.echo', arguments: { message: 'y'.repeat(size) } }) : 'z'.repeat(size);
      const req: Req = { method: 'POST', path: '/mcp', headers: inSession(), body, chunked };
      expectError(req, await send(req), [-32600], { status: [413] });
    }, Math.max(5, Math.ceil(RUNS / 3)));
  });

  it('answers unknown methods with -32601 and bad params of known methods with -32602, inside a session', async () => {
    const unknownMethod = nastyString.filter((m) => !knownMethods.has(m) && !m.startsWith('notifications/'));
    await property('unknown methods', unknownMethod, async (method) => {
      const id = nextId++;
      const req: Req = { method: 'POST', path: '/mcp', headers: inSession(), body: rpc(method, {}, id) };
      expectError(req, await send(req), [-32601], { status: [200], id });
    });

    const badParams = fc.oneof(
      fc.record({ method: fc.constant('tools/call'), params: fc.oneof(fc.constant({}), notAString.map((name) => ({ name })), notAString.filter((a) => typeof a !== 'object' || a === null || Array.isArray(a)).map((args) => ({ name: 'fixture.echo', arguments: args })), fc.oneof(fc.string(), fc.integer(), fc.array(fc.integer())).map((meta) => ({ name: 'fixture.echo', arguments: {}, _meta: meta }))) }),
      fc.record({ method: fc.constant('tools/list'), params: notAString.filter((c) => c !== null).map((cursor) => ({ cursor })) }),
      fc.record({ method: fc.constantFrom('tasks/get', 'tasks/result', 'tasks/cancel'), params: fc.oneof(fc.constant({}), notAString.map((taskId) => ({ taskId }))) }),
      fc.record({ method: fc.constant('tasks/list'), params: notAString.filter((c) => c !== null).map((cursor) => ({ cursor })) }),
    );
    await property('bad params', badParams, async ({ method, params }) => {
      const id = nextId++;
      const req: Req = { method: 'POST', path: '/mcp', headers: inSession(), body: rpc(method, params, id) };
      // `params._meta` belongs to MCP's request envelope: a wrong type there is an Invalid Request.
      const meta = (params as { _meta?: unknown })._meta;
      if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
        expectError(req, await send(req), [-32600], { status: [400], id });
        return;
      }
      const error = expectError(req, await send(req), [-32602], { status: [200], id });
      assert.match(error.error.message, /params|name|cursor|taskId|argument/i);
    });

    const badInit = fc.oneof(
      fc.constant({}),
      notAString.map((protocolVersion) => ({ protocolVersion, capabilities: {}, clientInfo: { name: 'x', version: '1' } })),
      notAString.map((clientInfo) => ({ protocolVersion: PROTOCOL, capabilities: {}, clientInfo })),
      fc.oneof(fc.string(), fc.integer()).map((capabilities) => ({ protocolVersion: PROTOCOL, capabilities, clientInfo: { name: 'x', version: '1' } })),
    );
    await property('bad initialize', badInit, async (params) => {
      const id = nextId++;
      const req: Req = { method: 'POST', path: '/mcp', headers: base(), body: rpc('initialize', params, id) };
      expectError(req, await send(req), [-32602], { status: [400], id });
    });
  });

  it('refuses a bad value in any switchyard/… _meta field or header with -32602 naming it, and starts nothing', async () => {
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const farFuture = new Date(Date.now() + 40 * 86_400_000).toISOString();
    const badKey = fc.oneof(
      notAString,
      fc.constant(''),
      fc.integer({ min: 201, max: 5_000 }).map((n) => 'k'.repeat(n)),
      fc.tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c))).map(([s, c]) => `${s}${c}`),
      fc.constantFrom('\u007f', 'a\u0085b', 'lone\ud800', '\udc00tail'),
    );
    const metaCases = fc.oneof(
      badKey.map((v) => ({ field: 'switchyard/ordering_key', value: v })),
      badKey.map((v) => ({ field: 'switchyard/idempotency_key', value: v })),
      fc.oneof(notAString.filter((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 86_400_000), fc.integer({ max: 0 }), fc.integer({ min: 86_400_001 }), fc.double({ min: 1.01, max: 1e6, noInteger: true }), fc.string()).map((v) => ({ field: 'switchyard/deadline_ms', value: v })),
      fc.oneof(notAString, fc.constantFrom('tomorrow', '2026-01-31', '2026-01-31T12:00:00', '31/01/2026 12:00Z', '', past, farFuture, '9999-12-31T23:59:59Z'), fc.string()).map((v) => ({ field: 'switchyard/deadline', value: v })),
      fc.oneof(notAString, fc.string().filter((s) => !['low', 'normal', 'high', 'critical'].includes(s)), fc.constantFrom('HIGH', ' high', 'urgent')).map((v) => ({ field: 'switchyard/priority', value: v })),
      fc.oneof(notAString.filter((v) => typeof v !== 'boolean'), fc.constantFrom('true', 'false', 0, 1)).map((v) => ({ field: 'switchyard/accept_async', value: v })),
    );
    // Header values: only what HTTP can carry (tab, printable ASCII, latin-1 bytes). HTTP trims
    // leading and trailing whitespace, so a bad value must stay bad once trimmed.
    const headerText = fc.string({ unit: fc.constantFrom(...'abc XYZ-_/:.\t09'.split('')), maxLength: 30 });
    const headerCases = fc.oneof(
      fc.oneof(fc.constant(''), fc.integer({ min: 201, max: 4_000 }).map((n) => 'h'.repeat(n)), headerText.map((s) => `k${s}\tx`), fc.constantFrom('key\u0085', '\u0080')).map((v) => ({ header: 'x-switchyard-ordering-key', value: v })),
      fc.oneof(fc.constant(''), fc.integer({ min: 201, max: 4_000 }).map((n) => 'h'.repeat(n)), headerText.map((s) => `k${s}\tx`)).map((v) => ({ header: 'idempotency-key', value: v })),
      fc.oneof(fc.constantFrom('', '0', '-5', '1.5', '1e3', '1 00', '0x10', '99999999999999999999'), headerText.filter((s) => !/^\d+$/.test(s.trim()))).map((v) => ({ header: 'x-deadline-ms', value: v })),
      fc.oneof(fc.constantFrom('', 'HIGH', 'urgent', 'nor mal'), headerText.filter((s) => !['low', 'normal', 'high', 'critical'].includes(s.trim()))).map((v) => ({ header: 'x-switchyard-priority', value: v })),
    );
    const envelopeCase = fc.record({
      bad: fc.oneof(metaCases, headerCases),
      tool: fc.constantFrom('fixture.echo', 'fixture.slow', 'fixture.apply'),
      viaSubmit: fc.boolean(),
    });
    await property('bad envelope', envelopeCase, async ({ bad, tool, viaSubmit }) => {
      const id = nextId++;
      const args = { message: 'm', ms: 1, key: 'k' };
      let params: unknown;
      const headers = inSession();
      if ('field' in bad && viaSubmit) {
        params = { name: 'switchyard.submit', arguments: { tool, arguments: args, [bad.field.slice('switchyard/'.length)]: bad.value } };
      } else if ('field' in bad) {
        params = { name: tool, arguments: args, _meta: { [bad.field]: bad.value } };
      } else {
        headers[bad.header] = bad.value;
        params = { name: tool, arguments: args };
      }
      const req: Req = { method: 'POST', path: '/mcp', headers, body: rpc('tools/call', params, id) };
      const error = expectError(req, await send(req), [-32602], { status: [200], id });
      const named = 'field' in bad ? (viaSubmit ? `"${bad.field.slice('switchyard/'.length)}"` : bad.field) : bad.header;
      assert.ok(error.error.message.toLowerCase().includes(named.toLowerCase()), `the message names ${named}: ${error.error.message}`);
    });
  });

  it('answers hostile tool names with -32602 Unknown tool, never echoing them raw', async () => {
    const hostile = fc.oneof(
      fc.constantFrom(
        '../../etc/passwd', 'fixture/../echo', 'fixture./../echo', 'fixture.echo/..', 'fixture\\echo', 'fixture..echo', 'fixture::echo', 'fixture_echo', 'fixture.', '.echo', '.', '',
        'FIXTURE.ECHO', 'fixture.ECHO', ' fixture.echo', 'fixture.echo ', 'fixture.echo\u0000', 'fixture.e\u0000cho', 'fixture.ech\u043e', 'fixture.echo\u202e', '\u202efixture.echo',
        'switchyard.', 'switchyard.nope', 'switchyard.get_call/..', 'switchyard..submit', 'everything.echo', 'fixture.get-env', '%2e%2e%2fetc', 'fixture.%65cho', 'fixture.echo\ud800', 'C:\\Windows\\system32',
        '/work/main/node_modules/x', 'fixture.constructor', 'fixture.__proto__', '__proto__', 'constructor', 'fixture.toString', 'hasOwnProperty',
      ),
      fc.tuple(fc.constantFrom('fixture.', 'switchyard.', ''), nastyString).map(([prefix, s]) => `${prefix}${s}`),
      fc.integer({ min: 129, max: 100_000 }).map((n) => `fixture.${'e'.repeat(n)}`),
    );
    await property('hostile tool names', hostile.filter((n) => !KNOWN_TOOLS.includes(n)), async (name) => {
      const id = nextId++;
      const req: Req = { method: 'POST', path: '/mcp', headers: inSession(), body: rpc('tools/call', { name, arguments: { message: 'x' } }, id) };
      const error = expectError(req, await send(req), [-32602], { status: [200], id });
      assert.match(error.error.message, /^Unknown tool: [\x20-\x7e]*…?$/, 'the name is shown only as printable ASCII, cut short');
      assert.ok(error.error.message.length <= 160);
    });
  });

  it('answers hostile 2026-07-28 requests (envelope, headers, params) with one JSON-RPC answer, never a fault or a leak', async () => {
    // Every method the modern leg knows or must refuse, but subscriptions/listen, whose stream stays open by design.
    // Mostly well-formed envelopes and headers, so most requests reach the broker's handlers.
    const methods = fc.oneof(
      { weight: 4, arbitrary: fc.constant('tools/call') },
      { weight: 6, arbitrary: fc.constantFrom('tools/list', 'server/discover', 'tasks/get', 'tasks/update', 'tasks/cancel', 'tasks/result', 'resources/read', 'prompts/get', 'completion/complete', 'initialize', 'ping', 'logging/setLevel', 'no/such') },
    );
    const versions = fc.oneof({ weight: 4, arbitrary: fc.constant('2026-07-28') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('2026-07-29', '2025-11-25', '', ' 2026-07-28'), nastyString) });
    const capabilities = fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: fc.constant({ extensions: { 'io.modelcontextprotocol/tasks': {} } }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
    const params = fc.dictionary(fc.constantFrom('name', 'uri', 'taskId', 'arguments', 'cursor', 'inputResponses', 'requestState', 'ref', 'level', 'task'), fc.oneof(nastyString, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 4 });
    const headerSafe = (text: unknown) => typeof text === 'string' && /^[\x21-\x7e]{1,200}$/.test(text);
    // A tools/call names a tool (none that runs: nothing may be started) and carries hostile arguments.
    const callParams = fc.record({
      name: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('fixture.nope', 'switchyard.get_call', 'switchyard.submit', 'switchyard.cancel_call') }, { weight: 1, arbitrary: nastyString }),
      arguments: fc.dictionary(fc.oneof(nastyString, fc.constantFrom('correlation_id', 'tool', 'arguments', 'idempotency_key')), fc.oneof(nastyString, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 4 }),
    });
    const request = methods.chain((method) => fc.record({ method: fc.constant(method), params: method === 'tools/call' ? fc.tuple(callParams, params).map(([call, extra]) => ({ ...extra, ...call })) : params }));
    let reachedCalls = 0;
    await property('2026-07-28 requests', fc.tuple(request, fc.record({ version: versions, capabilities, sameHeaders: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) })).map(([r, rest]) => ({ ...r, ...rest })), async (v) => {
      const id = nextId++;
      // Mcp-Name as the spec writes it, so most requests get past the header check to the handlers:
      // plain when the value is header-safe, else in its `=?base64?…?=` form.
      const fields = v.params as Record<string, unknown>;
      const named = [fields.name, fields.uri, fields.taskId].find((x) => typeof x === 'string') as string | undefined;
      const encoded = named === undefined ? undefined : headerSafe(named) ? named : `=?base64?${Buffer.from(named, 'utf8').toString('base64')}?=`;
      // Node's HTTP server refuses headers over 16 KiB with a bare 431 before any handler runs.
      const name = encoded !== undefined && encoded.length <= 4_096 ? encoded : undefined;
      const headers: Record<string, string> = {
        ...base(),
        'mcp-protocol-version': v.sameHeaders && headerSafe(v.version) ? (v.version as string) : '2026-07-28',
        'mcp-method': v.sameHeaders ? v.method : 'tools/list',
        ...(name !== undefined ? { 'mcp-name': name } : {}),
      };
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: v.method,
        params: { ...v.params, _meta: { 'io.modelcontextprotocol/protocolVersion': v.version, 'io.modelcontextprotocol/clientCapabilities': v.capabilities } },
      });
      const req: Req = { method: 'POST', path: '/mcp', headers, body };
      const answer = await send(req);
      checkCommon(req, answer);
      assert.ok(answer.status < 500, `status ${answer.status}: ${answer.text.slice(0, 300)}`);
      const last = answer.messages.at(-1) as { id?: unknown; result?: unknown; error?: { code: unknown; message: unknown } } | undefined;
      assert.ok(last !== undefined && (last.result !== undefined || last.error !== undefined), `one answer: ${answer.text.slice(0, 300)}`);
      if (last.error !== undefined) assert.ok(Number.isInteger(last.error.code) && typeof last.error.message === 'string', `a JSON-RPC error: ${answer.text.slice(0, 300)}`);
      // Past the SDK's envelope and header checks, into the broker's own handlers.
      if (v.method === 'tools/call' && (last.result !== undefined || /^(Unknown tool|switchyard\.|argument|correlation_id)/.test(String(last.error?.message)))) reachedCalls++;
    });
    assert.ok(reachedCalls >= RUNS / 8, `only ${reachedCalls} of ${RUNS} requests reached the tools/call handler: the property no longer exercises it`);
  });

  it('refuses requests without a session, with an unknown or closed session id, or a wrong protocol version', async () => {
    const validBodies = fc.constantFrom(
      () => rpc('tools/list'),
      () => rpc('tools/call', { name: 'fixture.echo', arguments: { message: 'before initialize' } }),
      () => rpc('ping'),
      () => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    );
    await property('before initialize', fc.tuple(validBodies, fc.constantFrom('POST', 'GET', 'DELETE')), async ([body, method]) => {
      const req: Req = { method, path: '/mcp', headers: { ...base(), 'mcp-protocol-version': PROTOCOL }, ...(method === 'POST' ? { body: body() } : {}) };
      const error = expectError(req, await send(req), [-32000], { status: [400] });
      assert.match(error.error.message, /Mcp-Session-Id/);
    });

    const sessionIds = fc.oneof(fc.uuid(), fc.constant('stale'), fc.string({ unit: fc.constantFrom(...'abcdef0123456789-'.split('')), maxLength: 64 }), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }));
    await property('unknown sessions', fc.tuple(sessionIds, validBodies, fc.constantFrom('POST', 'GET', 'DELETE')), async ([raw, body, method]) => {
      const id = raw === 'stale' ? staleSession : raw;
      fc.pre(id !== session);
      const req: Req = { method, path: '/mcp', headers: { ...base(), 'mcp-session-id': id, 'mcp-protocol-version': PROTOCOL }, ...(method === 'POST' ? { body: body() } : {}) };
      expectError(req, await send(req), [-32001], { status: [404] });
    });

    const versions = fc.oneof(fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }), fc.constantFrom('2025-06-19', '2024-01-01', '1.0', 'latest', '2025-06-18 ', '2025-06-18,2025-03-26'));
    await property('wrong protocol version', versions.filter((v) => !SUPPORTED_PROTOCOL_VERSIONS.includes(v.trim()) && v.trim().length > 0), async (version) => {
      const req: Req = { method: 'POST', path: '/mcp', headers: { ...inSession(), 'mcp-protocol-version': version }, body: rpc('tools/list') };
      const error = expectError(req, await send(req), [-32000], { status: [400] });
      assert.match(error.error.message, /protocol version/i);
    });
  });

  it('refuses wrong content types, Accept headers and HTTP methods, and unknown paths', async () => {
    const contentTypes = fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/jsonx', 'json', 'text/json', 'application/json-patch+json', '*/*', 'application/octet-stream', undefined);
    await property('content types', contentTypes, async (contentType) => {
      const headers = inSession();
      if (contentType === undefined) delete (headers as Record<string, string | undefined>)['content-type'];
      else headers['content-type'] = contentType;
      const req: Req = { method: 'POST', path: '/mcp', headers, body: rpc('tools/list') };
      expectError(req, await send(req), [-32000], { status: [415] });
    });

    const accepts = fc.constantFrom('application/json', 'text/event-stream', 'text/html', '*/*', '', 'application/*', undefined);
    await property('accept headers', fc.tuple(accepts, fc.constantFrom('POST', 'GET')), async ([accept, method]) => {
      const headers = inSession();
      if (accept === undefined) delete (headers as Record<string, string | undefined>).accept;
      else headers.accept = accept;
      if (method === 'GET' && accept === 'text/event-stream') return; // a valid GET (opens the standalone stream)
      const req: Req = { method, path: '/mcp', headers, ...(method === 'POST' ? { body: rpc('tools/list') } : {}) };
      expectError(req, await send(req), [-32000], { status: [406] });
    });

    const methods = fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECTX', 'FOO');
    await property('HTTP methods', fc.tuple(methods, fc.boolean()), async ([method, withBody]) => {
      const req: Req = { method, path: '/mcp', headers: inSession(), ...(withBody ? { body: rpc('tools/list') } : {}) };
      let answer: Answer;
      try {
        answer = await send(req);
      } catch (error) {
        // Node's HTTP parser refuses methods it does not know and closes the connection.
        assert.ok(!['PUT', 'PATCH', 'OPTIONS', 'TRACE'].includes(method), `${method}: ${String(error)}`);
        return;
      }
      if (answer.status === 400 && answer.text === '') return; // refused by the HTTP parser
      expectError(req, answer, [-32000], { status: [405] });
    });

    const pathChars = fc.constantFrom(...'abcmMCP/._-%20~!$&()*+,;=:@'.split(''));
    const paths = fc.oneof(
      fc.constantFrom('/', '/mcp/', '/MCP', '//mcp', '/mcp/..', '/mcp%2f', '/healthz/', '/readyz/x', '/.env', '/../../etc/passwd', '/node_modules/', '/%00', '/mcp;x'),
      fc.string({ unit: pathChars, maxLength: 60 }).map((s) => `/${s}`),
    );
    await property('other paths and methods', fc.tuple(paths, fc.constantFrom('GET', 'POST', 'DELETE', 'PUT')), async ([path, method]) => {
      fc.pre(!(method === 'GET' && (path === '/healthz' || path === '/readyz')));
      fc.pre(!['/mcp', '/mcp?', '/mcp#'].includes(path) && !path.startsWith('/mcp?') && !path.startsWith('/mcp#'));
      const req: Req = { method, path, headers: inSession(), ...(method === 'POST' ? { body: rpc('tools/list') } : {}) };
      let answer: Answer;
      try {
        answer = await send(req);
      } catch (error) {
        assert.fail(`${method} ${path}: ${String(error)}`);
      }
      checkCommon(req, answer);
      if (answer.status === 400 && answer.text === '') return; // refused by the HTTP parser
      assert.ok(answer.status === 404 || (path.startsWith('/healthz') || path.startsWith('/readyz') ? false : answer.status === 400), `${method} ${path}: ${answer.status} ${answer.text}`);
      assert.deepEqual(JSON.parse(answer.text), { error: 'not found' });
    });
  });

  it('answers each request of a batch, and never hangs on hostile batches or notifications', async () => {
    const item = fc.oneof(
      fc.constant({ kind: 'list' as const }),
      nastyString.filter((m) => !knownMethods.has(m) && !m.startsWith('notifications/')).map((method) => ({ kind: 'unknown' as const, method })),
      fc.constant({ kind: 'bad-params' as const }),
      fc.constant({ kind: 'bad-envelope' as const }),
      fc.record({ kind: fc.constant('notification' as const), method: fc.constantFrom('notifications/cancelled', 'notifications/progress', 'notifications/initialized', 'notifications/whatever'), params: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }).filter((p) => typeof p === 'object' && p !== null && !Array.isArray(p))) }),
    );
    await property('batches', fc.array(item, { minLength: 1, maxLength: 8 }), async (items) => {
      const expected = new Map<number, number | 'result'>();
      const messages = items.map((it) => {
        const id = nextId++;
        switch (it.kind) {
          case 'list':
            expected.set(id, 'result');
            return { jsonrpc: '2.0', id, method: 'tools/list' };
          case 'unknown':
            expected.set(id, -32601);
            return { jsonrpc: '2.0', id, method: it.method };
          case 'bad-params':
            expected.set(id, -32602);
            return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 42 } };
          case 'bad-envelope':
            expected.set(id, -32602);
            return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'fixture.echo', arguments: { message: 'b' }, _meta: { 'switchyard/priority': 'urgent' } } };
          case 'notification':
            return { jsonrpc: '2.0', method: it.method, ...(it.params !== undefined ? { params: it.params } : {}) };
        }
      });
      const req: Req = { method: 'POST', path: '/mcp', headers: inSession(), body: JSON.stringify(messages) };
      const answer = await send(req);
      checkCommon(req, answer);
      if (expected.size === 0) {
        assert.equal(answer.status, 202, answer.text);
        return;
      }
      assert.equal(answer.status, 200, answer.text);
      const got = new Map<unknown, unknown>();
      for (const m of answer.messages as Array<{ id: unknown; result?: unknown; error?: { code: number } }>) got.set(m.id, m.error ? m.error.code : 'result');
      assert.deepEqual(got, expected);
    });
  });

  it('keeps the bugs fuzzing found fixed (regression examples)', async () => {
    workflowsBefore = await workflowCount();
    const cases: Array<{ req: Req; codes: number[]; status: number }> = [
      // The SDK answered a JSON-RPC-shaped mistake with -32700 and an empty batch with 202.
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: '{"jsonrpc":"2.0","id":1}' }, codes: [-32600], status: 400 },
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: '[]' }, codes: [-32600], status: 400 },
      // Params failing the method's schema were -32603 (internal error) with a ZodError dump.
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: rpc('tools/call', { name: 42 }) }, codes: [-32602], status: 200 },
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: rpc('tools/list', { cursor: 7 }) }, codes: [-32602], status: 200 },
      { req: { method: 'POST', path: '/mcp', headers: base(), body: rpc('initialize', { protocolVersion: 1 }) }, codes: [-32602], status: 400 },
      // 5,000 levels overflowed JSON.stringify in Temporal's payload converter: -32005 "Temporal is unavailable".
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: `{"jsonrpc":"2.0","id":${nextId++},"method":"tools/call","params":{"name":"fixture.echo","arguments":{"message":"x","deep":${'['.repeat(5_000)}${']'.repeat(5_000)}}}}` }, codes: [-32600], status: 400 },
      // C1 controls and lone surrogates in keys started a workflow (and a lone surrogate hashed to U+FFFD).
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: rpc('tools/call', { name: 'fixture.echo', arguments: { message: 'x' }, _meta: { 'switchyard/idempotency_key': 'a\u0085b' } }) }, codes: [-32602], status: 200 },
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: rpc('tools/call', { name: 'fixture.echo', arguments: { message: 'x' }, _meta: { 'switchyard/ordering_key': 'lone\ud800' } }) }, codes: [-32602], status: 200 },
      { req: { method: 'POST', path: '/mcp', headers: { ...inSession(), 'x-switchyard-ordering-key': 'key\u0085' }, body: rpc('tools/call', { name: 'fixture.echo', arguments: { message: 'x' } }) }, codes: [-32602], status: 200 },
      // An oversized chunked body got ECONNRESET instead of the 413.
      { req: { method: 'POST', path: '/mcp', headers: inSession(), body: 'z'.repeat(MAX_BODY_BYTES + 5), chunked: true }, codes: [-32600], status: 413 },
    ];
    for (const { req, codes, status } of cases) expectError(req, await send(req), codes, { status: [status] });
    await checkGateway('regressions');
  });

  it('still counts calls: a valid call after all that records exactly one', async () => {
    const req: Req = { method: 'POST', path: '/mcp', headers: inSession(), body: rpc('tools/call', { name: 'fixture.echo', arguments: { message: 'control' } }) };
    const answer = await send(req);
    checkCommon(req, answer);
    assert.equal(answer.status, 200);
    assert.ok(!(answer.messages[0] as { error?: unknown }).error, answer.text);
    await sleep(1_000);
    assert.equal(await workflowCount(), workflowsBefore + 1);
  });
});

function isJsonRpc(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0 && value.every((v) => JSONRPCMessageSchema.safeParse(v).success);
  return JSONRPCMessageSchema.safeParse(value).success;
}

function messagesOf(contentType: string, text: string): unknown[] {
  if (contentType.includes('text/event-stream')) {
    return text
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice('data:'.length).trim())
      .filter((data) => data.length > 0)
      .map((data) => JSON.parse(data) as unknown);
  }
  if (contentType.includes('application/json') && text.length > 0) {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return [];
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
