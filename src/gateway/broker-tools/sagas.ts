// The saga tools: switchyard.run_saga (a whole saga at once), saga_commit, saga_abort and
// get_saga (on a whole or an incremental saga), through SagaService (src/services/sagas.ts).
import { z } from 'zod';
import { actorOf } from '../../audit/arguments.js';
import { callTraceContext } from '../../observability/tracing.js';
import type { ToolResult } from '../../shared/envelope.js';
import { hashKeyOf } from '../../shared/key-hash.js';
import { FINAL_SAGA_STATES, type SagaStatus, type SagaStepSpec } from '../../shared/saga.js';
import { ArgumentsSchema } from '../arguments.js';
import { buildEnvelope, checkRecordable, KeySchema, META } from '../envelope.js';
import { BROKER_UNAVAILABLE, INVALID_PARAMS, JsonRpcError, printable } from '../jsonrpc.js';
import { CompensationSchema, compensationEnvelope, newSagaId, sagaInput, StepNameSchema, ToolNameSchema } from '../sagas.js';
import { refuseOverLimits } from '../submit.js';
import { errorResult } from '../results.js';
import { BROKER_PREFIX } from '../tool-names.js';
import { brokerTool } from './tool.js';

const STEP_SHAPE = '{tool, arguments?, compensation?, step?}';

const StepInput = z.strictObject(
  {
    tool: ToolNameSchema.describe('The tool to call, as named in tools/list.'),
    arguments: ArgumentsSchema.optional(),
    compensation: CompensationSchema.optional(),
    step: StepNameSchema.describe('A name for the step (default: its position, from 1).').optional(),
  },
  { error: `must be an object ${STEP_SHAPE}` },
);

const RunSagaInput = z.strictObject({
  steps: z.array(StepInput, { error: `must be a list of steps ${STEP_SHAPE}` }).min(1, { error: `must be a list of at least one step ${STEP_SHAPE}` }),
  ordering_key: KeySchema.describe("Also order the saga's calls with other calls on this key.").optional(),
  deadline_ms: z
    .int({ error: 'must be a positive integer number of milliseconds' })
    .min(1, { error: 'must be a positive integer number of milliseconds' })
    .describe('Every step must end within this many milliseconds, or the saga compensates.')
    .optional(),
  idempotency_key: KeySchema.describe('Repeating a saga with the same key returns the first one.').optional(),
  accept_async: z.boolean({ error: 'must be true or false' }).describe('true: answer at once with the saga_id to follow with get_saga.').optional(),
});

