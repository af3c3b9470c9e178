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
import { CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import type { CallEnvelope, CallOutcome, CallStatus } from '../shared/envelope.js';
import { callWorkflowId } from '../shared/ids.js';
import { admitUpdate, SA_CORRELATION_ID, SA_ORDERING_KEY, SA_OUTCOME, SA_TENANT, SA_TOOL, statusQuery } from '../shared/messages.js';
import type { callWorkflow } from '../workflows/call.js';

export type CallState = 'admitting' | 'queued' | 'running' | 'completed' | 'failed' | 'deadline_exceeded' | 'cancelled';

export interface CallView {
  correlationId: string;
  state: CallState;
  tool?: string;
  orderingKey?: string;
  outcome?: CallOutcome;
  startedAt?: string;
  closedAt?: string;
}

type CallHandle = WorkflowHandle<typeof callWorkflow>;

export class CallService {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /**
   * Records the call durably and returns once it is accepted: for a call with no ordering key,
   * when its workflow exists; for an ordered call, when it is in its key's lane. A workflow id
   * that already exists (a repeated idempotency key) returns the existing call.
   */
  async submit(envelope: CallEnvelope): Promise<CallHandle> {
    const workflowId = callWorkflowId(envelope.tenant, envelope.correlationId);
    const options = {
      workflowId,
      taskQueue: this.taskQueue,
      args: [envelope] as [CallEnvelope],
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      typedSearchAttributes: [
        { key: SA_CORRELATION_ID, value: envelope.correlationId },
        { key: SA_TENANT, value: envelope.tenant },
        { key: SA_TOOL, value: envelope.publicTool },
        ...(envelope.orderingKey !== undefined ? [{ key: SA_ORDERING_KEY, value: envelope.orderingKey }] : []),
        { key: SA_OUTCOME, value: 'pending' },
      ],
      staticSummary: `${envelope.publicTool} for tenant ${envelope.tenant}`,
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

  /** Waits up to `waitMs` for the outcome; undefined if the call is still going. */
  async waitForOutcome(handle: CallHandle, waitMs: number, signal?: AbortSignal): Promise<CallOutcome | undefined> {
    if (waitMs <= 0) return undefined;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), waitMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.client.withAbortSignal(controller.signal, () => handle.result());
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
      return view;
    }
    const outcome = await this.waitForOutcome(handle, 10_000);
    view.outcome = outcome;
    view.state = outcome === undefined ? 'running' : outcome.status;
    return view;
  }

  /** Requests cancellation; false when there is no such call in this tenant. */
  async cancel(tenant: string, correlationId: string): Promise<'cancel_requested' | 'already_closed' | 'not_found'> {
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
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 3_000);
    try {
      return await this.client.withAbortSignal(controller.signal, () => handle.query(statusQuery));
    } catch {
      return undefined;
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
