// Downstream error classification (src/downstream/errors.ts), outcome → MCP result mapping
// (src/gateway/results.ts) and the call envelope (src/gateway/envelope.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, ResourceNotFoundError, SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { classifyDownstreamError, DownstreamError } from '../../src/downstream/errors.js';
import { buildEnvelope, HEADERS, idempotentCorrelationId, META, mutationFromAnnotations, resolvePointer, uuidv7, type EnvelopeInput } from '../../src/gateway/envelope.js';
import { INTERNAL_ERROR, INVALID_PARAMS, JsonRpcError } from '../../src/gateway/jsonrpc.js';
import { acceptedResult, errorResult, outcomeToResult } from '../../src/gateway/results.js';
import type { CallOutcome, ToolResult } from '../../src/shared/envelope.js';
import { CORRELATION_ID } from '../../src/shared/ids.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('classifyDownstreamError', () => {
  it('classifies an MCP request timeout as timeout', () => {
    const error = classifyDownstreamError('files', new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: 100 }));
    assert.ok(error instanceof DownstreamError);
    assert.equal(error.name, 'DownstreamError');
    assert.equal(error.kind, 'timeout');
    assert.equal(error.serverId, 'files');
    assert.equal(error.code, undefined);
    assert.ok(error.message.includes('"files"'), error.message);
  });

  it('classifies a closed MCP connection as unavailable', () => {
    const error = classifyDownstreamError('files', new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed'));
    assert.equal(error.kind, 'unavailable');
    assert.equal(error.serverId, 'files');
    assert.ok(error.message.includes('"files"'), error.message);
  });

  it('classifies other MCP errors as protocol, keeping the code and the server\'s own words', () => {
    const invalid = classifyDownstreamError('files', new ProtocolError(-32602, 'Invalid arguments for tool read: path is required'));
    assert.equal(invalid.kind, 'protocol');
    assert.equal(invalid.code, -32602);
    assert.equal(invalid.message, 'Invalid arguments for tool read: path is required');

    const notFound = classifyDownstreamError('files', new ProtocolError(-32601, 'Tool nope not found'));
    assert.equal(notFound.kind, 'protocol');
    assert.equal(notFound.code, -32601);
    assert.equal(notFound.message, 'Tool nope not found');

    const custom = classifyDownstreamError('files', new ProtocolError(42, 'custom failure'));
    assert.equal(custom.kind, 'protocol');
    assert.equal(custom.code, 42);
    assert.equal(custom.message, 'custom failure');
  });

  it('answers a missing resource with the 2025 code the front door speaks, whichever era said it', () => {
    for (const raw of [ProtocolError.fromError(-32002, 'Resource not found: a://b', { uri: 'a://b' }), ProtocolError.fromError(-32602, 'Resource not found: a://b', { uri: 'a://b' })]) {
      assert.ok(raw instanceof ResourceNotFoundError);
      const error = classifyDownstreamError('files', raw);
      assert.equal(error.kind, 'protocol');
      assert.equal(error.code, -32002);
      assert.equal(error.message, 'Resource not found: a://b');
    }
  });

  it('keeps the server\'s words as they are', () => {
    const error = classifyDownstreamError('files', new ProtocolError(-32603, 'MCP error -1: nested'));
    assert.equal(error.message, 'MCP error -1: nested');
  });

  it('treats an answer the broker cannot pass on (input_required, an invalid result) as protocol, never retried', () => {
    for (const code of [SdkErrorCode.UnsupportedResultType, SdkErrorCode.InputRequiredRoundsExceeded, SdkErrorCode.InvalidResult]) {
      const error = classifyDownstreamError('files', new SdkError(code, 'raw text with token=abc123'));
      assert.equal(error.kind, 'protocol', code);
      assert.equal(error.code, -32603);
      assert.ok(!error.message.includes('abc123'));
    }
  });

  it('classifies refused connections as unavailable and not sent, without the raw error text', () => {
    const raw = [
      Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:8931'), { code: 'ECONNREFUSED' }),
      new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) }),
      new Error('getaddrinfo ENOTFOUND internal-mcp.corp.example'),
      new Error('Not connected'),
    ];
    for (const error of raw) {
      const classified = classifyDownstreamError('web', error);
      assert.equal(classified.kind, 'unavailable', error.message);
      assert.equal(classified.sent, false, error.message);
      assert.equal(classified.serverId, 'web');
      assert.equal(classified.message, 'downstream server "web" is unreachable');
      assert.ok(!classified.message.includes(error.message));
    }
  });

  it('treats a connection that broke after the request may have left as sent (outcome unknown)', () => {
    for (const error of [new Error('socket hang up'), new TypeError('fetch failed'), Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })]) {
      const classified = classifyDownstreamError('web', error);
      assert.equal(classified.kind, 'unavailable', error.message);
      assert.equal(classified.sent, true, error.message);
      assert.equal(classified.message, 'connection to downstream server "web" broke');
    }
    assert.equal(classifyDownstreamError('web', new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out')).sent, true);
  });

  it('reports the HTTP status of a failed HTTP request', () => {
    const classified = classifyDownstreamError('web', new Error('Error POSTing to endpoint (HTTP 503): upstream says token=abc123'));
    assert.equal(classified.kind, 'unavailable');
    assert.equal(classified.message, 'downstream server "web" answered HTTP 503');
    assert.ok(!classified.message.includes('abc123'));
    const typed = classifyDownstreamError('web', new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'Error POSTing to endpoint: token=abc123', { status: 502, text: 'token=abc123' }));
    assert.equal(typed.message, 'downstream server "web" answered HTTP 502');
    assert.equal(classifyDownstreamError('web', new SdkError(SdkErrorCode.NotConnected, 'Not connected')).sent, false);
  });

  it('keeps only the first line of other errors, truncated', () => {
    const multi = classifyDownstreamError('files', new Error('spawn failed\n    at secret/stack/frame.js:1:1'));
    assert.equal(multi.kind, 'unavailable');
    assert.equal(multi.message, 'downstream server "files" failed: spawn failed');
    const long = classifyDownstreamError('files', new Error('y'.repeat(500)));
    assert.equal(long.message, `downstream server "files" failed: ${'y'.repeat(200)}…`);
    const thrown = classifyDownstreamError('files', 'a string');
    assert.equal(thrown.message, 'downstream server "files" failed: a string');
  });

  it('passes a DownstreamError through unchanged', () => {
    const original = new DownstreamError('timeout', 'other', 'already classified');
    assert.equal(classifyDownstreamError('files', original), original);
  });
});

