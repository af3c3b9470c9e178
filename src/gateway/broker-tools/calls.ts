// The call tools: switchyard.submit (a tools/call whose envelope is given as arguments),
// get_call and cancel_call (a durable call found by its correlation id or idempotency key).
import { actorOf } from '../../audit/arguments.js';
import { z } from 'zod';
import { PRIORITIES } from '../../config/schema.js';
import { deadLetterSummary } from '../../services/dead-letters.js';
import type { CallView } from '../../services/call-service.js';
import type { ToolResult } from '../../shared/envelope.js';
import { CORRELATION_ID } from '../../shared/ids.js';
import { hashKeyOf, type HashKey } from '../../shared/key-hash.js';
import { ArgumentsSchema } from '../arguments.js';
import { idempotentCorrelationId, KeySchema, META } from '../envelope.js';
import { INVALID_PARAMS, JsonRpcError } from '../jsonrpc.js';
import { errorResult, outcomeToResult } from '../results.js';
import { ToolNameSchema } from '../sagas.js';
import { submitAndWait } from '../submit.js';
import { brokerTool } from './tool.js';

const SubmitInput = z.strictObject({
  tool: ToolNameSchema.describe('The tool to call, as named in tools/list.'),
  arguments: ArgumentsSchema.describe('Arguments for that tool.').optional(),
  ordering_key: KeySchema.describe('Calls with the same key run one at a time, in the order they were accepted.').optional(),
  idempotency_key: KeySchema.describe("Repeating a call with the same key returns the first call's outcome.").optional(),
  deadline_ms: z
    .int({ error: 'must be a positive integer number of milliseconds' })
    .min(1, { error: 'must be a positive integer number of milliseconds' })
    .describe('Milliseconds from now after which the call is abandoned (queued or running).')
    .optional(),
  deadline: z
    .string({ error: 'must be an RFC 3339 date-time with a time zone, e.g. 2026-01-31T12:00:00Z' })
    .meta({ format: 'date-time', description: 'Instead of deadline_ms: an absolute RFC 3339 deadline.' })
    .optional(),
  priority: z.enum(PRIORITIES, { error: `must be one of ${PRIORITIES.join(', ')}` }).optional(),
  accept_async: z
    .boolean({ error: 'must be true or false' })
    .describe('true: answer at once with a correlation_id; false: wait for the result however long it takes (up to the deadline).')
    .optional(),
});

/** The envelope arguments of switchyard.submit and the `_meta` keys they stand for. */
const SUBMIT_FIELDS = {
  ordering_key: META.orderingKey,
  idempotency_key: META.idempotencyKey,
  deadline_ms: META.deadlineMs,
  deadline: META.deadline,
  priority: META.priority,
  accept_async: META.acceptAsync,
} as const;

