// The broker tool registry (src/gateway/broker-tools/): the listing is the zod schema's JSON
// Schema, arguments are parsed by the same schema with -32602 messages that name the argument,
// unknown arguments are refused, and a Temporal that cannot be reached is BROKER_UNAVAILABLE
// (-32005). The services run on a real Temporal client whose server is unreachable (port 1, no
// retries), so every refusal here is proven to happen before anything is sent to Temporal.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ConfigSchema, keySettings, type Config } from '../../src/config/schema.js';
import { BROKER_TOOLS } from '../../src/gateway/broker-tools/index.js';
import { ToolCatalog } from '../../src/gateway/catalog.js';
import { callTool, type CallContext, type HandlerDeps } from '../../src/gateway/handlers.js';
import { BROKER_UNAVAILABLE, INVALID_PARAMS, JsonRpcError } from '../../src/gateway/jsonrpc.js';
import { createLogger } from '../../src/observability/log.js';
import { CallService } from '../../src/services/call-service.js';
import { DeadLetterService } from '../../src/services/dead-letters.js';
import { SagaService } from '../../src/services/sagas.js';

const config: Config = ConfigSchema.parse({ servers: [{ id: 'fixture', transport: 'stdio', command: 'node' }], sagas: { maxSteps: 3 } });
const echo: Tool = { name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } };
// The catalog reads tool lists from the pool; this one holds a fixed list (no downstream is called here).
const connection = { id: 'fixture', listTools: () => [echo], knownTools: () => [echo], isToolAllowed: () => true };
const pool = { all: () => [connection], get: (id: string) => (id === 'fixture' ? connection : undefined) } as never;
const logged: string[] = [];
const log = createLogger('warn', 'test', (line) => logged.push(line));
const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 200, interceptors: [] }) });
const deps: HandlerDeps = {
  config,
  catalog: new ToolCatalog(pool, { separator: '.', unprefixed: new Set() }, 100, log),
  calls: new CallService(temporal, config.temporal.taskQueue, { keys: keySettings(config), updatesPerWorkflow: config.callPath.updatesPerWorkflow }),
  deadLetters: new DeadLetterService(temporal),
  sagas: new SagaService(temporal, config.temporal.taskQueue),
  log,
};
const context = (admin = true): CallContext => ({ principal: { tenant: 'acme', subject: 'apikey:test', admin }, headers: {}, signal: new AbortController().signal });

after(() => temporal.connection.close().catch(() => undefined));

/** The JSON-RPC error a broker tool call ends with. */
async function refusal(name: string, args: Record<string, unknown>, admin = true): Promise<JsonRpcError> {
  const error = await callTool(deps, { name: `switchyard.${name}`, arguments: args }, context(admin)).then(
    (answer) => assert.fail(`expected an error, got ${JSON.stringify(answer)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof JsonRpcError, String(error));
  return error;
}

async function refused(name: string, args: Record<string, unknown>, message: string | RegExp): Promise<void> {
  const error = await refusal(name, args);
  assert.equal(error.code, INVALID_PARAMS, error.message);
  if (typeof message === 'string') assert.equal(error.message, message);
  else assert.match(error.message, message);
}

const CORRELATION_ID = '01a20b00-0000-7000-8000-000000000000';

describe('broker tool listing', () => {
  it('lists every tool with an object input schema that refuses unknown properties', () => {
    assert.deepEqual(
      BROKER_TOOLS.map((t) => t.name),
      ['submit', 'get_call', 'cancel_call', 'run_saga', 'saga_commit', 'saga_abort', 'get_saga', 'dlq_list', 'dlq_show', 'dlq_redrive', 'dlq_discard', 'audit_list'],
    );
    for (const tool of BROKER_TOOLS) {
      assert.equal(tool.inputSchema.type, 'object', tool.name);
      assert.equal((tool.inputSchema as { additionalProperties?: unknown }).additionalProperties, false, tool.name);
      assert.equal((tool.inputSchema as { $schema?: unknown }).$schema, undefined, `${tool.name}: MCP's default dialect, no $schema`);
    }
  });

  it('shows the constraints the parser enforces', () => {
    const submit = BROKER_TOOLS.find((t) => t.name === 'submit')!.inputSchema as { properties: Record<string, Record<string, unknown>>; required: string[] };
    assert.deepEqual(submit.required, ['tool']);
    assert.deepEqual(submit.properties.priority!.enum, ['low', 'normal', 'high', 'critical']);
    assert.deepEqual(submit.properties.ordering_key, { type: 'string', minLength: 1, maxLength: 200, description: 'Calls with the same key run one at a time, in the order they were accepted.' });
    assert.deepEqual(submit.properties.deadline_ms, { type: 'integer', minimum: 1, description: 'Milliseconds from now after which the call is abandoned (queued or running).' });
    assert.equal(submit.properties.deadline!.format, 'date-time');
    const saga = BROKER_TOOLS.find((t) => t.name === 'run_saga')!.inputSchema as unknown as { properties: { steps: { minItems: number; items: { properties: Record<string, unknown>; required: string[] } } } };
    assert.equal(saga.properties.steps.minItems, 1);
    assert.deepEqual(saga.properties.steps.items.required, ['tool']);
    assert.deepEqual(Object.keys(saga.properties.steps.items.properties), ['tool', 'arguments', 'compensation', 'step']);
  });

  it('refuses, for every tool, an argument its listing does not name', async () => {
    for (const tool of BROKER_TOOLS) {
      const error = await refusal(tool.name, { no_such_argument: 1 });
      assert.equal(error.code, INVALID_PARAMS, `${tool.name}: ${error.message}`);
      assert.equal(error.message, `switchyard.${tool.name} has no argument "no_such_argument"`);
    }
  });
});