describe('outcomeToResult', () => {
  const id = '01890a5d-ac96-774b-bcce-b302099a8057';

  it('passes a completed result through exactly, adding the correlation id and keeping downstream _meta', () => {
    const result: ToolResult = {
      content: [{ type: 'text', text: 'hello' }, { type: 'image', data: 'AAAA', mimeType: 'image/png' }],
      structuredContent: { answer: 42, nested: { list: [1, 2] } },
      isError: true,
      _meta: { 'vendor/trace': 'abc', progressToken: 7 },
      extraField: 'kept',
    };
    const snapshot = structuredClone(result);
    const answer = outcomeToResult({ status: 'completed', result }, id, 'files.read');
    assert.deepEqual(answer.content, snapshot.content);
    assert.deepEqual(answer.structuredContent, snapshot.structuredContent);
    assert.equal(answer.isError, true);
    assert.equal(answer.extraField, 'kept');
    assert.deepEqual(answer._meta, {
      'vendor/trace': 'abc',
      progressToken: 7,
      [META.correlationId]: id,
      [META.status]: 'completed',
    });
    assert.equal(answer._meta?.['switchyard/correlation_id'], id);
    assert.deepEqual(result, snapshot, 'the outcome is not modified');
  });

  it('adds no fields a completed result did not have', () => {
    const answer = outcomeToResult({ status: 'completed', result: { content: [{ type: 'text', text: 'ok' }] } }, id, 'files.read');
    assert.deepEqual(answer, { content: [{ type: 'text', text: 'ok' }], _meta: { [META.correlationId]: id, [META.status]: 'completed' } });
  });

  it('does not let a downstream server spoof the correlation id', () => {
    const answer = outcomeToResult(
      { status: 'completed', result: { content: [], _meta: { [META.correlationId]: 'spoofed', [META.status]: 'spoofed' } } },
      id,
      'files.read',
    );
    assert.equal(answer._meta?.[META.correlationId], id);
    assert.equal(answer._meta?.[META.status], 'completed');
  });

  it('turns a transport failure into an isError result naming the correlation id', () => {
    const outcome: CallOutcome = { status: 'failed', reason: 'transport', message: 'downstream server "files" is unreachable', attempts: 5 };
    const answer = outcomeToResult(outcome, id, 'files.read');
    assert.equal(answer.isError, true);
    assert.equal(answer.content.length, 1);
    const text = (answer.content[0] as { type: string; text: string }).text;
    assert.equal((answer.content[0] as { type: string }).type, 'text');
    assert.ok(text.includes(id), text);
    assert.ok(text.includes('files.read'), text);
    assert.ok(text.includes('downstream server "files" is unreachable'), text);
    assert.deepEqual(answer._meta, { [META.correlationId]: id, [META.status]: 'failed' });
  });

  it('turns a downstream JSON-RPC error into a JsonRpcError with the downstream code', () => {
    const outcome: CallOutcome = { status: 'failed', reason: 'downstream_error', message: 'Invalid arguments', code: -32602, attempts: 1 };
    assert.throws(
      () => outcomeToResult(outcome, id, 'files.read'),
      (error: unknown) => {
        assert.ok(error instanceof JsonRpcError);
        assert.equal(error.code, -32602);
        assert.equal(error.message, 'Invalid arguments');
        assert.deepEqual(error.data, { [META.correlationId]: id });
        return true;
      },
    );
  });

  it('uses the internal error code when a downstream error has none', () => {
    const outcome: CallOutcome = { status: 'failed', reason: 'downstream_error', message: 'boom', attempts: 1 };
    assert.throws(
      () => outcomeToResult(outcome, id, 'files.read'),
      (error: unknown) => error instanceof JsonRpcError && error.code === INTERNAL_ERROR && error.code === -32603,
    );
  });

  for (const status of ['deadline_exceeded', 'cancelled'] as const) {
    it(`turns ${status} into an isError result naming the correlation id`, () => {
      const answer = outcomeToResult({ status, message: `the ${status} reason` }, id, 'files.read');
      assert.equal(answer.isError, true);
      const text = (answer.content[0] as { text: string }).text;
      assert.ok(text.includes(id), text);
      assert.ok(text.includes('files.read'), text);
      assert.ok(text.includes(`the ${status} reason`), text);
      assert.deepEqual(answer._meta, { [META.correlationId]: id, [META.status]: status });
    });
  }
});

