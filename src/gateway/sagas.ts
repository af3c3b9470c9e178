// Sagas at the front door: `_meta["switchyard/saga"]` on a tools/call adds a step to an
// incremental saga (read here); the saga broker tools (broker-tools/sagas.ts) run a whole one and
// commit, abort or read either. What both need lives here: the step and compensation schemas, a
// compensation's envelope and a saga's input. The saga itself is a workflow (src/workflows/saga.ts),
// driven through SagaService (src/services/sagas.ts).
import { z } from 'zod';
import type { CallEnvelope } from '../shared/envelope.js';
import type { HashKey } from '../shared/key-hash.js';
import { TemplateError, templateReferences, type SagaInput, type SagaStepSpec } from '../shared/saga.js';
import type { HandlerDeps, CallContext } from './handlers.js';
import { ArgumentsSchema, CONTINUES_NAME, parseInput } from './arguments.js';
import { buildEnvelope, idempotentCorrelationId, KeySchema, MAX_KEY_LENGTH, uuidv7 } from './envelope.js';
import { INVALID_PARAMS, JsonRpcError, printable } from './jsonrpc.js';

export const SAGA_META = 'switchyard/saga';

/** The name of a tool from tools/list (whether it exists is checked against the catalog). */
export const ToolNameSchema = z.string({ error: 'must be the name of a tool from tools/list' }).min(1, { error: 'must be the name of a tool from tools/list' });

/**
 * A step's name: a key like any other, or an integer (envelopes that number their steps, as in
 * `saga_step: 1`), which names the same step as its decimal string.
 */
const STEP_NAME_RULE = `must be an integer or a string of 1-${MAX_KEY_LENGTH} printable characters`;
export const StepNameSchema = z.union([z.int({ error: STEP_NAME_RULE }), KeySchema], { error: STEP_NAME_RULE }).transform(String);

/** How to undo a step; its arguments may hold templates, whose syntax is checked here. */
export const CompensationSchema = z
  .strictObject(
    {
      tool: ToolNameSchema,
      arguments: ArgumentsSchema.optional(),
    },
    { error: 'must be an object {tool, arguments?}' },
  )
  .superRefine((value, ctx) => {
    try {
      templateReferences(value.arguments ?? {}, '');
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      ctx.addIssue({ code: 'custom', path: ['arguments'], message: error.message, params: CONTINUES_NAME });
    }
  })
  .transform((value) => ({ tool: value.tool, arguments: value.arguments ?? {} }))
  .meta({
    description:
      'How to undo the step if the saga fails: a tool and its arguments. Strings may use templates over the step: ' +
      "{{args.path}} (its arguments), {{result.structuredContent.id}} (its result), {{saga.id}}. Without one, the tool's configured default applies, if any.",
  });

/** `_meta["switchyard/saga"]`: the saga a tools/call is a step of. */
const SagaMetaSchema = z
  .strictObject(
    {
      id: KeySchema,
      step: StepNameSchema,
      compensation: CompensationSchema.optional(),
      deadline_ms: z.int({ error: 'must be a positive integer' }).min(1, { error: 'must be a positive integer' }).optional(),
    },
    { error: 'must be an object {id, step, compensation?, deadline_ms?}' },
  )
  .transform(({ deadline_ms: deadlineMs, compensation, ...rest }) => ({
    ...rest,
    ...(compensation !== undefined ? { compensation } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
  }));

/** A saga step as the client wrote it in `_meta["switchyard/saga"]`. */
export type SagaStepMeta = z.output<typeof SagaMetaSchema>;

/** Reads `_meta["switchyard/saga"]`; -32602 naming the field when it is malformed. */
export function parseSagaMeta(value: unknown): SagaStepMeta {
  return parseInput(SagaMetaSchema, value, { field: `_meta["${SAGA_META}"]` });
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
  // A compensation the caller names is a call of theirs; the config's default one is the operator's.
  if (given !== undefined) deps.access?.checkTool(context.principal, resolved, 'tools/call');
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
    // An undo belongs to its step's trace.
    ...(step.traceparent !== undefined ? { traceparent: step.traceparent } : {}),
    ...(step.tracestate !== undefined ? { tracestate: step.tracestate } : {}),
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

export function newSagaId(tenant: string, idempotencyKey: string | undefined, now: number, hashKey: HashKey): string {
  return idempotencyKey === undefined ? uuidv7(now) : idempotentCorrelationId(tenant, `saga\u0000${idempotencyKey}`, hashKey);
}
