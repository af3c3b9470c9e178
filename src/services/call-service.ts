// The gateway's side of the durable call path: record a call in Temporal, wait for its outcome
// with a long poll (no polling loop), look it up, cancel it. Every id is tenant-scoped.
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { CancelledFailure, defaultPayloadConverter, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { PRIORITY_KEYS, type CallEnvelope, type CallOutcome, type CallStatus, type DeadLetterStatus, type InputWanted, type PendingInput } from '../shared/envelope.js';
import type { InputReply } from '../shared/key.js';
import { callWorkflowId, deadLetterWorkflowId, keyWorkflowId, laneWorkflowId, routeOf } from '../shared/ids.js';
import {
  admitUpdate,
  callSearchAttributes,
  callViewQuery,
  cancelCallSignal,
  deadLetterStatusQuery,
  keyStateQuery,
  laneStateQuery,
  provideInputUpdate,
  SA_ORDERING_KEY,
  SA_TOOL,
  statusQuery,
} from '../shared/messages.js';
import { keyRoute, routedCorrelationId, shardRoute, type KeyWorkflowSettings } from '../shared/route.js';
import { KeyCalls, KeyLimitError } from './key-calls.js';
import type { AuditSink, OperatorBy } from '../audit/sink.js';
import type { CallProgress } from '../activities/call-tool.js';
import type { callWorkflow } from '../workflows/call.js';
import type { deadLetterWorkflow } from '../workflows/dead-letter.js';

export type CallState = 'admitting' | 'queued' | 'running' | 'input_required' | CallOutcome['status'];

export interface Limits {
  maxQueuedPerKey: number;
  maxQueuedPerTenant: number;
}

export interface LimitBreach {
  scope: 'ordering key' | 'tenant';
  count: number;
  limit: number;
}

export interface CallView {
  correlationId: string;
  state: CallState;
  tool?: string;
  orderingKey?: string;
  outcome?: CallOutcome;
  startedAt?: string;
  closedAt?: string;
  /** For a dead-lettered call: where its dead letter stands. */
  deadLetter?: DeadLetterStatus;
  /** For a queued call: the call (or dead letter) that holds its key's turn. */
  waitingFor?: string;
  /** For a call in `input_required`: the input requests it still waits for. */
  input?: PendingInput;
}

type CallHandle = WorkflowHandle<typeof callWorkflow>;

export interface FastPathSettings {
  keys: KeyWorkflowSettings;
  updatesPerWorkflow: number;
}

export class CallService {
  private readonly keys: KeyCalls;
  /** Fast-path calls this gateway is waiting for, per tenant: the tenant limit's count (calls recorded as workflows are counted in visibility). */
  private readonly waiting = new Map<string, number>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly fast: FastPathSettings,
    /** Records cancels (operator actions); unset when the audit log is off. */
    private readonly audit?: AuditSink,
  ) {
    this.keys = new KeyCalls(client, taskQueue, fast.keys, fast.updatesPerWorkflow);
  }

  /**
   * The fast path (a key or shard workflow, docs/architecture.md) takes a call whose caller waits
   * for the answer, without an idempotency key: it gets a routed correlation id. Other calls (an
   * idempotency key, accept_async, a task, a saga step) are recorded as their own call workflow,
   * whose id dedupes and which tasks/list lists.
   */
  /** Fast-path calls this gateway is waiting for, per tenant (for the metrics). */
  waitingByTenant(): Map<string, number> {
    return new Map(this.waiting);
  }

  routeFast(envelope: CallEnvelope): CallEnvelope {
    const route = envelope.orderingKey !== undefined ? keyRoute(envelope.tenant, envelope.orderingKey) : shardRoute(this.fast.keys.shardsPerTenant);
    return { ...envelope, correlationId: routedCorrelationId(route, envelope.correlationId) };
  }

  /**
   * Sends a fast-path call and waits up to `waitMs` for its outcome (undefined: it goes on). Throws
   * before the call is accepted: KeyLimitError over a limit, anything else when Temporal is unavailable.
   */
  async submitFast(envelope: CallEnvelope, waitMs: number, limits: Limits, signal?: AbortSignal): Promise<CallOutcome | InputWanted | undefined> {
    const tenant = envelope.tenant;
    const count = this.waiting.get(tenant) ?? 0;
    if (count >= limits.maxQueuedPerTenant) throw new KeyLimitError(count, limits.maxQueuedPerTenant, 'tenant');
    this.waiting.set(tenant, count + 1);
    try {
      const outcome = await this.keys.submit(envelope, routeOf(envelope.correlationId)!, waitMs, signal);
      if (outcome?.status === 'failed' && outcome.reason === 'over_limit') {
        throw new KeyLimitError(limits.maxQueuedPerKey, limits.maxQueuedPerKey, envelope.orderingKey !== undefined ? 'ordering key' : 'tenant');
      }
      return outcome;
    } finally {
      const left = (this.waiting.get(tenant) ?? 1) - 1;
      if (left === 0) this.waiting.delete(tenant);
      else this.waiting.set(tenant, left);
    }
  }

  /**
   * Records the call durably and returns once it is accepted: for a call with no ordering key,
   * when its workflow exists; for an ordered call, when it is in its key's lane. A workflow id
   * that already exists (a repeated idempotency key) returns the existing call. `stopWaiting`
   * abandons the wait (not the call): for a caller that cancelled the call meanwhile.
   */
  async submit(envelope: CallEnvelope, stopWaiting?: AbortSignal): Promise<CallHandle> {
    return stopWaiting === undefined ? this.record(envelope) : this.client.withAbortSignal(stopWaiting, () => this.record(envelope));
  }

  /** Waits until a call started elsewhere (a saga step) is in its key's lane. */
  async admit(handle: CallHandle, stopWaiting?: AbortSignal): Promise<void> {
    const admit = async () => void (await handle.executeUpdate(admitUpdate));
    await (stopWaiting === undefined ? admit() : this.client.withAbortSignal(stopWaiting, admit));
  }

  private async record(envelope: CallEnvelope): Promise<CallHandle> {
    const workflowId = callWorkflowId(envelope.tenant, envelope.correlationId);
    const options = {
      workflowId,
      taskQueue: this.taskQueue,
      args: [envelope] as [CallEnvelope],
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      typedSearchAttributes: callSearchAttributes(envelope, 'pending'),
      staticSummary: `${envelope.publicTool} for tenant ${envelope.tenant}`,
      // The call's activities inherit it: with busy workers, critical work is dispatched first.
      priority: { priorityKey: PRIORITY_KEYS[envelope.priority] },
      staticDetails: `principal: ${envelope.principal}\n\ncorrelation id: ${envelope.correlationId}${envelope.orderingKey !== undefined ? `\n\nordering key: ${envelope.orderingKey}` : ''}`,
    };
    try {
      if (envelope.orderingKey === undefined) {
        return await this.client.workflow.start<typeof callWorkflow>('callWorkflow', options);
      }
      const operation = new WithStartWorkflowOperation<typeof callWorkflow>('callWorkflow', options);
      await this.client.workflow.executeUpdateWithStart(admitUpdate, { startWorkflowOperation: operation });
      return await operation.workflowHandle();
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return this.client.workflow.getHandle(workflowId);
      throw error;
    }
  }

  handle(tenant: string, correlationId: string): CallHandle {
    return this.client.workflow.getHandle<typeof callWorkflow>(callWorkflowId(tenant, correlationId));
  }

  /**
   * One page of the tenant's calls, newest first (tasks/list): from visibility alone, one round
   * trip, never the results (a page of 50 calls could carry 50 results of up to 1.5 MB each).
   * A closed call's state is its SwitchyardOutcome search attribute; its outcome is left out.
   */
  async list(tenant: string, nextPageToken?: Uint8Array, pageSize = 50): Promise<{ views: CallView[]; nextPageToken?: Uint8Array }> {
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.client.options.namespace,
      query: `WorkflowType IN ('callWorkflow', 'callRecordWorkflow') AND SwitchyardTenant = ${quote(tenant)}`,
      pageSize,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    const views: CallView[] = [];
    for (const execution of response.executions ?? []) {
      const fields = execution.searchAttributes?.indexedFields ?? {};
      const read = (name: string): string | undefined => {
        const payload = fields[name];
        const value = payload ? defaultPayloadConverter.fromPayload<unknown>(payload) : undefined;
        return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
      };
      const correlationId = read('SwitchyardCorrelationId') ?? execution.execution?.workflowId?.split('/').at(-1) ?? '';
      const outcome = read('SwitchyardOutcome');
      const view: CallView = {
        correlationId,
        state: 'running',
        tool: read('SwitchyardTool'),
        startedAt: timestampIso(execution.startTime),
        closedAt: timestampIso(execution.closeTime),
      };
      if (execution.closeTime) view.state = (outcome as CallState | undefined) ?? 'failed';
      views.push(view);
    }
    const token = response.nextPageToken;
    return { views, ...(token && token.length > 0 ? { nextPageToken: token } : {}) };
  }

  /** True when a call with this id exists in the tenant (a repeated idempotency key). */
  async exists(tenant: string, correlationId: string): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(callWorkflowId(tenant, correlationId)).describe();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  /**
   * Counts unfinished calls on the envelope's key and in its tenant. Visibility is updated a few
   * milliseconds after a start, so under a burst the limits can be overshot by that much: they are
   * protection, not accounting.
   */
  async checkLimits(envelope: CallEnvelope, limits: Limits): Promise<LimitBreach | undefined> {
    const base = `WorkflowType = 'callWorkflow' AND ExecutionStatus = 'Running' AND SwitchyardTenant = ${quote(envelope.tenant)}`;
    const [tenantCount, keyCount] = await Promise.all([
      this.client.workflow.count(base),
      envelope.orderingKey === undefined ? undefined : this.client.workflow.count(`${base} AND SwitchyardOrderingKey = ${quote(envelope.orderingKey)}`),
    ]);
    if (keyCount !== undefined && keyCount.count >= limits.maxQueuedPerKey) return { scope: 'ordering key', count: keyCount.count, limit: limits.maxQueuedPerKey };
    const tenantTotal = tenantCount.count + (this.waiting.get(envelope.tenant) ?? 0);
    if (tenantTotal >= limits.maxQueuedPerTenant) return { scope: 'tenant', count: tenantTotal, limit: limits.maxQueuedPerTenant };
    return undefined;
  }

  /** Waits up to `waitMs` for the outcome; undefined if the call is still going. */
  async waitForOutcome(handle: CallHandle, waitMs: number, signal?: AbortSignal): Promise<CallOutcome | undefined> {
    // An abort listener added to an already-aborted signal never runs: do not wait out waitMs.
    if (waitMs <= 0 || signal?.aborted === true) return undefined;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), waitMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const outcome = await this.client.withAbortSignal(controller.signal, () => handle.result());
      return outcome.status === 'dead_lettered' ? await this.afterRedrive(handle.workflowId, outcome) : outcome;
    } catch (error) {
      if (controller.signal.aborted) return undefined;
      const closed = closedOutcome(error);
      if (closed) return closed;
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(tenant: string, correlationId: string): Promise<CallView | undefined> {
    const route = routeOf(correlationId);
    if (route !== undefined) {
      // A call of the fast path: its workflow knows it while it runs and for a while after; a
      // record has it once it ended with nobody waiting, or was dead-lettered.
      const live = await this.withTimeout(() => this.client.workflow.getHandle(keyWorkflowId(tenant, route)).query(callViewQuery, correlationId)).catch(() => undefined);
      if (live !== undefined && live.phase !== 'done') {
        return {
          correlationId,
          state: live.phase,
          tool: live.publicTool,
          ...(live.orderingKey !== undefined ? { orderingKey: live.orderingKey } : {}),
          startedAt: new Date(live.acceptedAt).toISOString(),
          ...(live.waitingFor !== undefined ? { waitingFor: live.waitingFor } : {}),
          ...(live.input !== undefined ? { input: live.input } : {}),
        };
      }
      const recorded = await this.recordedView(tenant, correlationId);
      if (recorded !== undefined || live?.outcome === undefined) return recorded;
      return { correlationId, state: live.outcome.status, tool: live.publicTool, ...(live.orderingKey !== undefined ? { orderingKey: live.orderingKey } : {}), outcome: live.outcome };
    }
    return this.recordedView(tenant, correlationId);
  }

  /** A call recorded as a workflow: a call workflow, or the record of a fast-path call. */
  private async recordedView(tenant: string, correlationId: string): Promise<CallView | undefined> {
    const handle = this.client.workflow.getHandle<typeof callWorkflow>(callWorkflowId(tenant, correlationId));
    let description;
    try {
      description = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
    const attributes = description.typedSearchAttributes;
    const view: CallView = {
      correlationId,
      state: 'running',
      tool: attributes.get(SA_TOOL),
      orderingKey: attributes.get(SA_ORDERING_KEY),
      startedAt: description.startTime.toISOString(),
      closedAt: description.closeTime?.toISOString(),
    };
    if (description.status.name === 'RUNNING') {
      const status = await this.queryStatus(handle);
      view.state = status === undefined || status.phase === 'done' ? 'running' : status.phase;
      if (status?.input !== undefined) view.input = status.input;
      if (view.state === 'queued' && view.orderingKey !== undefined) {
        // It waits in its key workflow (or, for a call older than key workflows, in its lane).
        const keyState = await this.withTimeout(() => this.client.workflow.getHandle(keyWorkflowId(tenant, keyRoute(tenant, view.orderingKey!))).query(keyStateQuery)).catch(() => undefined);
        const lane = keyState === undefined ? await this.withTimeout(() => this.client.workflow.getHandle(laneWorkflowId(tenant, view.orderingKey!)).query(laneStateQuery)).catch(() => undefined) : undefined;
        const holder = keyState !== undefined ? (keyState.holder ?? keyState.running[0]) : lane?.holder;
        if (holder !== undefined) view.waitingFor = holder;
      }
      return view;
    }
    const outcome = await this.waitForOutcome(handle, 10_000);
    view.outcome = outcome;
    view.state = outcome === undefined ? 'running' : outcome.status;
    if (outcome !== undefined) view.deadLetter = await this.deadLetterStatus(tenant, correlationId);
    return view;
  }

  /** The dead letter of a call, if it has one. */
  async deadLetterStatus(tenant: string, correlationId: string): Promise<DeadLetterStatus | undefined> {
    const handle = this.client.workflow.getHandle<typeof deadLetterWorkflow>(deadLetterWorkflowId(tenant, correlationId));
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return await handle.result();
      return await this.withTimeout(() => handle.query(deadLetterStatusQuery));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
  }

  /** A dead-lettered call that an operator redrove to an outcome has that outcome. */
  private async afterRedrive(callId: string, outcome: CallOutcome): Promise<CallOutcome> {
    const [, tenant, , correlationId] = callId.split('/');
    const deadLetter = await this.deadLetterStatus(tenant!, correlationId!).catch(() => undefined);
    return deadLetter?.state === 'redriven' && deadLetter.outcome !== undefined ? deadLetter.outcome : outcome;
  }

  /** The latest progress the downstream server reported for a running call (from heartbeat details). */
  async progress(tenant: string, correlationId: string): Promise<CallProgress | undefined> {
    const route = routeOf(correlationId);
    const workflowId = route !== undefined ? keyWorkflowId(tenant, route) : callWorkflowId(tenant, correlationId);
    const description = await this.client.workflow.getHandle(workflowId).describe();
    for (const activity of description.raw.pendingActivities ?? []) {
      // A key workflow runs several calls: the activity id is the correlation id (#attempt when the workflow retries).
      if (route !== undefined && activity.activityId !== correlationId && !activity.activityId?.startsWith(`${correlationId}#`) && !activity.activityId?.startsWith(`${correlationId}.r`)) continue;
      const payload = activity.heartbeatDetails?.payloads?.[0];
      if (!payload?.data || payload.data.length === 0) continue;
      const value = defaultPayloadConverter.fromPayload(payload);
      if (isProgress(value)) return value;
    }
    return undefined;
  }

  /**
   * Answers the input a call waits for (workflows/input.ts), from any gateway. A fast-path call's
   * key workflow then holds the reply up to `holdMs` for the call's next step (its outcome, or its
   * next input request); a call workflow answers at once. Undefined when there is no such call in
   * this tenant.
   */
  async provideInput(tenant: string, correlationId: string, round: number | undefined, responses: Record<string, unknown>, holdMs: number): Promise<InputReply | undefined> {
    const route = routeOf(correlationId);
    const workflowId = route !== undefined ? keyWorkflowId(tenant, route) : callWorkflowId(tenant, correlationId);
    try {
      const reply = await this.client.workflow.getHandle(workflowId).executeUpdate(provideInputUpdate, { args: [{ correlationId, ...(round !== undefined ? { round } : {}), responses, holdMs }] });
      return reply.unknown === true ? undefined : reply;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      // A call workflow that already ended takes no update: where it stands is its outcome.
      if (route === undefined && (await this.exists(tenant, correlationId))) return { accepted: false };
      throw error;
    }
  }

  /** Requests cancellation; false when there is no such call in this tenant. */
  /** Cancels a call; with `by`, the cancel is written to the audit log before this returns (unless there was no such call). */
  async cancel(tenant: string, correlationId: string, by?: OperatorBy): Promise<'cancel_requested' | 'already_closed' | 'not_found'> {
    const result = await this.requestCancel(tenant, correlationId);
    if (by !== undefined && result !== 'not_found') {
      await this.audit?.recordOperatorAction({ tenant, who: by.who, action: 'cancel', target: correlationId, outcome: result, detail: { via: by.via } });
    }
    return result;
  }

  private async requestCancel(tenant: string, correlationId: string): Promise<'cancel_requested' | 'already_closed' | 'not_found'> {
    const route = routeOf(correlationId);
    if (route !== undefined) {
      const keyHandle = this.client.workflow.getHandle(keyWorkflowId(tenant, route));
      const live = await this.withTimeout(() => keyHandle.query(callViewQuery, correlationId)).then(
        (view) => ({ answered: true, view }),
        () => ({ answered: false, view: undefined }),
      );
      if (live.view?.phase === 'done') return 'already_closed';
      if (live.answered && live.view === undefined) {
        // Not in its workflow: ended and recorded, or never sent.
        return (await this.exists(tenant, correlationId)) ? 'already_closed' : 'not_found';
      }
      // Running or queued; or no worker answered (the call may still be arriving): the workflow
      // cancels it, or cancels it on arrival.
      try {
        await keyHandle.signal(cancelCallSignal, { correlationId });
        return 'cancel_requested';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return 'not_found';
        throw error;
      }
    }
    const handle = this.client.workflow.getHandle(callWorkflowId(tenant, correlationId));
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return 'already_closed';
      await handle.cancel();
      return 'cancel_requested';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'not_found';
      throw error;
    }
  }

  private async queryStatus(handle: CallHandle): Promise<CallStatus | undefined> {
    // A query needs a worker; with every worker down the call is still "running".
    return this.withTimeout(() => handle.query(statusQuery)).catch(() => undefined);
  }

  private async withTimeout<T>(fn: () => Promise<T>, ms = 3_000): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), ms);
    try {
      return await this.client.withAbortSignal(controller.signal, fn);
    } finally {
      clearTimeout(timer);
    }
  }
}

function closedOutcome(error: unknown): CallOutcome | undefined {
  if (!(error instanceof WorkflowFailedError)) return undefined;
  if (error.cause instanceof CancelledFailure) return { status: 'cancelled', message: 'the call was cancelled' };
  if (error.cause instanceof TerminatedFailure) return { status: 'cancelled', message: 'the call was terminated by an operator' };
  if (error.cause instanceof TimeoutFailure) return { status: 'deadline_exceeded', message: 'the call timed out' };
  return { status: 'failed', reason: 'transport', message: 'the call failed inside the broker', attempts: 0 };
}

function timestampIso(timestamp: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined {
  if (!timestamp || timestamp.seconds === undefined || timestamp.seconds === null) return undefined;
  const seconds = Number(timestamp.seconds);
  return new Date(seconds * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6)).toISOString();
}

function isProgress(value: unknown): value is CallProgress {
  return typeof value === 'object' && value !== null && typeof (value as { progress?: unknown }).progress === 'number';
}

/** A visibility-query string literal. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
