// MCP request handlers of the front door: tools/list from the catalog; tools/call recorded as a
// durable call and awaited for up to syncWaitMs; the broker's own tools.
import type { CallToolRequest } from '@modelcontextprotocol/sdk/types.js';
import type { CallProgress } from '../activities/call-tool.js';
import { BROKER_UNAVAILABLE, INVALID_PARAMS, JsonRpcError, METHOD_NOT_FOUND, printable } from './jsonrpc.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { CallEnvelope, CallOutcome, ToolResult } from '../shared/envelope.js';
import { CORRELATION_ID } from '../shared/ids.js';
import type { CallService, CallView } from '../services/call-service.js';
import { deadLetterSummary, type DeadLetterService } from '../services/dead-letters.js';
import { KeyLimitError } from '../services/key-calls.js';
import { deadLetterTool } from './dead-letters.js';
import { newTask, type McpTask } from './tasks.js';
import type { Passthrough } from './passthrough.js';
import { InvalidCursorError, type ToolCatalog } from './catalog.js';
import { buildEnvelope, checkRecordable, idempotentCorrelationId, META, validKey } from './envelope.js';
import type { Principal } from './middleware/auth.js';
import { acceptedResult, errorResult, outcomeToResult } from './results.js';
import { BROKER_PREFIX } from './tool-names.js';
import { compensationEnvelope, newSagaId, parseCompensation, parseSagaMeta, SAGA_META, sagaInput, sagaResult, sagaStepName, type SagaService } from './sagas.js';
import type { SagaStepSpec } from '../shared/saga.js';

export interface HandlerDeps {
  config: Config;
  catalog: ToolCatalog;
  calls: CallService;
  deadLetters: DeadLetterService;
  sagas: SagaService;
  log: Logger;
  now?: () => number;
  /** Resources, prompts, completions and logging of the downstream servers; unset in tests of tools alone. */
  passthrough?: Passthrough;
}

export interface CallContext {
  principal: Principal;
  headers: Record<string, string | string[] | undefined>;
  signal: AbortSignal;
  /** True once the client sent notifications/cancelled for this request (not a dropped connection). */
  cancelledByClient?: () => boolean;
  /** The MCP session (for `ordering: session`). */
  sessionId?: string;
  /** Set when the client asked for a task (MCP 2025-11-25): answer with the task, not the result. */
  task?: { ttl?: number | null };
  /** Set when the client sent a progressToken: downstream progress is relayed through this. */
  sendProgress?: (progress: CallProgress) => Promise<void>;
}

export type CallToolAnswer = ToolResult | { task: McpTask; _meta?: Record<string, unknown> };

/** The JSON-RPC code of a refusal under load; data carries `switchyard/retry_after_ms`. */
export const BROKER_BUSY = -32029;

export function listTools(deps: HandlerDeps, cursor: string | undefined) {
  try {
    return deps.catalog.page(cursor);
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new JsonRpcError(INVALID_PARAMS, 'Invalid cursor');
    throw error;
  }
}

export async function callTool(deps: HandlerDeps, params: CallToolRequest['params'], context: CallContext): Promise<CallToolAnswer> {
  const broker = deps.catalog.brokerTool(params.name);
  if (broker !== undefined) {
    if (context.task !== undefined) throw new JsonRpcError(METHOD_NOT_FOUND, `${params.name} does not support tasks`);
    return callBrokerTool(deps, broker, params.arguments ?? {}, context);
  }
  return submitAndWait(deps, params.name, params.arguments ?? {}, (params._meta as Record<string, unknown> | undefined) ?? {}, context);
}