describe('broker tool arguments', () => {
  it('names a missing required argument', async () => {
    await refused('submit', {}, 'argument "tool" is required');
    await refused('get_saga', {}, 'argument "saga_id" is required');
    await refused('dlq_show', {}, 'argument "correlation_id" is required');
    await refused('run_saga', { steps: [{ arguments: {} }] }, 'steps[0].tool is required');
  });

  it('names a bad value and says what it must be', async () => {
    await refused('submit', { tool: 'fixture.echo', priority: 'urgent' }, 'argument "priority" must be one of low, normal, high, critical');
    await refused('submit', { tool: 'fixture.echo', accept_async: 'yes' }, 'argument "accept_async" must be true or false');
    await refused('submit', { tool: 'fixture.echo', arguments: [] }, 'argument "arguments" must be an object');
    await refused('submit', { tool: 'fixture.echo', deadline_ms: 1.5 }, 'argument "deadline_ms" must be a positive integer number of milliseconds');
    await refused('submit', { tool: 'switchyard.get_call' }, 'argument "tool" must be a downstream tool, not a switchyard tool');
    await refused('get_call', { correlation_id: '../other-tenant' }, 'argument "correlation_id" must be the UUID from _meta["switchyard/correlation_id"] (or pass idempotency_key instead)');
    await refused('get_call', {}, 'switchyard.get_call arguments must name the call: correlation_id, or idempotency_key');
    await refused('cancel_call', { idempotency_key: '' }, 'argument "idempotency_key" must be a string of 1-200 printable characters');
    await refused('saga_commit', { saga_id: 'a\u0001' }, 'argument "saga_id" must be a string of 1-200 printable characters');
    await refused('dlq_discard', { correlation_id: CORRELATION_ID, note: 'x'.repeat(501) }, 'argument "note" must be at most 500 characters');
  });

  it('names the field inside a saga step, and the config limits the schema cannot know', async () => {
    await refused('run_saga', { steps: [] }, 'argument "steps" must be a list of at least one step {tool, arguments?, compensation?, step?}');
    await refused('run_saga', { steps: [3] }, 'steps[0] must be an object {tool, arguments?, compensation?, step?}');
    await refused('run_saga', { steps: [{ tool: 'fixture.echo', colour: 'red' }] }, 'steps[0] has no field "colour"');
    await refused('run_saga', { steps: [{ tool: 'fixture.echo', step: 1.5 }] }, 'steps[0].step must be an integer or a string of 1-200 printable characters');
    await refused('run_saga', { steps: [{ tool: 'fixture.echo', compensation: { tool: 'fixture.echo', arguments: { id: '{{result.id' } } }] }, 'steps[0].compensation.arguments.id: unclosed "{{"');
    await refused('run_saga', { steps: [{ tool: 'fixture.echo' }, { tool: 'fixture.echo', step: '1' }] }, 'steps[1].step: "1" is used twice');
    await refused('run_saga', { steps: [{ tool: 'fixture.nope' }] }, 'steps[0].tool: unknown tool fixture.nope');
    const four = Array.from({ length: 4 }, () => ({ tool: 'fixture.echo' }));
    await refused('run_saga', { steps: four }, 'argument "steps" must be a list of 1-3 steps {tool, arguments?, compensation?, step?}');
    await refused('run_saga', { steps: [{ tool: 'fixture.echo' }], deadline_ms: 10 * 86_400_000 }, /^argument "deadline_ms" must be an integer number of milliseconds between 1 and \d+$/);
  });

  it('answers a non-admin with an isError result before reading its arguments', async () => {
    const answer = await callTool(deps, { name: 'switchyard.dlq_show', arguments: { bad: true } }, context(false));
    assert.ok('content' in answer && answer.isError === true);
    assert.equal(answer._meta?.['switchyard/status'], 'forbidden');
  });
});

describe('Temporal unreachable', () => {
  it('is BROKER_UNAVAILABLE (-32005) with a sentence to retry, for a broker tool and for a call', async () => {
    assert.equal(BROKER_UNAVAILABLE, -32005);
    const lookup = await refusal('get_call', { correlation_id: CORRELATION_ID });
    assert.equal(lookup.code, -32005, lookup.message);
    assert.equal(lookup.message, 'Switchyard could not reach Temporal; retry later.');
    const saga = await refusal('run_saga', { steps: [{ tool: 'fixture.echo' }] });
    assert.equal(saga.code, -32005, saga.message);
    assert.match(saga.message, /Retry with the same idempotency_key/);
    const call = await callTool(deps, { name: 'fixture.echo', arguments: {}, _meta: { 'switchyard/idempotency_key': 'k1' } }, context()).catch((error: unknown) => error);
    assert.ok(call instanceof JsonRpcError && call.code === -32005, String(call));
    assert.match(call.message, /could not record the call durably/);
    assert.ok(typeof (call.data as Record<string, unknown>)['switchyard/correlation_id'] === 'string');
    assert.ok(logged.some((line) => line.includes('could not record a call in Temporal')));
  });
});
