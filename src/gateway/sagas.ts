// Sagas at the front door: `_meta["switchyard/saga"]` on a tools/call adds a step to an
// incremental saga; `switchyard.run_saga` runs a whole one; `saga_commit`, `saga_abort` and
// `get_saga` act on either. The saga itself is a workflow (src/workflows/saga.ts).
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { CallEnvelope, ToolResult } from '../shared/envelope.js';
import { callWorkflowId, sagaWorkflowId } from '../shared/ids.js';
import { abortSagaUpdate, addSagaStepUpdate, commitSagaUpdate, SA_SAGA_ID, SA_TENANT, sagaStatusQuery } from '../shared/messages.js';
import { FINAL_SAGA_STATES, TemplateError, templateReferences, type AddStepResult, type SagaInput, type SagaStatus, type SagaStepSpec, type StepOutcome } from '../shared/saga.js';
import type { callWorkflow } from '../workflows/call.js';
import type { sagaWorkflow } from '../workflows/saga.js';
import type { HandlerDeps, CallContext } from './handlers.js';
import { buildEnvelope, idempotentCorrelationId, MAX_KEY_LENGTH, META, uuidv7, validKey } from './envelope.js';
import { INVALID_PARAMS, JsonRpcError, printable } from './jsonrpc.js';

export const SAGA_META = 'switchyard/saga';
/** How much of its steps' results one saga answer (get_saga, run_saga, commit, abort) carries. */
const RESULTS_BUDGET_BYTES = 1024 * 1024;

type SagaHandle = WorkflowHandle<typeof sagaWorkflow>;

/** A saga step as the client wrote it in `_meta["switchyard/saga"]`. */
export interface SagaStepMeta {
  id: string;
  step: string;
  compensation?: { tool: string; arguments: Record<string, unknown> };
  deadlineMs?: number;
}