/** tools/call and switchyard.submit: build the envelope, record the call durably, wait as asked. */
async function submitAndWait(
  deps: HandlerDeps,
  name: string,
  args: Record<string, unknown>,
  meta: Record<string, unknown>,
  context: CallContext,
  fieldName?: (metaKey: string) => string,
): Promise<CallToolAnswer> {
  // (meta may gain the saga's ordering key below)
  const resolved = deps.catalog.resolve(name);
  if (resolved === undefined) throw new JsonRpcError(INVALID_PARAMS, `Unknown tool: ${printable(name)}`);
  const server = deps.config.servers.find((s) => s.id === resolved.serverId)!;
  const now = (deps.now ?? Date.now)();
  const saga = meta[SAGA_META] === undefined ? undefined : parseSagaMeta(meta[SAGA_META]);
  if (saga !== undefined) {
    if (meta[META.idempotencyKey] !== undefined || context.headers['idempotency-key'] !== undefined) {
      throw new JsonRpcError(INVALID_PARAMS, `_meta["${SAGA_META}"] and an idempotency key do not mix: a step is repeated safely by sending the same saga id and step name`);
    }
    // The steps of a saga are ordered: by the saga id, unless the request names another key.
    if (meta[META.orderingKey] === undefined && context.headers['x-switchyard-ordering-key'] === undefined) meta = { ...meta, [META.orderingKey]: saga.id };
  }
  const { envelope, acceptAsync } = buildEnvelope({
    principal: context.principal,
    server,
    tool: resolved.tool,
    publicTool: resolved.publicName,
    arguments: args,
    annotations: resolved.definition.annotations,
    meta,
    headers: context.headers,
    ...(context.sessionId !== undefined ? { sessionId: context.sessionId } : {}),
    ...(fieldName ? { fieldName, argumentsName: fieldName('arguments') } : {}),
    config: deps.config,
    now,
  });

  const compensation = saga === undefined ? undefined : compensationEnvelope(deps, envelope, saga.compensation, context, `_meta["${SAGA_META}"].compensation`);
  const step: SagaStepSpec | undefined = saga === undefined ? undefined : { step: saga.step, envelope, ...(compensation !== undefined ? { compensation } : {}) };
  // The step and its compensation travel to the saga as one payload.
  if (step !== undefined) checkRecordable(step, 'the step and its compensation together');
  const nowMs = (deps.now ?? Date.now)();
  const untilDeadline = envelope.deadlineAt - nowMs + 1_000;
  const waitMs = acceptAsync === true ? 0 : acceptAsync === false ? untilDeadline : Math.min(deps.config.defaults.syncWaitMs, untilDeadline);
  if (saga === undefined && context.task === undefined && acceptAsync !== true && envelope.idempotencyKey === undefined) {
    return submitFast(deps, deps.calls.routeFast(envelope), waitMs, context, resolved.definition.outputSchema !== undefined);
  }
  let handle;
  let correlationId = envelope.correlationId;
  const watch = new AdmissionWatch(deps, context, envelope.tenant, correlationId);
  const cancelledResult = (when: string) =>
    errorResult(`${envelope.publicTool} was cancelled by the client ${when}. correlation_id: ${correlationId}`, { [META.correlationId]: correlationId, [META.status]: 'cancelled' });
  try {
    await refuseOverLimits(deps, envelope);
    if (watch.cancelled) return cancelledResult('before it was recorded; nothing was started');
    if (saga === undefined || step === undefined) {
      handle = await deps.calls.submit(envelope, watch.stopWaiting.signal);
    } else {
      // The saga starts the step's call; like any ordered call, it is acknowledged once it is in its lane.
      const input = sagaInput(deps, context, saga.id, 'incremental', now, { ...(envelope.orderingKey !== undefined ? { orderingKey: envelope.orderingKey } : {}), ...(saga.deadlineMs !== undefined ? { deadlineMs: saga.deadlineMs } : {}) });
      const added = await deps.sagas.addStep(input, step);
      correlationId = watch.correlationId = added.correlationId;
      handle = deps.calls.handle(envelope.tenant, correlationId);
      if (added.added && !watch.cancelled) await deps.calls.admit(handle, watch.stopWaiting.signal);
    }
  } catch (error) {
    if (error instanceof JsonRpcError) throw error;
    // The client cancelled while the call waited for admission, and its cancel was requested.
    if (watch.stopWaiting.signal.aborted) return cancelledResult('while it was being admitted');
    deps.log.error('could not record a call in Temporal', { tool: envelope.publicTool, correlationId: envelope.correlationId, error: String(error) });
    throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not record the call durably (Temporal is unavailable). Nothing was run; retry later.', {
      [META.correlationId]: envelope.correlationId,
    });
  } finally {
    watch.detach();
  }
  if (await watch.settle()) return cancelledResult('while it was being admitted');
  deps.log.debug('call accepted', { tool: envelope.publicTool, correlationId: correlationId, tenant: envelope.tenant });
  if (context.task !== undefined) {
    return { task: newTask(correlationId, envelope.acceptedAt), _meta: { [META.correlationId]: correlationId } };
  }

  const stopProgress = context.sendProgress ? followProgress(deps, envelope.tenant, correlationId, context.sendProgress) : undefined;
  let outcome: CallOutcome | undefined;
  try {
    outcome = await deps.calls.waitForOutcome(handle, waitMs, context.signal);
  } catch (error) {
    // The call is durable; losing sight of it here does not lose it.
    deps.log.warn('lost sight of a call while waiting; it continues', { correlationId: correlationId, error: String(error) });
  } finally {
    stopProgress?.();
  }
  if (outcome === undefined && context.signal.aborted && context.cancelledByClient?.()) {
    // The client cancelled the request: cancel the durable call too. A dropped connection or a
    // closing session is not a cancellation; that call continues and can be fetched later.
    await deps.calls.cancel(envelope.tenant, correlationId).catch((error: unknown) => {
      deps.log.warn('could not cancel a call the client cancelled', { correlationId: correlationId, error: String(error) });
    });
    return errorResult(`${envelope.publicTool} was cancelled by the client. correlation_id: ${correlationId}`, {
      [META.correlationId]: correlationId,
      [META.status]: 'cancelled',
    });
  }
  if (outcome === undefined) {
    return acceptedResult(correlationId, envelope.publicTool, `${BROKER_PREFIX}${deps.config.gateway.toolSeparator}`, resolved.definition.outputSchema !== undefined);
  }
  return outcomeToResult(outcome, correlationId, envelope.publicTool);
}

