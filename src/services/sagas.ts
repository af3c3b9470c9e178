// SagaService: starts, extends, reads and closes saga workflows (src/workflows/saga.ts) for the
// gateway and the CLI. It speaks in domain terms: a saga that refuses a request throws
// SagaRefusedError; the gateway maps that to the wire (src/gateway/errors.ts).
import type { AuditSink, OperatorBy } from '../audit/sink.js';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { callWorkflowId, sagaWorkflowId } from '../shared/ids.js';
import { abortSagaUpdate, addSagaStepUpdate, commitSagaUpdate, SA_SAGA_ID, SA_TENANT, sagaStatusQuery } from '../shared/messages.js';
import { FINAL_SAGA_STATES, type AddStepResult, type SagaInput, type SagaStatus, type SagaStepSpec, type StepOutcome } from '../shared/saga.js';
import type { callWorkflow } from '../workflows/call.js';
import type { sagaWorkflow } from '../workflows/saga.js';

/** How much of its steps' results one saga answer (get_saga, run_saga, commit, abort) carries. */
const RESULTS_BUDGET_BYTES = 1024 * 1024;

type SagaHandle = WorkflowHandle<typeof sagaWorkflow>;

/**
 * The saga refused what was asked: a step after it ended, a step its workflow's validator
 * refused (too many steps, a name reused for another call), an abort of a committed saga. The
 * message says why; the caller's request, not Temporal, is at fault.
 */
export class SagaRefusedError extends Error {
  override readonly name = 'SagaRefusedError';
}

export class SagaService {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** Records saga aborts (operator actions); unset when the audit log is off. */
    private readonly audit?: AuditSink,
  ) {}

  handle(tenant: string, sagaId: string): SagaHandle {
    return this.client.workflow.getHandle<typeof sagaWorkflow>(sagaWorkflowId(tenant, sagaId));
  }

  /** Starts a whole saga, or returns the one already started with this id (a repeated idempotency key). */
  async start(input: SagaInput): Promise<SagaHandle> {
    try {
      return await this.client.workflow.start<typeof sagaWorkflow>('sagaWorkflow', this.options(input));
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return this.handle(input.tenant, input.sagaId);
      throw error;
    }
  }

  /**
   * Adds a step to an incremental saga, starting the saga with its first step. Answers once the
   * step's call workflow exists; a repeated step name answers with the first call.
   */
  async addStep(input: SagaInput, spec: SagaStepSpec): Promise<AddStepResult> {
    const operation = new WithStartWorkflowOperation<typeof sagaWorkflow>('sagaWorkflow', {
      ...this.options(input),
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    try {
      return await this.client.workflow.executeUpdateWithStart(addSagaStepUpdate, { args: [spec], startWorkflowOperation: operation });
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) throw new SagaRefusedError(error.cause?.message ?? error.message);
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        // The saga has ended: a repeat of one of its steps still gets that step's call.
        const status = await this.status(input.tenant, input.sagaId);
        const existing = status?.steps.find((s) => s.step === spec.step);
        if (existing !== undefined) return { correlationId: existing.correlationId, added: false };
        throw new SagaRefusedError(`saga ${input.sagaId} has ended (${status?.state ?? 'closed'}); it takes no new steps`);
      }
      throw error;
    }
  }

  async status(tenant: string, sagaId: string): Promise<SagaStatus | undefined> {
    const handle = this.handle(tenant, sagaId);
    try {
      const description = await handle.describe();
      return await this.withResults(tenant, description.status.name === 'COMPLETED' ? await handle.result() : await handle.query(sagaStatusQuery));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
  }

  /**
   * The saga keeps its calls' results by reference (StepOutcome): each one is fetched from its
   * call workflow, in step order, while they fit in RESULTS_BUDGET_BYTES together. A result left
   * out keeps its size (`resultBytes`); switchyard.get_call or tasks/result with the step's
   * correlation id returns it.
   */
  private async withResults(tenant: string, status: SagaStatus): Promise<SagaStatus> {
    let budget = RESULTS_BUDGET_BYTES;
    const wanted: Array<{ correlationId: string; outcome: Extract<StepOutcome, { status: 'completed' }> }> = [];
    for (const step of status.steps) {
      for (const [correlationId, outcome] of [[step.correlationId, step.outcome], [step.compensation.correlationId, step.compensation.outcome]] as const) {
        if (correlationId === undefined || outcome?.status !== 'completed' || outcome.result !== undefined || outcome.resultBytes > budget) continue;
        budget -= outcome.resultBytes;
        wanted.push({ correlationId, outcome });
      }
    }
    await Promise.all(
      wanted.map(async ({ correlationId, outcome }) => {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), 5_000);
        try {
          const call = await this.client.withAbortSignal(controller.signal, () => this.client.workflow.getHandle<typeof callWorkflow>(callWorkflowId(tenant, correlationId)).result());
          if (call.status === 'completed') outcome.result = call.result;
        } catch {
          // Gone (past retention) or slow: the status still says how the call ended, and its size.
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return status;
  }

  /** Waits up to waitMs for the saga to end; the current status either way. */
  async waitForEnd(tenant: string, sagaId: string, waitMs: number): Promise<SagaStatus | undefined> {
    if (waitMs > 0) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), waitMs);
      try {
        return await this.withResults(tenant, await this.client.withAbortSignal(controller.signal, () => this.handle(tenant, sagaId).result()));
      } catch (error) {
        if (!controller.signal.aborted && !(error instanceof WorkflowNotFoundError)) throw error;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.status(tenant, sagaId);
  }

  /** commit or abort: asks, then waits up to waitMs for the saga to end. */
  async close(tenant: string, sagaId: string, how: 'commit' | 'abort', by: OperatorBy, waitMs: number): Promise<SagaStatus | undefined> {
    const handle = this.handle(tenant, sagaId);
    try {
      const update = await handle.startUpdate(how === 'commit' ? commitSagaUpdate : abortSagaUpdate, { args: [{ by: by.who.subject }], waitForStage: 'ACCEPTED' });
      void update.result().catch(() => undefined);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      if (error instanceof WorkflowUpdateFailedError) throw new SagaRefusedError(error.cause?.message ?? error.message);
      // An update to a closed workflow: the saga already ended; report how.
      const status = await this.status(tenant, sagaId);
      if (status !== undefined && FINAL_SAGA_STATES.has(status.state)) {
        if (how === 'abort' && (status.state === 'committed' || status.state === 'completed')) throw new SagaRefusedError(`saga ${sagaId} is already ${status.state}; nothing to abort`);
        return status;
      }
      throw error;
    }
    // An abort is an operator action: recorded once the saga accepted it, before the answer.
    if (how === 'abort') await this.audit?.recordOperatorAction({ tenant, who: by.who, action: 'saga_abort', target: sagaId, outcome: 'abort_requested', detail: { via: by.via } });
    return this.waitForEnd(tenant, sagaId, waitMs);
  }

  private options(input: SagaInput) {
    return {
      workflowId: sagaWorkflowId(input.tenant, input.sagaId),
      taskQueue: this.taskQueue,
      args: [input] as [SagaInput],
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      typedSearchAttributes: [
        { key: SA_TENANT, value: input.tenant },
        { key: SA_SAGA_ID, value: input.sagaId },
      ],
      staticSummary: `saga ${input.sagaId} (${input.mode}) for tenant ${input.tenant}`,
      staticDetails: `principal: ${input.principal}`,
    };
  }
}