describe('acceptedResult and errorResult', () => {
  const id = '01890a5d-ac96-774b-bcce-b302099a8057';

  it('is a normal result naming the correlation id and the broker tools', () => {
    const answer = acceptedResult(id, 'files.read', 'switchyard.', false);
    assert.equal('isError' in answer, false);
    assert.equal(answer.content.length, 1);
    const text = (answer.content[0] as { text: string }).text;
    assert.ok(text.includes(id), text);
    assert.ok(text.includes('files.read'), text);
    assert.ok(text.includes('switchyard.get_call'), text);
    assert.ok(text.includes('switchyard.cancel_call'), text);
    assert.deepEqual(answer._meta, { [META.correlationId]: id, [META.status]: 'accepted' });
  });

  it('is an isError result for a tool with an outputSchema', () => {
    const answer = acceptedResult(id, 'files.read', 'switchyard__', true);
    assert.equal(answer.isError, true);
    assert.ok((answer.content[0] as { text: string }).text.includes('switchyard__get_call'));
    assert.equal(answer._meta?.[META.status], 'accepted');
  });

  it('errorResult builds an isError text result', () => {
    assert.deepEqual(errorResult('bad', { a: 1 }), { content: [{ type: 'text', text: 'bad' }], isError: true, _meta: { a: 1 } });
  });
});