/**
 * The fast path: the call goes to its key or shard workflow, which answers in the same round trip
 * when it ends within `waitMs` (docs/architecture.md, "The call path"). A client's cancel, even
 * while the call is being accepted, cancels the call in its workflow; a dropped connection does not.
 */
async function submitFast(deps: HandlerDeps, envelope: CallEnvelope, waitMs: number, context: CallContext, hasOutputSchema: boolean): Promise<CallToolAnswer> {
  const correlationId = envelope.correlationId;
  const stopProgress = context.sendProgress && envelope.execution === 'activity' ? followProgress(deps, envelope.tenant, correlationId, context.sendProgress) : undefined;
  let outcome: CallOutcome | undefined;
  try {
    outcome = await deps.calls.submitFast(envelope, waitMs, deps.config.limits, context.signal);
  } catch (error) {
    if (error instanceof KeyLimitError) throw busy(deps, envelope.tenant, error);
    if (!context.signal.aborted) {
      deps.log.error('could not record a call in Temporal', { tool: envelope.publicTool, correlationId, error: String(error) });
      throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not record the call durably (Temporal is unavailable). Retry later; the correlation id is in this error.', {
        [META.correlationId]: correlationId,
      });
    }
  } finally {
    stopProgress?.();
  }
  if (outcome === undefined && context.signal.aborted && context.cancelledByClient?.()) {
    // The call may have been accepted a moment before the cancel: its workflow cancels it, or
    // cancels it when it arrives. A call whose workflow did not exist yet is looked for once more.
    const cancel = () => deps.calls.cancel(envelope.tenant, correlationId).catch(() => 'not_found' as const);
    if ((await cancel()) === 'not_found') await new Promise((resolve) => setTimeout(resolve, 500)).then(cancel);
    return errorResult(`${envelope.publicTool} was cancelled by the client. correlation_id: ${correlationId}`, {
      [META.correlationId]: correlationId,
      [META.status]: 'cancelled',
    });
  }
  if (outcome === undefined) {
    return acceptedResult(correlationId, envelope.publicTool, `${BROKER_PREFIX}${deps.config.gateway.toolSeparator}`, hasOutputSchema);
  }
  return outcomeToResult(outcome, correlationId, envelope.publicTool);
}

function busy(deps: HandlerDeps, tenant: string, breach: { scope: string; count: number; limit: number }): JsonRpcError {
  const retryAfterMs = deps.config.limits.retryAfterMs;
  deps.log.warn('call refused over a limit', { tenant, scope: breach.scope, count: breach.count, limit: breach.limit });
  return new JsonRpcError(
    BROKER_BUSY,
    `Too many unfinished calls on this ${breach.scope} (${breach.count}, limit ${breach.limit}); the call was not accepted. Retry after ${Math.ceil(retryAfterMs / 1000)} s.`,
    { [META.retryAfterMs]: retryAfterMs },
  );
}

