// Sagas: the shapes shared by the gateway and the saga workflow, and the compensation template
// language. Pure code only: the workflow bundle imports this file.
import type { CallEnvelope, CallOutcome, ToolResult } from './envelope.js';

/** One step as the gateway resolved it: the call, and how to undo it (arguments may hold templates). */
export interface SagaStepSpec {
  /** The caller's name for the step (unique in the saga). */
  step: string;
  /** The call; its correlation id, deadline and saga fields are set when the step starts. */
  envelope: CallEnvelope;
  compensation?: CallEnvelope;
}

export interface SagaInput {
  sagaId: string;
  tenant: string;
  principal: string;
  /** `whole`: `steps` run in order at once. `incremental`: steps arrive one by one (addSagaStep). */
  mode: 'whole' | 'incremental';
  steps: SagaStepSpec[];
  /** Every step's lane: the caller's ordering key, or the saga id. Undefined for a whole saga without one. */
  orderingKey?: string;
  startedAt: number;
  /** Absolute: steps still running or queued then are cancelled, and the saga compensates. */
  deadlineAt: number;
  maxSteps: number;
}

export type SagaState = 'open' | 'running' | 'completed' | 'committed' | 'compensating' | 'compensated' | 'failed_compensation';

export type StepState = 'queued' | 'running' | 'succeeded' | 'failed' | 'not_run';

export type CompensationState = 'none' | 'pending' | 'not_needed' | 'running' | 'compensated' | 'failed';

export interface SagaStepView {
  step: string;
  tool: string;
  correlationId: string;
  state: StepState;
  /** True when the step's request may have reached its server (it is then compensated if it can be). */
  mayHaveRun: boolean;
  startedAt?: number;
  endedAt?: number;
  outcome?: StepOutcome;
  /** Why the step counts as failed, in words. */
  message?: string;
  compensation: {
    state: CompensationState;
    tool?: string;
    correlationId?: string;
    /** Shown when at most INLINE_BYTES (a template may have copied a whole result into them). */
    arguments?: Record<string, unknown>;
    /** The size of arguments too large to show; the compensation's call workflow has them. */
    argumentsBytes?: number;
    startedAt?: number;
    endedAt?: number;
    outcome?: StepOutcome;
    message?: string;
    /** Set when the compensation was dead-lettered (reason `compensation_failed`). */
    deadLetterId?: string;
  };
}

/**
 * How a saga's call (step or compensation) ended, as the saga's status shows it. A result is kept
 * by reference: the call's correlation id names its call workflow, whose own result holds it.
 * The status carries only its size, so a saga's status, its workflow result and its query answers
 * stay small however large the steps' results are (Temporal refuses payloads above 2 MB). The
 * gateway puts `result` back for get_saga when it is small enough (src/gateway/sagas.ts).
 */
export type StepOutcome = Exclude<CallOutcome, { status: 'completed' }> | { status: 'completed'; isError?: true; resultBytes: number; result?: ToolResult };

/** The largest compensation arguments a saga's status shows inline. */
export const INLINE_BYTES = 64 * 1024;

/** A call's outcome as a saga's status keeps it: the result replaced by its size. */
export function outcomeRef(outcome: CallOutcome): StepOutcome {
  if (outcome.status !== 'completed') return outcome;
  return { status: 'completed', ...(outcome.result.isError === true ? { isError: true as const } : {}), resultBytes: jsonBytes(outcome.result) };
}

/** UTF-8 size of a value's JSON, without Buffer or TextEncoder (this file runs in the workflow sandbox too). */
export function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value) ?? '';
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export interface SagaStatus {
  sagaId: string;
  tenant: string;
  principal: string;
  mode: SagaInput['mode'];
  state: SagaState;
  orderingKey?: string;
  startedAt: number;
  deadlineAt: number;
  endedAt?: number;
  /** Why the saga compensated: the failed step, an abort, the deadline or a cancel. */
  reason?: string;
  steps: SagaStepView[];
}

/** Gateway → saga (incremental): the step is recorded and its call workflow started. */
export interface AddStepResult {
  correlationId: string;
  /** False when a step with that name already existed: its call is returned, nothing new runs. */
  added: boolean;
}

/** A saga's call (step or compensation) → its saga, when the call ends. */
export interface StepReport {
  correlationId: string;
  outcome: CallOutcome;
  /** True when a downstream request was sent (or may have been). */
  mayHaveRun: boolean;
}

/** Carried in a saga call's envelope. */
export interface SagaRef {
  id: string;
  step: string;
  role: 'step' | 'compensation';
}

export const FINAL_SAGA_STATES: ReadonlySet<SagaState> = new Set(['completed', 'committed', 'compensated', 'failed_compensation']);

