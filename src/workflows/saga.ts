// One workflow per saga (`switchyard/<tenant>/saga/<id>`). Each step runs as a child call
// workflow (call.ts), so it keeps everything a call has: its lane, deadline, retries, cancellation
// and get_call. The step reports how it ended; when a step fails (an isError result, a failure, a
// dead letter, a deadline, a cancel), or the saga is aborted, cancelled or passes its deadline,
// the saga compensates: every step that may have taken effect is undone, newest first, each undo
// being a child call of its own. A compensation that still fails is dead-lettered
// (`compensation_failed`) and the saga ends `failed_compensation`: never silently.
//
//   whole:       steps are given at once and run one after the other; done is `completed`.
//   incremental: steps arrive by update as the client calls tools; `commit` closes it.
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
} from '@temporalio/workflow';
import type { CallEnvelope, CallOutcome, ToolResult } from '../shared/envelope.js';
import { PRIORITY_KEYS } from '../shared/priority.js';
import { callWorkflowId, deadLetterWorkflowId } from '../shared/ids.js';
import {
  abortSagaUpdate,
  addSagaStepUpdate,
  callSearchAttributes,
  commitSagaUpdate,
  SA_OUTCOME,
  sagaStatusQuery,
  stepReportSignal,
} from '../shared/messages.js';
import {
  FINAL_SAGA_STATES,
  INLINE_BYTES,
  jsonBytes,
  judgeStep,
  outcomeRef,
  renderTemplate,
  TemplateError,
  type TemplateScope,
  type SagaInput,
  type SagaStatus,
  type SagaStepSpec,
  type SagaStepView,
  type StepReport,
} from '../shared/saga.js';
import { callWorkflow } from './call.js';
import { deadLetterWorkflow } from './dead-letter.js';

const SAGA_WAITS_FOR_ITS_CALLS = 'saga-waits-for-its-calls';