/** Refuses a new call when its key or tenant has too many unfinished calls; a repeat of an existing call is never refused. */
async function refuseOverLimits(deps: HandlerDeps, envelope: CallEnvelope): Promise<void> {
  if (envelope.idempotencyKey !== undefined && (await deps.calls.exists(envelope.tenant, envelope.correlationId))) return;
  const breach = await deps.calls.checkLimits(envelope, deps.config.limits);
  if (breach !== undefined) throw busy(deps, envelope.tenant, breach);
}

/**
 * Follows a client's cancel (notifications/cancelled) while its call is being recorded. Recording
 * an ordered call includes its admission into the key's lane, which needs a worker: with every
 * worker down it waits until one is back, and nothing listened to the request's abort meanwhile,
 * so the call ran once admitted. The call's workflow exists as soon as its start is recorded, even
 * with no worker, so the cancel is requested at once: the workflow then ends cancelled in its
 * first workflow task, before its lane gives it a turn and before its server sees it, and the
 * gateway stops waiting for the admission. A cancel that came before the start was recorded is
 * requested again when recording returns (`settle`). A closing session or a dropped connection also
 * aborts the signal, but is not a cancel: those calls go on.
 */
class AdmissionWatch {
  /** Aborted once the cancel is requested: recording need not be waited for any longer. */
  readonly stopWaiting = new AbortController();
  private readonly onAbort = () => void this.cancelEarly();