export const submit = brokerTool({
  definition: {
    name: 'submit',
    title: 'Call a tool with an explicit envelope',
    description:
      'Calls another tool through Switchyard and sets how it runs: calls with the same ordering_key run one at a time in order ' +
      "(e.g. provision, then configure, then enable); a repeated idempotency_key returns the first call's result instead of running " +
      'again; deadline_ms bounds the whole call; priority orders work when the broker is busy; accept_async answers at once ' +
      'with a correlation_id to follow with get_call.',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  input: SubmitInput,
  async handler(deps, input, context) {
    if (deps.catalog.brokerTool(input.tool) !== undefined) throw new JsonRpcError(INVALID_PARAMS, 'argument "tool" must be a downstream tool, not a switchyard tool');
    const meta: Record<string, unknown> = {};
    const names: Record<string, string> = {};
    for (const [arg, metaKey] of Object.entries(SUBMIT_FIELDS)) {
      const value = input[arg as keyof typeof SUBMIT_FIELDS];
      if (value !== undefined) meta[metaKey] = value;
      names[metaKey] = arg;
    }
    // The arguments replace _meta and headers: what the agent wrote is what applies.
    return submitAndWait(deps, input.tool, input.arguments ?? {}, meta, { ...context, headers: {} }, (metaKey) => `argument "${names[metaKey] ?? metaKey}"`);
  },
});

/**
 * Broker tools address a call by correlation_id, or by the idempotency_key it was sent with: a
 * client whose connection died before it saw the correlation id can still find its call.
 */
const CORRELATION_ID_RULE = 'must be the UUID from _meta["switchyard/correlation_id"] (or pass idempotency_key instead)';
const CallRefInput = z
  .strictObject({
    correlation_id: z
      .string({ error: CORRELATION_ID_RULE })
      .regex(CORRELATION_ID, { error: CORRELATION_ID_RULE })
      .describe('The correlation id from _meta["switchyard/correlation_id"] of an earlier result.')
      .optional(),
    idempotency_key: KeySchema.describe('Instead of correlation_id: the idempotency key the call was sent with.').optional(),
  })
  .refine((input) => input.correlation_id !== undefined || input.idempotency_key !== undefined, { error: 'must name the call: correlation_id, or idempotency_key' });

function correlationIdOf(input: z.output<typeof CallRefInput>, tenant: string, hashKey: HashKey): string {
  return input.correlation_id ?? idempotentCorrelationId(tenant, input.idempotency_key!, hashKey);
}

function notFound(correlationId: string): ToolResult {
  return errorResult(`No call with correlation_id ${correlationId} in this tenant.`, { [META.correlationId]: correlationId, [META.status]: 'not_found' });
}

export const getCall = brokerTool({
  definition: {
    name: 'get_call',
    title: 'Get a durable call',
    description:
      'Status of a tool call made through Switchyard, and its result once it is done. Use it when a call answered ' +
      '"accepted" because it was still running, or after reconnecting.',
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  input: CallRefInput,
  async handler(deps, input, context) {
    const correlationId = correlationIdOf(input, context.principal.tenant, hashKeyOf(deps.config.encryption));
    const view = await deps.calls.get(context.principal.tenant, correlationId);
    return view === undefined ? notFound(correlationId) : viewToResult(view);
  },
});

export const cancelCall = brokerTool({
  definition: {
    name: 'cancel_call',
    title: 'Cancel a durable call',
    description: 'Cancels a tool call made through Switchyard: a queued call never runs; a running call is cancelled downstream.',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  input: CallRefInput,
  async handler(deps, input, context) {
    const correlationId = correlationIdOf(input, context.principal.tenant, hashKeyOf(deps.config.encryption));
    const result = await deps.calls.cancel(context.principal.tenant, correlationId, { who: actorOf(context.principal), via: 'cancel_call' });
    if (result === 'not_found') return notFound(correlationId);
    const text = result === 'cancel_requested' ? `Cancellation of ${correlationId} requested.` : `Call ${correlationId} had already finished; nothing to cancel.`;
    return { content: [{ type: 'text', text }], structuredContent: { correlation_id: correlationId, result }, _meta: { [META.correlationId]: correlationId } };
  },
});

function viewToResult(view: CallView): ToolResult {
  const structured = {
    correlation_id: view.correlationId,
    status: view.state,
    tool: view.tool,
    ...(view.orderingKey !== undefined ? { ordering_key: view.orderingKey } : {}),
    started_at: view.startedAt,
    ...(view.closedAt !== undefined ? { closed_at: view.closedAt } : {}),
    ...(view.waitingFor !== undefined ? { waiting_for: view.waitingFor } : {}),
    ...(view.deadLetter !== undefined ? { dead_letter: deadLetterSummary(view.deadLetter) } : {}),
  };
  if (view.outcome === undefined) {
    const waiting = view.waitingFor === undefined ? '' : ` It waits for ${view.waitingFor} to finish${view.waitingFor.includes('/dead-letter/') ? ' (a dead letter: an operator must redrive or discard it)' : ''}.`;
    return {
      content: [{ type: 'text', text: `Call ${view.correlationId} (${view.tool ?? 'tool'}) is ${view.state}.${waiting}` }],
      structuredContent: structured,
      _meta: { [META.correlationId]: view.correlationId, [META.status]: view.state },
    };
  }
  let inner: ToolResult;
  try {
    inner = outcomeToResult(view.outcome, view.correlationId, view.tool ?? 'tool');
  } catch (error) {
    // A downstream JSON-RPC error is reported as the call's failure, not as get_call's own.
    const message = error instanceof JsonRpcError ? error.message : String(error);
    inner = errorResult(`${view.tool ?? 'tool'} failed downstream: ${message}`, {});
  }
  return {
    content: inner.content,
    ...(inner.isError ? { isError: true } : {}),
    structuredContent: { ...structured, result: inner },
    _meta: { [META.correlationId]: view.correlationId, [META.status]: view.state },
  };
}