export class SagaService {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
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
      if (error instanceof WorkflowUpdateFailedError) throw new JsonRpcError(INVALID_PARAMS, `${field('id')}: ${error.cause?.message ?? error.message}`);
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        // The saga has ended: a repeat of one of its steps still gets that step's call.
        const status = await this.status(input.tenant, input.sagaId);
        const existing = status?.steps.find((s) => s.step === spec.step);
        if (existing !== undefined) return { correlationId: existing.correlationId, added: false };
        throw new JsonRpcError(INVALID_PARAMS, `${field('id')}: saga ${input.sagaId} has ended (${status?.state ?? 'closed'}); it takes no new steps`);
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
  async close(tenant: string, sagaId: string, how: 'commit' | 'abort', by: string, waitMs: number): Promise<SagaStatus | undefined> {
    const handle = this.handle(tenant, sagaId);
    try {
      const update = await handle.startUpdate(how === 'commit' ? commitSagaUpdate : abortSagaUpdate, { args: [{ by }], waitForStage: 'ACCEPTED' });
      void update.result().catch(() => undefined);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      if (error instanceof WorkflowUpdateFailedError) throw new JsonRpcError(INVALID_PARAMS, error.cause?.message ?? error.message);
      // An update to a closed workflow: the saga already ended; report how.
      const status = await this.status(tenant, sagaId);
      if (status !== undefined && FINAL_SAGA_STATES.has(status.state)) {
        if (how === 'abort' && (status.state === 'committed' || status.state === 'completed')) throw new JsonRpcError(INVALID_PARAMS, `saga ${sagaId} is already ${status.state}; nothing to abort`);
        return status;
      }
      throw error;
    }
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

function field(name: string): string {
  return `_meta["${SAGA_META}"].${name}`;
}

/** Reads `_meta["switchyard/saga"]`; -32602 naming the field when it is malformed. */
export function parseSagaMeta(value: unknown): SagaStepMeta {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new JsonRpcError(INVALID_PARAMS, `_meta["${SAGA_META}"] must be an object {id, step, compensation?, deadline_ms?}`);
  }
  const { id, step, compensation, deadline_ms: deadlineMs, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new JsonRpcError(INVALID_PARAMS, `_meta["${SAGA_META}"] has no field "${printable(unknown)}" (fields: id, step, compensation, deadline_ms)`);
  const meta: SagaStepMeta = { id: validKey(id, field('id')), step: sagaStepName(step, field('step')) };
  if (compensation !== undefined) meta.compensation = parseCompensation(compensation, field('compensation'));
  if (deadlineMs !== undefined) {
    if (typeof deadlineMs !== 'number' || !Number.isInteger(deadlineMs) || deadlineMs < 1) throw new JsonRpcError(INVALID_PARAMS, `${field('deadline_ms')} must be a positive integer`);
    meta.deadlineMs = deadlineMs;
  }
  return meta;
}

export function parseCompensation(value: unknown, name: string): { tool: string; arguments: Record<string, unknown> } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new JsonRpcError(INVALID_PARAMS, `${name} must be an object {tool, arguments?}`);
  const { tool, arguments: args, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new JsonRpcError(INVALID_PARAMS, `${name} has no field "${printable(unknown)}" (fields: tool, arguments)`);
  if (typeof tool !== 'string' || tool.length === 0) throw new JsonRpcError(INVALID_PARAMS, `${name}.tool must be the name of a tool from tools/list`);
  if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) throw new JsonRpcError(INVALID_PARAMS, `${name}.arguments must be an object`);
  try {
    templateReferences(args ?? {}, `${name}.arguments`);
  } catch (error) {
    if (error instanceof TemplateError) throw new JsonRpcError(INVALID_PARAMS, error.message);
    throw error;
  }
  return { tool, arguments: (args as Record<string, unknown> | undefined) ?? {} };
}

/**
 * A step's name: a key like any other, or an integer (envelopes that number their steps, as in
 * `saga_step: 1`), which names the same step as its decimal string.
 */
export function sagaStepName(value: unknown, name: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string') return validKey(value, name);
  throw new JsonRpcError(INVALID_PARAMS, `${name} must be an integer or a string of 1-${MAX_KEY_LENGTH} printable characters`);
}

/**
 * The envelope of a step's compensation: the caller's, or the tool's default from the config.
 * Its arguments stay templates until the saga renders them; its retries and deadline are the
 * saga settings', its lane the step's.
 */
export function compensationEnvelope(
  deps: HandlerDeps,
  step: CallEnvelope,
  given: { tool: string; arguments: Record<string, unknown> } | undefined,
  context: CallContext,
  name: string,
): CallEnvelope | undefined {
  const server = deps.config.servers.find((s) => s.id === step.serverId);
  const spec = given ?? server?.compensations[step.tool];
  if (spec === undefined) return undefined;
  if (deps.catalog.brokerTool(spec.tool) !== undefined) throw new JsonRpcError(INVALID_PARAMS, `${name}.tool must be a downstream tool, not a switchyard tool`);
  const resolved = deps.catalog.resolve(spec.tool);
  if (resolved === undefined) throw new JsonRpcError(INVALID_PARAMS, `${name}.tool: unknown tool ${printable(spec.tool)}${given === undefined ? ' (the default compensation in the config)' : ''}`);
  const target = deps.config.servers.find((s) => s.id === resolved.serverId)!;
  const now = step.acceptedAt;
  const { envelope } = buildEnvelope({
    principal: context.principal,
    server: target,
    tool: resolved.tool,
    publicTool: resolved.publicName,
    arguments: spec.arguments,
    annotations: resolved.definition.annotations,
    meta: {},
    headers: {},
    argumentsName: `${name}.arguments`,
    config: deps.config,
    now,
  });
  const { orderingKey: _ownKey, ...rest } = envelope;
  return {
    ...rest,
    ...(step.orderingKey !== undefined ? { orderingKey: step.orderingKey } : {}),
    deadlineAt: now + deps.config.sagas.compensationDeadlineMs,
    retry: deps.config.sagas.compensationRetry,
    priority: step.priority,
  };
}

/** The input that starts a saga (whole, or incremental with its first step). */
export function sagaInput(deps: HandlerDeps, context: CallContext, sagaId: string, mode: SagaInput['mode'], now: number, options: { steps?: SagaStepSpec[]; orderingKey?: string; deadlineMs?: number }): SagaInput {
  const deadlineMs = Math.min(options.deadlineMs ?? deps.config.sagas.deadlineMs, deps.config.defaults.maxDeadlineMs);
  return {
    sagaId,
    tenant: context.principal.tenant,
    principal: context.principal.subject,
    mode,
    steps: options.steps ?? [],
    ...(options.orderingKey !== undefined ? { orderingKey: options.orderingKey } : {}),
    startedAt: now,
    deadlineAt: now + deadlineMs,
    maxSteps: deps.config.sagas.maxSteps,
  };
}

export function newSagaId(tenant: string, idempotencyKey: string | undefined, now: number): string {
  return idempotencyKey === undefined ? uuidv7(now) : idempotentCorrelationId(tenant, `saga\u0000${idempotencyKey}`);
}

/** A saga's status as a tool result: a line per step for people, the whole status for programs. */
export function sagaResult(status: SagaStatus, failWhenNotDone: boolean): ToolResult {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const steps = status.steps.map((s) => ({
    step: s.step,
    tool: s.tool,
    correlation_id: s.correlationId,
    state: s.state,
    may_have_run: s.mayHaveRun,
    ...(s.startedAt !== undefined ? { started_at: iso(s.startedAt) } : {}),
    ...(s.endedAt !== undefined ? { ended_at: iso(s.endedAt) } : {}),
    ...(s.message !== undefined ? { message: s.message } : {}),
    ...(s.outcome !== undefined ? { outcome: s.outcome } : {}),
    compensation: {
      state: s.compensation.state,
      ...(s.compensation.tool !== undefined ? { tool: s.compensation.tool } : {}),
      ...(s.compensation.correlationId !== undefined ? { correlation_id: s.compensation.correlationId } : {}),
      ...(s.compensation.arguments !== undefined ? { arguments: s.compensation.arguments } : {}),
      ...(s.compensation.argumentsBytes !== undefined ? { arguments_bytes: s.compensation.argumentsBytes } : {}),
      ...(s.compensation.startedAt !== undefined ? { started_at: iso(s.compensation.startedAt) } : {}),
      ...(s.compensation.endedAt !== undefined ? { ended_at: iso(s.compensation.endedAt) } : {}),
      ...(s.compensation.message !== undefined ? { message: s.compensation.message } : {}),
      ...(s.compensation.outcome !== undefined ? { outcome: s.compensation.outcome } : {}),
      ...(s.compensation.deadLetterId !== undefined ? { dead_letter: s.compensation.deadLetterId } : {}),
    },
  }));
  const lines = [
    `Saga ${status.sagaId} is ${status.state}${status.reason !== undefined ? `: ${status.reason}` : ''}.`,
    ...status.steps.map((s) => {
      const undo = s.compensation.state === 'none' || s.compensation.state === 'pending' ? '' : `; compensation ${s.compensation.state}${s.compensation.message !== undefined ? ` (${s.compensation.message})` : ''}`;
      return `- ${s.step} (${s.tool}): ${s.state}${s.message !== undefined ? ` (${s.message})` : ''}${undo}`;
    }),
  ];
  const done = status.state === 'completed' || status.state === 'committed';
  return {
    content: [{ type: 'text', text: lines.join('\n') }],
    structuredContent: {
      saga_id: status.sagaId,
      state: status.state,
      mode: status.mode,
      ...(status.reason !== undefined ? { reason: status.reason } : {}),
      ...(status.orderingKey !== undefined ? { ordering_key: status.orderingKey } : {}),
      started_at: iso(status.startedAt),
      deadline: iso(status.deadlineAt),
      ...(status.endedAt !== undefined ? { ended_at: iso(status.endedAt) } : {}),
      steps,
    },
    ...(failWhenNotDone && FINAL_SAGA_STATES.has(status.state) && !done ? { isError: true } : {}),
    _meta: { [META.status]: status.state, [`switchyard/saga_id`]: status.sagaId },
  };
}