  constructor(
    private readonly deps: HandlerDeps,
    private readonly context: CallContext,
    private readonly tenant: string,
    /** The call to cancel; a saga step learns its id from the saga. */
    public correlationId: string,
  ) {
    context.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  get cancelled(): boolean {
    return this.context.signal.aborted && this.context.cancelledByClient?.() === true;
  }

  detach(): void {
    this.context.signal.removeEventListener('abort', this.onAbort);
  }

  /** After recording: true when the client cancelled, and then the call's cancel has been requested. */
  async settle(): Promise<boolean> {
    if (!this.cancelled) return false;
    await this.deps.calls.cancel(this.tenant, this.correlationId).catch((error: unknown) => {
      this.deps.log.warn('could not cancel a call the client cancelled while it was recorded', { correlationId: this.correlationId, error: String(error) });
    });
    return true;
  }

  private async cancelEarly(): Promise<void> {
    if (!this.cancelled) return;
    const result = await this.deps.calls.cancel(this.tenant, this.correlationId).catch(() => 'not_found' as const);
    if (result !== 'not_found') this.stopWaiting.abort();
  }
}

/**
 * Relays the downstream server's progress while a caller waits. The worker puts the latest
 * progress in the activity's heartbeat details; this reads them once a second, so progress is as
 * coarse as max(1 s, the SDK's heartbeat throttle) and intermediate steps can be skipped.
 */
function followProgress(deps: HandlerDeps, tenant: string, correlationId: string, send: (progress: CallProgress) => Promise<void>): () => void {
  let last = '';
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    const progress = await deps.calls.progress(tenant, correlationId).catch(() => undefined);
    const key = JSON.stringify(progress ?? null);
    if (progress !== undefined && key !== last && !stopped) {
      last = key;
      await send(progress).catch(() => undefined);
    }
  };
  const timer = setInterval(() => void tick(), PROGRESS_POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

const PROGRESS_POLL_MS = 1_000;

async function callBrokerTool(deps: HandlerDeps, name: string, args: Record<string, unknown>, context: CallContext): Promise<CallToolAnswer> {
  const tenant = context.principal.tenant;
  if (name === 'submit') return submitTool(deps, args, context);
  if (name === 'run_saga') return runSagaTool(deps, args, context);
  if (name === 'saga_commit' || name === 'saga_abort' || name === 'get_saga') return sagaTool(deps, name, args, context);
  if (name.startsWith('dlq_')) return deadLetterTool(deps, name, args, context);
  const correlationId = correlationIdArgument(args, tenant);
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

/** switchyard.submit: the envelope as arguments, for agents that cannot set _meta. */
async function submitTool(deps: HandlerDeps, args: Record<string, unknown>, context: CallContext): Promise<CallToolAnswer> {
  const known = new Set(['tool', 'arguments', 'ordering_key', 'idempotency_key', 'deadline_ms', 'deadline', 'priority', 'accept_async']);
  for (const key of Object.keys(args)) if (!known.has(key)) throw new JsonRpcError(INVALID_PARAMS, `switchyard.submit has no argument "${printable(key)}"`);
  const { tool, arguments: toolArgs } = args;
  if (typeof tool !== 'string' || tool.length === 0) throw new JsonRpcError(INVALID_PARAMS, 'argument "tool" must be the name of a tool from tools/list');
  if (deps.catalog.brokerTool(tool) !== undefined) throw new JsonRpcError(INVALID_PARAMS, 'argument "tool" must be a downstream tool, not a switchyard tool');
  if (toolArgs !== undefined && (typeof toolArgs !== 'object' || toolArgs === null || Array.isArray(toolArgs))) {
    throw new JsonRpcError(INVALID_PARAMS, 'argument "arguments" must be an object');
  }
  const meta: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const [arg, metaKey] of Object.entries(SUBMIT_FIELDS)) {
    if (args[arg] !== undefined) meta[metaKey] = args[arg];
    names[metaKey] = arg;
  }
  // The arguments replace _meta and headers: what the agent wrote is what applies.
  return submitAndWait(deps, tool, (toolArgs as Record<string, unknown> | undefined) ?? {}, meta, { ...context, headers: {} }, (metaKey) => `argument "${names[metaKey] ?? metaKey}"`);
}

/** switchyard.run_saga: the whole saga at once; answers with every step's outcome (or "running"). */
async function runSagaTool(deps: HandlerDeps, args: Record<string, unknown>, context: CallContext): Promise<CallToolAnswer> {
  const known = new Set(['steps', 'ordering_key', 'deadline_ms', 'idempotency_key', 'accept_async']);
  for (const key of Object.keys(args)) if (!known.has(key)) throw new JsonRpcError(INVALID_PARAMS, `switchyard.run_saga has no argument "${printable(key)}"`);
  const { steps, ordering_key: orderingKey, deadline_ms: deadlineMs, idempotency_key: idempotencyKey, accept_async: acceptAsync } = args;
  const max = deps.config.sagas.maxSteps;
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > max) throw new JsonRpcError(INVALID_PARAMS, `argument "steps" must be a list of 1-${max} steps {tool, arguments?, compensation?, step?}`);
  for (const [arg, value] of [['ordering_key', orderingKey], ['idempotency_key', idempotencyKey]] as const) {
    if (value !== undefined) validKey(value, `argument "${arg}"`);
  }
  const maxDeadline = deps.config.defaults.maxDeadlineMs;
  if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || !Number.isInteger(deadlineMs) || deadlineMs < 1 || deadlineMs > maxDeadline)) {
    throw new JsonRpcError(INVALID_PARAMS, `argument "deadline_ms" must be an integer number of milliseconds between 1 and ${maxDeadline}`);
  }
  if (acceptAsync !== undefined && typeof acceptAsync !== 'boolean') throw new JsonRpcError(INVALID_PARAMS, 'argument "accept_async" must be true or false');
  const now = (deps.now ?? Date.now)();
  const names = new Set<string>();
  const specs = steps.map((raw: unknown, i): SagaStepSpec => {
    const at = `steps[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new JsonRpcError(INVALID_PARAMS, `${at} must be an object {tool, arguments?, compensation?, step?}`);
    const { tool, arguments: toolArgs, compensation, step, ...rest } = raw as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new JsonRpcError(INVALID_PARAMS, `${at} has no field "${printable(extra)}" (fields: tool, arguments, compensation, step)`);
    if (typeof tool !== 'string' || tool.length === 0) throw new JsonRpcError(INVALID_PARAMS, `${at}.tool must be the name of a tool from tools/list`);
    if (deps.catalog.brokerTool(tool) !== undefined) throw new JsonRpcError(INVALID_PARAMS, `${at}.tool must be a downstream tool, not a switchyard tool`);
    const resolved = deps.catalog.resolve(tool);
    if (resolved === undefined) throw new JsonRpcError(INVALID_PARAMS, `${at}.tool: unknown tool ${printable(tool)}`);
    if (toolArgs !== undefined && (toolArgs === null || typeof toolArgs !== 'object' || Array.isArray(toolArgs))) throw new JsonRpcError(INVALID_PARAMS, `${at}.arguments must be an object`);
    const name = step === undefined ? String(i + 1) : sagaStepName(step, `${at}.step`);
    if (names.has(name)) throw new JsonRpcError(INVALID_PARAMS, `${at}.step: "${printable(name)}" is used twice`);
    names.add(name);
    const { envelope } = buildEnvelope({
      principal: context.principal,
      server: deps.config.servers.find((s) => s.id === resolved.serverId)!,
      tool: resolved.tool,
      publicTool: resolved.publicName,
      arguments: (toolArgs as Record<string, unknown> | undefined) ?? {},
      annotations: resolved.definition.annotations,
      meta: orderingKey !== undefined ? { [META.orderingKey]: orderingKey } : {},
      headers: {},
      fieldName: () => 'argument "ordering_key"',
      argumentsName: `${at}.arguments`,
      config: deps.config,
      now,
    });
    const undo = compensation === undefined ? undefined : parseCompensation(compensation, `${at}.compensation`);
    const built = compensationEnvelope(deps, envelope, undo, context, `${at}.compensation`);
    return { step: name, envelope, ...(built !== undefined ? { compensation: built } : {}) };
  });
  // The saga's input holds every step: one payload, under the same limit as one call's arguments.
  checkRecordable(specs, 'argument "steps" (all steps together)');
  const sagaId = newSagaId(context.principal.tenant, idempotencyKey as string | undefined, now);
  const input = sagaInput(deps, context, sagaId, 'whole', now, {
    steps: specs,
    ...(orderingKey !== undefined ? { orderingKey: orderingKey as string } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs: deadlineMs as number } : {}),
  });
  try {
    if ((await deps.sagas.status(input.tenant, sagaId)) === undefined) await refuseOverLimits(deps, specs[0]!.envelope);
    await deps.sagas.start(input);
    const status = await deps.sagas.waitForEnd(input.tenant, sagaId, acceptAsync === true ? 0 : deps.config.defaults.syncWaitMs);
    if (status === undefined) throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not read the saga back from Temporal; retry with the same idempotency_key.');
    const result = sagaResult(status, true);
    if (status.endedAt === undefined) {
      result.content = [{ type: 'text', text: `Saga ${sagaId} was accepted and is ${status.state}. Call ${BROKER_PREFIX}${deps.config.gateway.toolSeparator}get_saga with {"saga_id": "${sagaId}"} to follow it.` }, ...result.content];
    }
    return result;
  } catch (error) {
    if (error instanceof JsonRpcError) throw error;
    deps.log.error('could not run a saga', { sagaId, error: String(error) });
    throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not record the saga durably (Temporal is unavailable). Retry with the same idempotency_key.');
  }
}

/** switchyard.saga_commit, saga_abort, get_saga. */
async function sagaTool(deps: HandlerDeps, name: 'saga_commit' | 'saga_abort' | 'get_saga', args: Record<string, unknown>, context: CallContext): Promise<CallToolAnswer> {
  for (const key of Object.keys(args)) if (key !== 'saga_id') throw new JsonRpcError(INVALID_PARAMS, `switchyard.${name} has no argument "${printable(key)}"`);
  const sagaId = validKey(args.saga_id, 'argument "saga_id"');
  const tenant = context.principal.tenant;
  try {
    const status =
      name === 'get_saga'
        ? await deps.sagas.status(tenant, sagaId)
        : await deps.sagas.close(tenant, sagaId, name === 'saga_commit' ? 'commit' : 'abort', context.principal.subject, deps.config.defaults.syncWaitMs);
    if (status === undefined) return errorResult(`No saga with id ${printable(sagaId)} in this tenant.`, { [META.status]: 'not_found' });
    return sagaResult(status, name !== 'get_saga');
  } catch (error) {
    if (error instanceof JsonRpcError) throw error;
    deps.log.error('saga tool failed', { tool: name, error: String(error) });
    throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not reach Temporal; retry later.');
  }
}

const SUBMIT_FIELDS: Record<string, string> = {
  ordering_key: META.orderingKey,
  idempotency_key: META.idempotencyKey,
  deadline_ms: META.deadlineMs,
  deadline: META.deadline,
  priority: META.priority,
  accept_async: META.acceptAsync,
};

/**
 * Broker tools address a call by correlation_id, or by the idempotency_key it was sent with: a
 * client whose connection died before it saw the correlation id can still find its call.
 */
function correlationIdArgument(args: Record<string, unknown>, tenant: string): string {
  const { correlation_id: correlationId, idempotency_key: idempotencyKey } = args;
  if (typeof correlationId === 'string' && CORRELATION_ID.test(correlationId)) return correlationId;
  if (correlationId === undefined && idempotencyKey !== undefined) return idempotentCorrelationId(tenant, validKey(idempotencyKey, 'argument "idempotency_key"'));
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