// ---------------------------------------------------------------------------------------------
// Templates: `{{args.path}}`, `{{result.structuredContent.id}}`, `{{result.content.0.text}}`,
// `{{saga.id}}`, `{{steps.provision.result.structuredContent.id}}` (an earlier step of a whole
// saga). A string that is exactly one reference takes the referenced value as is (a number stays
// a number); references inside a longer string are interpolated as text.

const REFERENCE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^(args|result|saga|steps)(\.[A-Za-z0-9_$-]+)*$/;
export const TEMPLATE_ROOTS = ['args', 'result', 'saga', 'steps'] as const;

export class TemplateError extends Error {}

/** Every reference in a template value, with where it is ("arguments.path"). Throws on bad syntax. */
export function templateReferences(value: unknown, where = 'arguments'): Array<{ where: string; path: string }> {
  const found: Array<{ where: string; path: string }> = [];
  visit(value, where, (text, at) => {
    if (/\{\{(?![^{}]*\}\})/.test(text)) throw new TemplateError(`${at}: unclosed "{{"`);
    for (const match of text.matchAll(REFERENCE)) {
      const path = match[1]!;
      if (!PATH.test(path)) throw new TemplateError(`${at}: "{{${path}}}" must be a dotted path starting with ${TEMPLATE_ROOTS.join(', ')} (e.g. {{args.path}})`);
      found.push({ where: at, path });
    }
  });
  return found;
}

export interface TemplateScope {
  args?: Record<string, unknown>;
  result?: ToolResult | undefined;
  saga: { id: string; step: string };
  /** Earlier steps of a whole saga, by name. */
  steps: Record<string, { args: Record<string, unknown>; result?: ToolResult }>;
}

/**
 * Renders every template in `value`; a reference to something missing is a TemplateError naming
 * it. With `only`, references under other roots are left as they are (a step's own arguments
 * render `steps` only, so a tool argument that happens to contain "{{name}}" is untouched).
 */
export function renderTemplate(value: unknown, scope: TemplateScope, only?: ReadonlyArray<(typeof TEMPLATE_ROOTS)[number]>): unknown {
  const applies = (path: string) => only === undefined || only.some((root) => path === root || path.startsWith(`${root}.`));
  if (typeof value === 'string') {
    const whole = /^\{\{\s*([^{}]*?)\s*\}\}$/.exec(value);
    if (whole) return applies(whole[1]!) ? lookup(scope, whole[1]!) : value;
    return value.replace(REFERENCE, (match, path: string) => {
      if (!applies(path)) return match;
      const found = lookup(scope, path);
      return typeof found === 'string' ? found : JSON.stringify(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => renderTemplate(item, scope, only));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderTemplate(item, scope, only)]));
  }
  return value;
}

function lookup(scope: TemplateScope, path: string): unknown {
  if (!PATH.test(path)) throw new TemplateError(`"{{${path}}}" is not a reference`);
  const [root, ...rest] = path.split('.');
  let current: unknown = scope[root as keyof TemplateScope];
  let walked = root!;
  for (const segment of rest) {
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, segment)) {
      throw new TemplateError(`"{{${path}}}": ${walked} has no "${segment}"`);
    }
    current = (current as Record<string, unknown>)[segment];
    walked = `${walked}.${segment}`;
  }
  if (current === undefined) throw new TemplateError(`"{{${path}}}" is missing`);
  return current;
}

function visit(value: unknown, at: string, onString: (text: string, at: string) => void): void {
  if (typeof value === 'string') onString(value, at);
  else if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${at}.${i}`, onString));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) visit(item, `${at}.${key}`, onString);
}

/** The outcome of a step as success or failure, with whether it may have taken effect. */
export function judgeStep(report: StepReport): { ok: boolean; mayHaveRun: boolean; message?: string } {
  const { outcome } = report;
  switch (outcome.status) {
    case 'completed':
      if (outcome.result.isError === true) return { ok: false, mayHaveRun: false, message: `the tool answered with an error: ${firstText(outcome.result)}` };
      return { ok: true, mayHaveRun: true };
    case 'failed':
      // A JSON-RPC error or an open breaker: the tool did not run. A transport failure may have.
      return { ok: false, mayHaveRun: outcome.reason === 'transport' && report.mayHaveRun, message: outcome.message };
    case 'dead_lettered':
      return { ok: false, mayHaveRun: report.mayHaveRun, message: `${outcome.reason}: ${outcome.message}` };
    case 'deadline_exceeded':
    case 'cancelled':
      return { ok: false, mayHaveRun: report.mayHaveRun, message: outcome.message };
  }
}

export function firstText(result: ToolResult): string {
  for (const item of result.content) {
    if (item !== null && typeof item === 'object' && (item as { type?: unknown }).type === 'text') {
      const text = String((item as { text?: unknown }).text ?? '');
      return text.length > 300 ? `${text.slice(0, 300)}…` : text;
    }
  }
  return '(no text)';
}
