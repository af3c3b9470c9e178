// MCP request handlers of the front door: tools/list from the catalog; tools/call recorded as a
// durable call and awaited for up to syncWaitMs; the broker's own tools.
import type { CallToolRequest } from '@modelcontextprotocol/sdk/types.js';
import { BROKER_UNAVAILABLE, INVALID_PARAMS, JsonRpcError } from './jsonrpc.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { CallOutcome, ToolResult } from '../shared/envelope.js';
import { CORRELATION_ID } from '../shared/ids.js';
import type { CallService, CallView } from './call-service.js';
import { InvalidCursorError, type ToolCatalog } from './catalog.js';
import { buildEnvelope, idempotentCorrelationId, MAX_KEY_LENGTH, META } from './envelope.js';
import type { Principal } from './middleware/auth.js';
import { acceptedResult, errorResult, outcomeToResult } from './results.js';
import { BROKER_PREFIX } from './tool-names.js';

export interface HandlerDeps {
  config: Config;
  catalog: ToolCatalog;
  calls: CallService;
  log: Logger;
  now?: () => number;
}

export interface CallContext {
  principal: Principal;
  headers: Record<string, string | string[] | undefined>;
  signal: AbortSignal;
  /** True once the client sent notifications/cancelled for this request (not a dropped connection). */
  cancelledByClient?: () => boolean;
}

export function listTools(deps: HandlerDeps, cursor: string | undefined) {
  try {
    return deps.catalog.page(cursor);
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new JsonRpcError(INVALID_PARAMS, 'Invalid cursor');
    throw error;
  }
}

export async function callTool(deps: HandlerDeps, params: CallToolRequest['params'], context: CallContext): Promise<ToolResult> {
  const broker = deps.catalog.brokerTool(params.name);
  if (broker !== undefined) return callBrokerTool(deps, broker, params.arguments ?? {}, context);

  const resolved = deps.catalog.resolve(params.name);
  if (resolved === undefined) throw new JsonRpcError(INVALID_PARAMS, `Unknown tool: ${printable(params.name)}`);
  const server = deps.config.servers.find((s) => s.id === resolved.serverId)!;
  const now = (deps.now ?? Date.now)();
  const envelope = buildEnvelope({
    principal: context.principal,
    server,
    tool: resolved.tool,
    publicTool: resolved.publicName,
    arguments: params.arguments ?? {},
    meta: params._meta as Record<string, unknown> | undefined,
    headers: context.headers,
    config: deps.config,
    now,
  });

  let handle;
  try {
    handle = await deps.calls.submit(envelope);
  } catch (error) {
    deps.log.error('could not record a call in Temporal', { tool: envelope.publicTool, correlationId: envelope.correlationId, error: String(error) });
    throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not record the call durably (Temporal is unavailable). Nothing was run; retry later.', {
      [META.correlationId]: envelope.correlationId,
    });
  }
  deps.log.debug('call accepted', { tool: envelope.publicTool, correlationId: envelope.correlationId, tenant: envelope.tenant });

  const waitMs = Math.min(deps.config.defaults.syncWaitMs, envelope.deadlineAt - (deps.now ?? Date.now)() + 1_000);
  let outcome: CallOutcome | undefined;
  try {
    outcome = await deps.calls.waitForOutcome(handle, waitMs, context.signal);
  } catch (error) {
    // The call is durable; losing sight of it here does not lose it.
    deps.log.warn('lost sight of a call while waiting; it continues', { correlationId: envelope.correlationId, error: String(error) });
  }
  if (outcome === undefined && context.signal.aborted && context.cancelledByClient?.()) {
    // The client cancelled the request: cancel the durable call too. A dropped connection or a
    // closing session is not a cancellation; that call continues and can be fetched later.
    await deps.calls.cancel(envelope.tenant, envelope.correlationId).catch((error: unknown) => {
      deps.log.warn('could not cancel a call the client cancelled', { correlationId: envelope.correlationId, error: String(error) });
    });
    return errorResult(`${envelope.publicTool} was cancelled by the client. correlation_id: ${envelope.correlationId}`, {
      [META.correlationId]: envelope.correlationId,
      [META.status]: 'cancelled',
    });
  }
  if (outcome === undefined) {
    return acceptedResult(envelope.correlationId, envelope.publicTool, `${BROKER_PREFIX}${deps.config.gateway.toolSeparator}`, resolved.definition.outputSchema !== undefined);
  }
  return outcomeToResult(outcome, envelope.correlationId, envelope.publicTool);
}

async function callBrokerTool(deps: HandlerDeps, name: string, args: Record<string, unknown>, context: CallContext): Promise<ToolResult> {
  const correlationId = correlationIdArgument(args, context.principal.tenant);
  const tenant = context.principal.tenant;
  try {
    if (name === 'get_call') {
      const view = await deps.calls.get(tenant, correlationId);
      if (view === undefined) return errorResult(`No call with correlation_id ${correlationId} in this tenant.`, { [META.correlationId]: correlationId, [META.status]: 'not_found' });
      return viewToResult(view);
    }
    if (name === 'cancel_call') {
      const result = await deps.calls.cancel(tenant, correlationId);
      if (result === 'not_found') return errorResult(`No call with correlation_id ${correlationId} in this tenant.`, { [META.correlationId]: correlationId, [META.status]: 'not_found' });
      const text = result === 'cancel_requested' ? `Cancellation of ${correlationId} requested.` : `Call ${correlationId} had already finished; nothing to cancel.`;
      return { content: [{ type: 'text', text }], structuredContent: { correlation_id: correlationId, result }, _meta: { [META.correlationId]: correlationId } };
    }
  } catch (error) {
    if (error instanceof JsonRpcError) throw error;
    deps.log.error('broker tool failed', { tool: name, error: String(error) });
    throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not reach Temporal; retry later.');
  }
  throw new JsonRpcError(INVALID_PARAMS, `Unknown tool: ${name}`);
}

/**
 * Broker tools address a call by correlation_id, or by the idempotency_key it was sent with: a
 * client whose connection died before it saw the correlation id can still find its call.
 */
function correlationIdArgument(args: Record<string, unknown>, tenant: string): string {
  const { correlation_id: correlationId, idempotency_key: idempotencyKey } = args;
  if (typeof correlationId === 'string' && CORRELATION_ID.test(correlationId)) return correlationId;
  if (correlationId === undefined && typeof idempotencyKey === 'string' && idempotencyKey.length > 0 && idempotencyKey.length <= MAX_KEY_LENGTH) {
    return idempotentCorrelationId(tenant, idempotencyKey);
  }
  throw new JsonRpcError(INVALID_PARAMS, 'correlation_id must be the UUID from _meta["switchyard/correlation_id"] (or pass idempotency_key instead)');
}

function viewToResult(view: CallView): ToolResult {
  const structured = {
    correlation_id: view.correlationId,
    status: view.state,
    tool: view.tool,
    ...(view.orderingKey !== undefined ? { ordering_key: view.orderingKey } : {}),
    started_at: view.startedAt,
    ...(view.closedAt !== undefined ? { closed_at: view.closedAt } : {}),
  };
  if (view.outcome === undefined) {
    return {
      content: [{ type: 'text', text: `Call ${view.correlationId} (${view.tool ?? 'tool'}) is ${view.state}.` }],
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

function printable(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 128 ? `${clean.slice(0, 128)}…` : clean;
}