export async function sagaWorkflow(input: SagaInput): Promise<SagaStatus> {
  const status: SagaStatus = {
    sagaId: input.sagaId,
    tenant: input.tenant,
    principal: input.principal,
    mode: input.mode,
    state: input.mode === 'whole' ? 'running' : 'open',
    ...(input.orderingKey !== undefined ? { orderingKey: input.orderingKey } : {}),
    startedAt: input.startedAt,
    deadlineAt: input.deadlineAt,
    steps: [],
  };
  const specs = new Map<string, SagaStepSpec>();
  const reports = new Map<string, StepReport>();
  // Results and built undo arguments stay in workflow memory, for templates only: the status
  // (query answers, update answers, the workflow result) refers to each result by its step's
  // correlation id, so none of them carries more than one step's result (outcomeRef, INLINE_BYTES).
  const results = new Map<string, ToolResult>();
  const undoArguments = new Map<string, Record<string, unknown>>();
  const started = new Set<string>();
  const ended = new Set<string>();
  let stopReason: string | undefined;
  let commitRequested = false;

  const stop = (reason: string) => {
    stopReason ??= reason;
  };
  const settled = (view: SagaStepView) => view.state !== 'queued' && view.state !== 'running';
  const isFinal = () => FINAL_SAGA_STATES.has(status.state);

  setHandler(sagaStatusQuery, () => status);
  setHandler(stepReportSignal, (report) => {
    reports.set(report.correlationId, report);
    const view = status.steps.find((s) => s.correlationId === report.correlationId);
    if (view !== undefined && !settled(view)) settleStep(view, report);
  });
  setHandler(
    addSagaStepUpdate,
    async (spec) => {
      const existing = status.steps.find((s) => s.step === spec.step);
      if (existing !== undefined) return { correlationId: existing.correlationId, added: false };
      const view = addStep(spec);
      await startStep(view, spec.envelope);
      return { correlationId: view.correlationId, added: true };
    },
    {
      validator: (spec) => {
        if (status.steps.some((s) => s.step === spec.step)) return; // a repeat: answered with the first
        if (input.mode !== 'incremental') throw new Error(`saga ${input.sagaId} was started whole (switchyard.run_saga); it takes no steps one by one`);
        if (status.state !== 'open' || commitRequested || stopReason !== undefined) {
          throw new Error(`saga ${input.sagaId} is ${commitRequested && status.state === 'open' ? 'committing' : status.state}; it takes no new steps`);
        }
        if (status.steps.length >= input.maxSteps) throw new Error(`saga ${input.sagaId} already has ${input.maxSteps} steps, the most a saga may have`);
      },
    },
  );
  setHandler(
    commitSagaUpdate,
    async () => {
      commitRequested = true;
      await condition(isFinal);
      return status;
    },
    {
      validator: (_request: { by: string }) => {
        if (input.mode !== 'incremental') throw new Error(`saga ${input.sagaId} was started whole; it completes by itself`);
      },
    },
  );
  setHandler(
    abortSagaUpdate,
    async ({ by }) => {
      stop(`aborted by ${by}`);
      await condition(isFinal);
      return status;
    },
    {
      validator: (_request: { by: string }) => {
        if (status.state === 'committed' || status.state === 'completed') throw new Error(`saga ${input.sagaId} is already ${status.state}; nothing to abort`);
      },
    },
  );

  for (const spec of input.steps) addStep(spec);

  try {
    if (input.mode === 'whole') {
      for (const view of status.steps) {
        if (stopReason !== undefined) break;
        const spec = specs.get(view.step)!;
        // A step may use earlier steps' results: {{steps.provision.result.structuredContent.id}}.
        let args: Record<string, unknown>;
        try {
          args = renderTemplate(spec.envelope.arguments, scope(view.step), ['steps']) as Record<string, unknown>;
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          settleStep(view, { correlationId: view.correlationId, outcome: { status: 'failed', reason: 'downstream_error', message: `its arguments cannot be built: ${error.message}`, attempts: 0 }, mayHaveRun: false });
          break;
        }
        specs.set(view.step, { ...spec, envelope: { ...spec.envelope, arguments: args } });
        // Its own deadline counts from now (startStep caps it by the saga's).
        const now = Date.now();
        await startStep(view, { ...spec.envelope, arguments: args, acceptedAt: now, deadlineAt: now + lengthOf(spec.envelope) });
        await condition(() => settled(view) || stopReason !== undefined);
      }
    } else {
      const closed = () => stopReason !== undefined || (commitRequested && status.steps.every((s) => s.state === 'succeeded'));
      if (!(await condition(closed, Math.max(1, input.deadlineAt - Date.now())))) stop('the saga deadline passed before it was committed');
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    stop('the saga was cancelled');
  }

  await CancellationScope.nonCancellable(async () => {
    if (stopReason === undefined) {
      status.state = input.mode === 'whole' ? 'completed' : 'committed';
    } else {
      status.reason = stopReason;
      await compensate();
    }
    // A call reports before it completes. Closing now would terminate the calls still completing
    // (the parent-close policy), and a terminated call loses its result, which the status refers
    // to. Older histories closed at once, hence the patch.
    if (patched(SAGA_WAITS_FOR_ITS_CALLS)) await condition(() => [...started].every((id) => ended.has(id)));
    status.endedAt = Date.now();
    upsertSearchAttributes([{ key: SA_OUTCOME, value: status.state }]);
    await condition(allHandlersFinished);
  });
  return status;

  function addStep(spec: SagaStepSpec): SagaStepView {
    specs.set(spec.step, spec);
    const view: SagaStepView = {
      step: spec.step,
      tool: spec.envelope.publicTool,
      correlationId: spec.envelope.correlationId,
      state: 'queued',
      mayHaveRun: false,
      compensation: spec.compensation === undefined ? { state: 'none' } : { state: 'pending', tool: spec.compensation.publicTool },
    };
    status.steps.push(view);
    return view;
  }

  /** Starts the step's call workflow; its report (stepReportSignal) settles it. */
  async function startStep(view: SagaStepView, envelope: CallEnvelope): Promise<void> {
    view.state = 'running';
    view.startedAt = Date.now();
    const call: CallEnvelope = { ...envelope, deadlineAt: Math.min(envelope.deadlineAt, input.deadlineAt), saga: { id: input.sagaId, step: view.step, role: 'step' } };
    try {
      await startCall(call);
    } catch (error) {
      if (isCancellation(error)) throw error;
      settleStep(view, { correlationId: view.correlationId, outcome: { status: 'failed', reason: 'transport', message: `could not start the step: ${String(error)}`, attempts: 0 }, mayHaveRun: false });
    }
  }

  function settleStep(view: SagaStepView, report: StepReport): void {
    const verdict = judgeStep(report);
    view.outcome = outcomeRef(report.outcome);
    if (report.outcome.status === 'completed') results.set(view.step, report.outcome.result);
    view.endedAt = Date.now();
    view.mayHaveRun = verdict.mayHaveRun;
    view.state = verdict.ok ? 'succeeded' : 'failed';
    if (verdict.message !== undefined) view.message = verdict.message;
    const spec = specs.get(view.step)!;
    if (verdict.ok && spec.compensation !== undefined) {
      // Build the undo now: a template that does not fit this result fails the step, clearly.
      const built = buildCompensation(view, spec.compensation);
      if (typeof built === 'string') {
        view.state = 'failed';
        view.message = `the step ran, but its compensation cannot be built: ${built}`;
      } else {
        keepUndoArguments(view, built);
      }
    }
    if (view.state === 'failed') stop(`step "${view.step}" (${view.tool}) failed: ${view.message ?? view.outcome.status}`);
  }

  function keepUndoArguments(view: SagaStepView, built: Record<string, unknown>): void {
    undoArguments.set(view.step, built);
    const bytes = jsonBytes(built);
    if (bytes <= INLINE_BYTES) view.compensation.arguments = built;
    else view.compensation.argumentsBytes = bytes;
  }

  function buildCompensation(view: SagaStepView, compensation: CallEnvelope): Record<string, unknown> | string {
    const result = results.get(view.step);
    try {
      return renderTemplate(compensation.arguments, { ...scope(view.step), args: specs.get(view.step)!.envelope.arguments, result }) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof TemplateError) return error.message;
      throw error;
    }
  }

  /** What templates can see: the saga, and every step that succeeded so far. */
  function scope(step: string): TemplateScope {
    const steps: TemplateScope['steps'] = {};
    for (const view of status.steps) {
      if (view.state !== 'succeeded') continue;
      const result = results.get(view.step);
      steps[view.step] = { args: specs.get(view.step)!.envelope.arguments, ...(result !== undefined ? { result } : {}) };
    }
    return { saga: { id: input.sagaId, step }, steps };
  }

  async function startCall(call: CallEnvelope): Promise<void> {
    const child = await startChild(callWorkflow, {
      workflowId: callWorkflowId(call.tenant, call.correlationId),
      args: [call],
      typedSearchAttributes: callSearchAttributes(call, 'pending'),
      priority: { priorityKey: PRIORITY_KEYS[call.priority] },
      staticSummary: `${call.saga?.role ?? 'step'} "${call.saga?.step}" of saga ${input.sagaId}: ${call.publicTool}`,
    });
    started.add(call.correlationId);
    // A call that ends without reporting (terminated from outside) still settles.
    const end = () => ended.add(call.correlationId);
    child.result().then(end, end);
  }

  async function awaitReport(correlationId: string): Promise<StepReport> {
    await condition(() => reports.has(correlationId) || ended.has(correlationId));
    // The report is signalled before the call completes, so a call that ended without one was terminated.
    return reports.get(correlationId) ?? { correlationId, outcome: { status: 'failed', reason: 'transport', message: 'the call ended without reporting (terminated?)', attempts: 0 }, mayHaveRun: true };
  }

  async function compensate(): Promise<void> {
    status.state = 'compensating';
    // Stop what is still queued or running; each reports as it ends.
    for (const view of status.steps) {
      if (view.state === 'queued' && view.startedAt === undefined) {
        view.state = 'not_run';
        view.compensation.state = view.compensation.state === 'none' ? 'none' : 'not_needed';
        continue;
      }
      if (view.state === 'running') {
        await getExternalWorkflowHandle(callWorkflowId(input.tenant, view.correlationId))
          .cancel()
          .catch((error: unknown) => log.info('step already ended', { step: view.step, error: String(error) }));
      }
    }
    for (const view of status.steps) {
      if (view.state === 'running' || view.state === 'queued') {
        const report = await awaitReport(view.correlationId);
        if (!settled(view)) settleStep(view, report);
      }
    }
    let failures = 0;
    for (const view of [...status.steps].reverse()) {
      if (view.state === 'not_run') continue;
      const spec = specs.get(view.step)!;
      if (!view.mayHaveRun) {
        if (view.compensation.state !== 'none') view.compensation.state = 'not_needed';
        continue;
      }
      if (spec.compensation === undefined) {
        view.compensation.message = 'no compensation was given for this step: its effect stays';
        continue;
      }
      if (!(await runCompensation(view, spec.compensation))) failures++;
    }
    status.state = failures === 0 ? 'compensated' : 'failed_compensation';
  }

  /** Runs one step's undo; false when it failed (and was dead-lettered). */
  async function runCompensation(view: SagaStepView, compensation: CallEnvelope): Promise<boolean> {
    const built = undoArguments.get(view.step) ?? buildCompensation(view, compensation);
    const correlationId = uuid4();
    const now = Date.now();
    const call: CallEnvelope = {
      ...compensation,
      correlationId,
      arguments: typeof built === 'string' ? compensation.arguments : built,
      acceptedAt: now,
      deadlineAt: now + lengthOf(compensation),
      saga: { id: input.sagaId, step: view.step, role: 'compensation' },
    };
    Object.assign(view.compensation, { state: 'running', correlationId, startedAt: now });
    let outcome: CallOutcome;
    let message: string | undefined;
    if (typeof built === 'string') {
      outcome = { status: 'failed', reason: 'transport', message: built, attempts: 0 };
      message = `cannot build the compensation: ${built}`;
    } else {
      keepUndoArguments(view, built);
      try {
        await startCall(call);
        outcome = (await awaitReport(correlationId)).outcome;
      } catch (error) {
        outcome = { status: 'failed', reason: 'transport', message: `could not start the compensation: ${String(error)}`, attempts: 0 };
      }
      const verdict = judgeStep({ correlationId, outcome, mayHaveRun: true });
      if (!verdict.ok) message = verdict.message;
    }
    view.compensation.outcome = outcomeRef(outcome);
    view.compensation.endedAt = Date.now();
    if (message === undefined) {
      view.compensation.state = 'compensated';
      return true;
    }
    view.compensation.state = 'failed';
    view.compensation.message = message;
    const deadLetterId = deadLetterWorkflowId(input.tenant, correlationId);
    view.compensation.deadLetterId = deadLetterId;
    const { saga: _saga, ...plain } = call;
    await startChild(deadLetterWorkflow, {
      workflowId: deadLetterId,
      args: [
        {
          envelope: plain,
          reason: 'compensation_failed',
          message: `saga ${input.sagaId}, step "${view.step}": ${message}`,
          attempts: outcome.status === 'failed' || outcome.status === 'dead_lettered' ? outcome.attempts : 1,
          deadLetteredAt: Date.now(),
          holdsLane: false,
          ...(typeof built === 'string' ? { redrivable: false } : {}),
        },
      ],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: callSearchAttributes(call, 'dead_lettered'),
      staticSummary: `dead letter: compensation ${call.publicTool} of saga ${input.sagaId} (compensation_failed)`,
    });
    return false;
  }
}

function lengthOf(envelope: CallEnvelope): number {
  return Math.max(1, envelope.deadlineAt - envelope.acceptedAt);
}