export const runSaga = brokerTool({
  definition: {
    name: 'run_saga',
    title: 'Run steps as a saga',
    description:
      'Runs tool calls in order as one durable saga (e.g. provision, then configure, then enable). If a step fails, every ' +
      'step that already ran is undone in reverse order with its compensation. Answers with the outcome of every step. ' +
      'A repeated idempotency_key returns the first saga instead of running again.',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  input: RunSagaInput,
  unavailable: 'Switchyard could not record the saga durably (Temporal is unavailable). Retry with the same idempotency_key.',
  async handler(deps, input, context) {
    const { steps, ordering_key: orderingKey, deadline_ms: deadlineMs, idempotency_key: idempotencyKey, accept_async: acceptAsync } = input;
    // Limits from the config, which the static schema cannot know.
    const max = deps.config.sagas.maxSteps;
    if (steps.length > max) throw new JsonRpcError(INVALID_PARAMS, `argument "steps" must be a list of 1-${max} steps ${STEP_SHAPE}`);
    const maxDeadline = deps.config.defaults.maxDeadlineMs;
    if (deadlineMs !== undefined && deadlineMs > maxDeadline) {
      throw new JsonRpcError(INVALID_PARAMS, `argument "deadline_ms" must be an integer number of milliseconds between 1 and ${maxDeadline}`);
    }
    const now = (deps.now ?? Date.now)();
    const names = new Set<string>();
    const specs = steps.map((raw, i): SagaStepSpec => {
      const at = `steps[${i}]`;
      if (deps.catalog.brokerTool(raw.tool) !== undefined) throw new JsonRpcError(INVALID_PARAMS, `${at}.tool must be a downstream tool, not a switchyard tool`);
      const resolved = deps.catalog.resolve(raw.tool);
      if (resolved === undefined) throw new JsonRpcError(INVALID_PARAMS, `${at}.tool: unknown tool ${printable(raw.tool)}`);
      deps.access?.checkTool(context.principal, resolved, 'tools/call');
      const name = raw.step ?? String(i + 1);
      if (names.has(name)) throw new JsonRpcError(INVALID_PARAMS, `${at}.step: "${printable(name)}" is used twice`);
      names.add(name);
      const { envelope } = buildEnvelope({
        principal: context.principal,
        server: deps.config.servers.find((s) => s.id === resolved.serverId)!,
        tool: resolved.tool,
        publicTool: resolved.publicName,
        arguments: raw.arguments ?? {},
        annotations: resolved.definition.annotations,
        meta: orderingKey !== undefined ? { [META.orderingKey]: orderingKey } : {},
        headers: {},
        fieldName: () => 'argument "ordering_key"',
        argumentsName: `${at}.arguments`,
        config: deps.config,
        now,
      });
      // Each step (and through it, its undo) runs in the trace of the request that started the saga.
      const traced = { ...envelope, ...callTraceContext() };
      const built = compensationEnvelope(deps, traced, raw.compensation, context, `${at}.compensation`);
      return { step: name, envelope: traced, ...(built !== undefined ? { compensation: built } : {}) };
    });
    // The saga's input holds every step: one payload, under the same limit as one call's arguments.
    checkRecordable(specs, 'argument "steps" (all steps together)');
    const sagaId = newSagaId(context.principal.tenant, idempotencyKey, now, hashKeyOf(deps.config.encryption));
    const sagaStart = sagaInput(deps, context, sagaId, 'whole', now, {
      steps: specs,
      // As stored: the steps' envelopes carry the key's hashed form when encryption is on.
      ...(orderingKey !== undefined ? { orderingKey: specs[0]!.envelope.orderingKey! } : {}),
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    });
    if ((await deps.sagas.status(sagaStart.tenant, sagaId)) === undefined) await refuseOverLimits(deps, specs[0]!.envelope);
    await deps.sagas.start(sagaStart);
    const status = await deps.sagas.waitForEnd(sagaStart.tenant, sagaId, acceptAsync === true ? 0 : deps.config.defaults.syncWaitMs);
    if (status === undefined) throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not read the saga back from Temporal; retry with the same idempotency_key.');
    const result = sagaResult(status, true);
    if (status.endedAt === undefined) {
      result.content = [{ type: 'text', text: `Saga ${sagaId} was accepted and is ${status.state}. Call ${BROKER_PREFIX}${deps.config.gateway.toolSeparator}get_saga with {"saga_id": "${sagaId}"} to follow it.` }, ...result.content];
    }
    return result;
  },
});

const SagaIdInput = z.strictObject({
  saga_id: KeySchema.describe('The saga id: the one given in _meta["switchyard/saga"].id, or returned by run_saga.'),
});

function notFound(sagaId: string): ToolResult {
  return errorResult(`No saga with id ${printable(sagaId)} in this tenant.`, { [META.status]: 'not_found' });
}

export const sagaCommit = brokerTool({
  definition: {
    name: 'saga_commit',
    title: 'Commit a saga',
    description:
      'Closes a saga built step by step (tools/call with _meta["switchyard/saga"] = {id, step, compensation?}): once its steps ' +
      "have all succeeded, it is committed and nothing is undone. Answers with every step's outcome.",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  input: SagaIdInput,
  async handler(deps, { saga_id: sagaId }, context) {
    const status = await deps.sagas.close(context.principal.tenant, sagaId, 'commit', { who: actorOf(context.principal), via: 'saga_commit' }, deps.config.defaults.syncWaitMs);
    return status === undefined ? notFound(sagaId) : sagaResult(status, true);
  },
});

export const sagaAbort = brokerTool({
  definition: {
    name: 'saga_abort',
    title: 'Abort a saga',
    description: 'Stops a saga and undoes, in reverse order, every step that may have taken effect. Answers with what was undone.',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  },
  input: SagaIdInput,
  async handler(deps, { saga_id: sagaId }, context) {
    const status = await deps.sagas.close(context.principal.tenant, sagaId, 'abort', { who: actorOf(context.principal), via: 'saga_abort' }, deps.config.defaults.syncWaitMs);
    return status === undefined ? notFound(sagaId) : sagaResult(status, true);
  },
});

export const getSaga = brokerTool({
  definition: {
    name: 'get_saga',
    title: 'Get a saga',
    description: 'State of a saga: each step and its compensation, with status, timings and results.',
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  input: SagaIdInput,
  async handler(deps, { saga_id: sagaId }, context) {
    const status = await deps.sagas.status(context.principal.tenant, sagaId);
    return status === undefined ? notFound(sagaId) : sagaResult(status, false);
  },
});

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
