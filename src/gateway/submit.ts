// Submitting a tool call: its envelope is built from the request, recorded durably in Temporal
// (the fast path through a key or shard workflow, or a call workflow of its own), and awaited for
// up to syncWaitMs, following the client's cancel and relaying progress meanwhile. Used by
// tools/call and switchyard.submit.
import { actorOf } from '../audit/arguments.js';
import type { OperatorBy } from '../audit/sink.js';
import type { CallProgress } from '../activities/call-tool.js';
import type { CallEnvelope, CallOutcome, InputWanted } from '../shared/envelope.js';
import { KeyLimitError } from '../services/key-calls.js';
import { SagaRefusedError } from '../services/sagas.js';
import type { SagaStepSpec } from '../shared/saga.js';
import { annotateCall, callTraceContext } from '../observability/tracing.js';
import { buildEnvelope, checkRecordable, META } from './envelope.js';
import { toJsonRpcError } from './errors.js';
import type { CallContext, CallToolAnswer, HandlerDeps } from './handlers.js';
import { INVALID_PARAMS, JsonRpcError, printable } from './jsonrpc.js';
import { acceptedResult, errorResult, outcomeToResult } from './results.js';
import { compensationEnvelope, parseSagaMeta, SAGA_META, sagaInput } from './sagas.js';
import { newTask } from './tasks.js';
import { BROKER_PREFIX } from './tool-names.js';

/** tools/call and switchyard.submit: build the envelope, record the call durably, wait as asked. */
export async function submitAndWait(
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
  deps.access?.checkTool(context.principal, resolved, 'tools/call');
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
  const { envelope: built, acceptAsync } = buildEnvelope({
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
  const envelope: CallEnvelope = {
    ...built,
    ...(context.input !== undefined ? { input: context.input } : {}),
    ...(context.clientCapabilities !== undefined ? { clientCapabilities: context.clientCapabilities } : {}),
    ...(context.asTask === true ? { task: true } : {}),
    ...callTraceContext(),
  };

  const compensation = saga === undefined ? undefined : compensationEnvelope(deps, envelope, saga.compensation, context, `_meta["${SAGA_META}"].compensation`);
  const step: SagaStepSpec | undefined = saga === undefined ? undefined : { step: saga.step, envelope, ...(compensation !== undefined ? { compensation } : {}) };
  // The step and its compensation travel to the saga as one payload.
  if (step !== undefined) checkRecordable(step, 'the step and its compensation together');
  const nowMs = (deps.now ?? Date.now)();
  const untilDeadline = envelope.deadlineAt - nowMs + 1_000;
  const waitMs = acceptAsync === true ? 0 : acceptAsync === false ? untilDeadline : Math.min(deps.config.defaults.syncWaitMs, untilDeadline);
  if (saga === undefined && context.task === undefined && acceptAsync !== true && envelope.idempotencyKey === undefined) {
    const routed = deps.calls.routeFast(envelope);
    annotateCall(routed);
    return submitFast(deps, routed, waitMs, context, resolved.definition.outputSchema !== undefined);
  }
  annotateCall(envelope);
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
    if (error instanceof KeyLimitError) refusedOverLimit(deps, envelope, context, error);
    // The client cancelled while the call waited for admission, and its cancel was requested.
    const refused = error instanceof JsonRpcError || error instanceof KeyLimitError || error instanceof SagaRefusedError;
    if (!refused && watch.stopWaiting.signal.aborted) return cancelledResult('while it was being admitted');
    throw toJsonRpcError(error, deps, {
      doing: 'record a call',
      unavailable: 'Switchyard could not record the call durably (Temporal is unavailable). Nothing was run; retry later.',
      data: { [META.correlationId]: envelope.correlationId },
      context: { tool: envelope.publicTool, correlationId: envelope.correlationId, tenant: envelope.tenant },
      sagaField: `_meta["${SAGA_META}"].id`,
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
    await deps.calls.cancel(envelope.tenant, correlationId, clientCancel(context)).catch((error: unknown) => {
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
  let outcome: CallOutcome | InputWanted | undefined;
  try {
    outcome = await deps.calls.submitFast(envelope, waitMs, deps.config.limits, context.signal);
  } catch (error) {
    if (error instanceof KeyLimitError) refusedOverLimit(deps, envelope, context, error);
    // A call whose caller went away is no error of the caller's: it may still run, and is found by its id.
    if (error instanceof KeyLimitError || !context.signal.aborted) {
      throw toJsonRpcError(error, deps, {
        doing: 'record a call',
        unavailable: 'Switchyard could not record the call durably (Temporal is unavailable). Retry later; the correlation id is in this error.',
        data: { [META.correlationId]: correlationId },
        context: { tool: envelope.publicTool, correlationId, tenant: envelope.tenant },
      });
    }
  } finally {
    stopProgress?.();
  }
  if (outcome === undefined && context.signal.aborted && context.cancelledByClient?.()) {
    // The call may have been accepted a moment before the cancel: its workflow cancels it, or
    // cancels it when it arrives. A call whose workflow did not exist yet is looked for once more.
    const cancel = () => deps.calls.cancel(envelope.tenant, correlationId, clientCancel(context)).catch(() => 'not_found' as const);
    if ((await cancel()) === 'not_found') await new Promise((resolve) => setTimeout(resolve, 500)).then(cancel);
    return errorResult(`${envelope.publicTool} was cancelled by the client. correlation_id: ${correlationId}`, {
      [META.correlationId]: correlationId,
      [META.status]: 'cancelled',
    });
  }
  if (outcome === undefined) {
    return acceptedResult(correlationId, envelope.publicTool, `${BROKER_PREFIX}${deps.config.gateway.toolSeparator}`, hasOutputSchema);
  }
  if (outcome.status === 'input_required') return { input: outcome, correlationId, _meta: { [META.correlationId]: correlationId, [META.status]: 'input_required' } };
  return outcomeToResult(outcome, correlationId, envelope.publicTool);
}

/** Refuses a new call when its key or tenant has too many unfinished calls; a repeat of an existing call is never refused. */
export async function refuseOverLimits(deps: HandlerDeps, envelope: CallEnvelope): Promise<void> {
  if (envelope.idempotencyKey !== undefined && (await deps.calls.exists(envelope.tenant, envelope.correlationId))) return;
  const breach = await deps.calls.checkLimits(envelope, deps.config.limits);
  if (breach !== undefined) throw new KeyLimitError(breach.count, breach.limit, breach.scope);
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
    await this.deps.calls.cancel(this.tenant, this.correlationId, clientCancel(this.context)).catch((error: unknown) => {
      this.deps.log.warn('could not cancel a call the client cancelled while it was recorded', { correlationId: this.correlationId, error: String(error) });
    });
    return true;
  }

  private async cancelEarly(): Promise<void> {
    if (!this.cancelled) return;
    const result = await this.deps.calls.cancel(this.tenant, this.correlationId, clientCancel(this.context)).catch(() => 'not_found' as const);
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

/** A call refused over a limit is a refusal in the audit log: nothing was started. */
function refusedOverLimit(deps: HandlerDeps, envelope: CallEnvelope, context: CallContext, error: KeyLimitError): void {
  deps.audit?.recordRefusal({
    tenant: envelope.tenant,
    who: actorOf(context.principal),
    reason: 'over_limit',
    message: error.message,
    method: 'tools/call',
    tool: envelope.publicTool,
    correlationId: envelope.correlationId,
  });
}

/** A client's notifications/cancelled, as the audit log records it. */
function clientCancel(context: CallContext): OperatorBy {
  return { who: actorOf(context.principal), via: 'notifications/cancelled' };
}