describe('buildEnvelope', () => {
  const config: Config = ConfigSchema.parse({ servers: [{ id: 'files', transport: 'stdio', command: 'node', timeoutMs: 12_000 }] });
  const server = config.servers[0]!;
  const now = 1_700_000_000_000;

  const input = (overrides: Partial<EnvelopeInput> = {}): EnvelopeInput => ({
    principal: { tenant: 'acme', subject: 'apikey:0123456789ab', admin: false },
    server,
    tool: 'read.file',
    publicTool: 'files.read.file',
    arguments: { path: '/tmp/x' },
    meta: undefined,
    headers: {},
    config,
    now,
    ...overrides,
  });

  const env = (overrides: Partial<EnvelopeInput> = {}) => buildEnvelope(input(overrides)).envelope;

  /** Asserts a JsonRpcError -32602 whose message names `field`. */
  function rejects(overrides: Partial<EnvelopeInput>, field: string): void {
    assert.throws(
      () => env(overrides),
      (error: unknown) => {
        assert.ok(error instanceof JsonRpcError, String(error));
        assert.equal(error.code, INVALID_PARAMS);
        assert.equal(error.code, -32602);
        assert.ok(error.message.includes(field), `${error.message} should name ${field}`);
        return true;
      },
      JSON.stringify(overrides),
    );
  }

  it('fills everything else from the config defaults and the authenticated principal', () => {
    const envelope = env({ meta: { 'switchyard/tenant': 'other', unrelated: 1 } });
    assert.match(envelope.correlationId, UUID_V7);
    assert.equal(envelope.correlationId.replace(/-/g, '').slice(0, 12), now.toString(16).padStart(12, '0'));
    assert.equal(envelope.tenant, 'acme');
    assert.equal(envelope.principal, 'apikey:0123456789ab');
    assert.equal(envelope.serverId, 'files');
    assert.equal(envelope.tool, 'read.file');
    assert.equal(envelope.publicTool, 'files.read.file');
    assert.deepEqual(envelope.arguments, { path: '/tmp/x' });
    assert.equal('orderingKey' in envelope, false);
    assert.equal('idempotencyKey' in envelope, false);
    assert.equal(envelope.acceptedAt, now);
    assert.equal(envelope.deadlineAt, now + 30_000);
    assert.equal(envelope.requestTimeoutMs, 12_000);
    assert.equal(envelope.heartbeatTimeoutMs, 5_000);
    assert.deepEqual(envelope.retry, { maxAttempts: 5, initialIntervalMs: 200, maxIntervalMs: 5_000, backoffCoefficient: 2 });
  });

  it('takes values from headers when _meta has none', () => {
    const envelope = env({ headers: { [HEADERS.orderingKey]: 'order-42', [HEADERS.idempotencyKey]: 'idem-1', [HEADERS.deadlineMs]: '5000' } });
    assert.equal(envelope.orderingKey, 'order-42');
    assert.equal(envelope.idempotencyKey, 'idem-1');
    assert.equal(envelope.deadlineAt, now + 5_000);
  });

  it('uses the first value of a repeated header', () => {
    const envelope = env({ headers: { [HEADERS.orderingKey]: ['first', 'second'] } });
    assert.equal(envelope.orderingKey, 'first');
  });

  it('prefers _meta over headers', () => {
    const envelope = env({
      meta: { [META.orderingKey]: 'from-meta', [META.idempotencyKey]: 'idem-meta', [META.deadlineMs]: 7_000 },
      headers: { [HEADERS.orderingKey]: 'from-header', [HEADERS.idempotencyKey]: 'idem-header', [HEADERS.deadlineMs]: '9000' },
    });
    assert.equal(envelope.orderingKey, 'from-meta');
    assert.equal(envelope.idempotencyKey, 'idem-meta');
    assert.equal(envelope.deadlineAt, now + 7_000);
    assert.equal(envelope.correlationId, idempotentCorrelationId('acme', 'idem-meta', undefined));
  });

  it('uses the header names documented in HEADERS and META', () => {
    assert.equal(HEADERS.orderingKey, 'x-switchyard-ordering-key');
    assert.equal(HEADERS.idempotencyKey, 'idempotency-key');
    assert.equal(HEADERS.deadlineMs, 'x-deadline-ms');
    assert.equal(META.correlationId, 'switchyard/correlation_id');
    assert.equal(META.orderingKey, 'switchyard/ordering_key');
    assert.equal(META.idempotencyKey, 'switchyard/idempotency_key');
    assert.equal(META.deadlineMs, 'switchyard/deadline_ms');
  });

  it('accepts keys of 1 and 200 printable characters', () => {
    assert.equal(env({ meta: { [META.orderingKey]: 'k' } }).orderingKey, 'k');
    const long = 'k'.repeat(200);
    assert.equal(env({ meta: { [META.orderingKey]: long } }).orderingKey, long);
    assert.equal(env({ meta: { [META.orderingKey]: 'ünïcode key 🚂' } }).orderingKey, 'ünïcode key 🚂');
  });

  for (const [name, metaKey, headerName] of [
    ['ordering key', META.orderingKey, HEADERS.orderingKey],
    ['idempotency key', META.idempotencyKey, HEADERS.idempotencyKey],
  ] as const) {
    it(`refuses an invalid ${name} from _meta, naming the field`, () => {
      for (const value of [42, null, true, { k: 1 }, ['a'], '', 'k'.repeat(201), 'line\nbreak', 'nul\u0000', 'tab\there', 'del\u007f']) {
        rejects({ meta: { [metaKey]: value } }, `_meta["${metaKey}"]`);
      }
    });

    it(`refuses an invalid ${name} from a header, naming the header`, () => {
      for (const value of ['', 'k'.repeat(201), 'cr\rlf', 'esc\u001b']) {
        rejects({ headers: { [headerName]: value } }, `header ${headerName}`);
      }
    });
  }

  it('accepts deadlines from 1 ms to maxDeadlineMs (one day by default)', () => {
    assert.equal(env({ meta: { [META.deadlineMs]: 1 } }).deadlineAt, now + 1);
    assert.equal(env({ meta: { [META.deadlineMs]: 86_400_000 } }).deadlineAt, now + 86_400_000);
    assert.equal(env({ headers: { [HEADERS.deadlineMs]: '86400000' } }).deadlineAt, now + 86_400_000);
  });

  it('refuses an invalid deadline from _meta, naming the field', () => {
    for (const value of [0, -1, 1.5, 86_400_001, Number.NaN, Infinity, '5000', null, true]) {
      rejects({ meta: { [META.deadlineMs]: value } }, `_meta["${META.deadlineMs}"]`);
    }
  });

  it('refuses an invalid deadline from a header, naming the header', () => {
    for (const value of ['', 'abc', '-5', '1.5', '1e3', '0', '86400001', ' 5000']) {
      rejects({ headers: { [HEADERS.deadlineMs]: value } }, `header ${HEADERS.deadlineMs}`);
    }
  });

  it('refuses an invalid _meta value even when the header is valid', () => {
    rejects({ meta: { [META.orderingKey]: 7 }, headers: { [HEADERS.orderingKey]: 'fine' } }, `_meta["${META.orderingKey}"]`);
    rejects({ meta: { [META.deadlineMs]: 0 }, headers: { [HEADERS.deadlineMs]: '5000' } }, `_meta["${META.deadlineMs}"]`);
  });

  it('gives one correlation id per tenant and idempotency key', () => {
    const first = env({ meta: { [META.idempotencyKey]: 'order-1' } });
    const again = env({ meta: { [META.idempotencyKey]: 'order-1' }, now: now + 60_000 });
    const viaHeader = env({ headers: { [HEADERS.idempotencyKey]: 'order-1' } });
    const otherTenant = env({ meta: { [META.idempotencyKey]: 'order-1' }, principal: { tenant: 'globex', subject: 'apikey:x', admin: false } });
    const otherKey = env({ meta: { [META.idempotencyKey]: 'order-2' } });
    assert.match(first.correlationId, UUID);
    assert.match(first.correlationId, CORRELATION_ID);
    assert.equal(again.correlationId, first.correlationId);
    assert.equal(viaHeader.correlationId, first.correlationId);
    assert.notEqual(otherTenant.correlationId, first.correlationId);
    assert.notEqual(otherKey.correlationId, first.correlationId);
    assert.equal(first.idempotencyKey, 'order-1');
  });

  it('does not confuse tenant and key boundaries', () => {
    assert.notEqual(idempotentCorrelationId('ab', 'c', undefined), idempotentCorrelationId('a', 'bc', undefined));
  });

  it('reads an absolute RFC 3339 deadline', () => {
    assert.equal(env({ meta: { [META.deadline]: new Date(now + 90_000).toISOString() } }).deadlineAt, now + 90_000);
    assert.equal(env({ meta: { [META.deadline]: '2023-11-14T22:14:20+00:00' } }).deadlineAt, Date.parse('2023-11-14T22:14:20Z'));
  });

  it('refuses a bad absolute deadline, naming the field and the reason', () => {
    for (const value of ['tomorrow', '2023-11-14', '2023-11-14T22:14:20', 1_700_000_090_000, null]) rejects({ meta: { [META.deadline]: value } }, `_meta["${META.deadline}"]`);
    rejects({ meta: { [META.deadline]: new Date(now - 1).toISOString() } }, 'in the past');
    rejects({ meta: { [META.deadline]: new Date(now + 86_400_001).toISOString() } }, 'more than 86400000 ms away');
    rejects({ meta: { [META.deadline]: new Date(now + 5_000).toISOString(), [META.deadlineMs]: 5_000 } }, 'not both');
  });

  it('reads priority from _meta or the header, and refuses other values', () => {
    assert.equal(env().priority, 'normal');
    assert.equal(env({ meta: { [META.priority]: 'critical' } }).priority, 'critical');
    assert.equal(env({ headers: { [HEADERS.priority]: 'low' } }).priority, 'low');
    assert.equal(env({ meta: { [META.priority]: 'high' }, headers: { [HEADERS.priority]: 'low' } }).priority, 'high');
    for (const value of ['urgent', 'HIGH', 1, null]) rejects({ meta: { [META.priority]: value } }, `_meta["${META.priority}"]`);
    rejects({ headers: { [HEADERS.priority]: 'urgent' } }, `header ${HEADERS.priority}`);
  });

  it('reads accept_async as a boolean only', () => {
    assert.equal(buildEnvelope(input()).acceptAsync, undefined);
    assert.equal(buildEnvelope(input({ meta: { [META.acceptAsync]: true } })).acceptAsync, true);
    assert.equal(buildEnvelope(input({ meta: { [META.acceptAsync]: false } })).acceptAsync, false);
    for (const value of ['true', 1, null]) rejects({ meta: { [META.acceptAsync]: value } }, `_meta["${META.acceptAsync}"]`);
  });

  it('names switchyard.submit arguments instead of _meta keys', () => {
    rejects({ meta: { [META.priority]: 'urgent' }, fieldName: (key) => `argument "${key === META.priority ? 'priority' : key}"` }, 'argument "priority"');
  });

  it('derives the mutation class from annotations, conservatively', () => {
    assert.equal(mutationFromAnnotations(undefined), 'non_idempotent');
    assert.equal(mutationFromAnnotations({}), 'non_idempotent');
    assert.equal(mutationFromAnnotations({ readOnlyHint: true }), 'read_only');
    assert.equal(mutationFromAnnotations({ idempotentHint: true }), 'idempotent');
    assert.equal(mutationFromAnnotations({ readOnlyHint: false, idempotentHint: false, destructiveHint: true }), 'non_idempotent');
    assert.equal(env({ annotations: { readOnlyHint: true } }).mutation, 'read_only');
  });

  describe('config policies', () => {
    const policied: Config = ConfigSchema.parse({
      servers: [
        {
          id: 'git',
          transport: 'stdio',
          command: 'node',
          policy: { ordering: 'arg:/repo', deadlineMs: 60_000, maxDeadlineMs: 120_000, priority: 'high', mutation: 'idempotent', onDeadLetter: 'halt', retry: { maxAttempts: 2 } },
          toolPolicies: {
            status: { ordering: 'none', mutation: 'read_only', priority: 'low' },
            push: { ordering: 'principal', retry: { initialIntervalMs: 50 } },
            note: { ordering: 'session' },
            nested: { ordering: 'arg:/target/a~1b' },
          },
        },
      ],
    });
    const git = policied.servers[0]!;
    const call = (tool: string, overrides: Partial<EnvelopeInput> = {}) =>
      env({ config: policied, server: git, tool, publicTool: `git.${tool}`, arguments: { repo: 'acme/web' }, sessionId: 'sess-1', ...overrides });

    it('applies the server policy, then the tool policy, field by field', () => {
      const commit = call('commit');
      assert.equal(commit.orderingKey, 'arg:/repo=acme/web');
      assert.equal(commit.deadlineAt, now + 60_000);
      assert.equal(commit.priority, 'high');
      assert.equal(commit.mutation, 'idempotent');
      assert.equal(commit.onDeadLetter, 'halt');
      assert.deepEqual(commit.retry, { maxAttempts: 2, initialIntervalMs: 200, maxIntervalMs: 5_000, backoffCoefficient: 2 });
      const status = call('status');
      assert.equal(status.orderingKey, undefined);
      assert.equal(status.mutation, 'read_only');
      assert.equal(status.priority, 'low');
      const push = call('push');
      assert.equal(push.orderingKey, 'principal:apikey:0123456789ab');
      assert.deepEqual(push.retry, { maxAttempts: 2, initialIntervalMs: 50, maxIntervalMs: 5_000, backoffCoefficient: 2 });
      assert.equal(call('note').orderingKey, 'session:sess-1');
      assert.equal(call('nested', { arguments: { target: { 'a/b': 7 } } }).orderingKey, 'arg:/target/a~1b=7');
    });

    it('lets the request override the policy, within maxDeadlineMs', () => {
      const commit = call('commit', { meta: { [META.orderingKey]: 'mine', [META.priority]: 'critical', [META.deadlineMs]: 120_000 } });
      assert.equal(commit.orderingKey, 'mine');
      assert.equal(commit.priority, 'critical');
      assert.equal(commit.deadlineAt, now + 120_000);
      rejects({ config: policied, server: git, tool: 'commit', arguments: { repo: 'x' }, meta: { [META.deadlineMs]: 120_001 } }, 'between 1 and 120000');
    });

    it('refuses a call whose ordering argument is missing, naming it', () => {
      rejects({ config: policied, server: git, tool: 'commit', publicTool: 'git.commit', arguments: {} }, 'argument /repo is required');
      rejects({ config: policied, server: git, tool: 'commit', publicTool: 'git.commit', arguments: { repo: { deep: 1 } } }, 'argument /repo is required');
    });

    it('resolves JSON pointers per RFC 6901', () => {
      const doc = { a: { 'b/c': { '~d': 1 } }, list: ['x', 'y'] };
      assert.equal(resolvePointer(doc, '/a/b~1c/~0d'), 1);
      assert.equal(resolvePointer(doc, '/list/1'), 'y');
      assert.equal(resolvePointer(doc, '/missing'), undefined);
      assert.equal(resolvePointer(doc, '/a/toString'), undefined);
    });
  });

  it('gives different correlation ids to calls without an idempotency key', () => {
    const a = env();
    const b = env();
    assert.notEqual(a.correlationId, b.correlationId);
  });
});

describe('uuidv7', () => {
  it('is a version 7, RFC 9562 variant UUID that embeds the time', () => {
    for (const now of [0, 1, 1_700_000_000_000, 2 ** 48 - 1]) {
      const id = uuidv7(now);
      assert.match(id, UUID_V7);
      assert.match(id, CORRELATION_ID);
      assert.equal(id.replace(/-/g, '').slice(0, 12), now.toString(16).padStart(12, '0'));
    }
  });

  it('is random within one millisecond', () => {
    const ids = new Set(Array.from({ length: 100 }, () => uuidv7(1_700_000_000_000)));
    assert.equal(ids.size, 100);
  });

  it('sorts by time', () => {
    const times = [1, 255, 256, 65_535, 65_536, 2 ** 40, 1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_999, 1_700_000_001_000, 2 ** 47 + 3];
    const ids = times.map((t) => ({ t, id: uuidv7(t) }));
    const shuffled = [...ids].reverse();
    shuffled.push(shuffled.shift()!);
    const sorted = shuffled.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    assert.deepEqual(
      sorted.map((x) => x.t),
      times,
    );
  });
});
