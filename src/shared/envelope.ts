// The durable description of one tool call, built by the gateway and carried through Temporal.
// Types only are imported by workflow code, so zod stays out of the workflow bundle.
import { z } from 'zod';

export const RetryPolicySchema = z.strictObject({
  maxAttempts: z.number().int().min(1),
  initialIntervalMs: z.number().int().min(1),
  maxIntervalMs: z.number().int().min(1),
  backoffCoefficient: z.number().min(1),
});

export const CallEnvelopeSchema = z.strictObject({
  correlationId: z.string(),
  tenant: z.string(),
  /** Who called, from authentication; never from the request. */
  principal: z.string(),
  /**
   * What else the RBAC policy matches the caller on (src/shared/policy.ts), so the worker can check
   * the policy again before a redrive. Nothing secret. Absent in calls recorded before RBAC: those
   * are checked on tenant and subject alone.
   */
  identity: z
    .strictObject({
      admin: z.boolean().optional(),
      groups: z.array(z.string()).optional(),
      roles: z.array(z.string()).optional(),
      keyName: z.string().optional(),
    })
    .optional(),
  serverId: z.string(),
  /** The downstream tool name, without the server prefix. */
  tool: z.string(),
  /** The tool name as the client sees it. */
  publicTool: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  orderingKey: z.string().optional(),
  idempotencyKey: z.string().optional(),
  /** Epoch milliseconds, set by the gateway when it accepted the call. */
  acceptedAt: z.number(),
  /** Absolute deadline, epoch milliseconds: fixed at acceptance, never extended. */
  deadlineAt: z.number(),
  /** Per downstream request timeout; the remaining deadline wins when shorter. */
  requestTimeoutMs: z.number().int().positive(),
  heartbeatTimeoutMs: z.number().int().positive(),
  retry: RetryPolicySchema,
  priority: z.enum(['low', 'normal', 'high', 'critical']),
  /** Decides what may be retried: see docs/guarantees.md, "Retries by mutation class". */
  mutation: z.enum(['read_only', 'idempotent', 'non_idempotent']),
  /**
   * How a key workflow runs the call: a local activity (short tools that are safe to repeat) or a
   * regular, heartbeating one. Decided by the gateway from config; call workflows ignore it.
   */
  execution: z.enum(['local', 'activity']).optional(),
  /** With `halt`, a dead-lettered call keeps its key's lane until it is redriven or discarded. */
  onDeadLetter: z.enum(['continue', 'halt']),
  /** Set on the calls of a saga (its steps and compensations): they report to the saga and never dead-letter on their own. */
  saga: z.strictObject({ id: z.string(), step: z.string(), role: z.enum(['step', 'compensation']) }).optional(),
  /**
   * Answers to the downstream server's input requests (MCP 2026-07-28 `inputResponses`, with the
   * server's own `requestState`): sent by a client with its first request, or by the workflow on
   * a later round (workflows/input.ts).
   */
  input: z.strictObject({ responses: z.record(z.string(), z.unknown()), requestState: z.string().optional() }).optional(),
  /** Followed as a task (MCP Tasks extension): how it ends is recorded even when a caller saw it end, so tasks/get finds it for the task's lifetime. */
  task: z.boolean().optional(),
  /** What the calling client can answer (elicitation, sampling, roots): told to 2026-07-28 downstream servers per request. */
  clientCapabilities: z.record(z.string(), z.unknown()).optional(),
  /**
   * The caller's OAuth token sealed by the gateway (downstream/sealed-token.ts), for a server whose
   * credentials are `tokenExchange` only: ciphertext that the worker opens to exchange it at call
   * time. Never a downstream token, never shown.
   */
  credential: z.string().optional(),
  /**
   * The W3C trace context of the gateway's span for this call: the activity is parented by it, so
   * a call that waits in a shared key workflow, retries or is redriven stays in its caller's trace.
   */
  traceparent: z.string().optional(),
  tracestate: z.string().optional(),
  /**
   * Set when the audit log is on (config `audit`): who called beyond the subject, and the
   * arguments' digest (or redacted copy), for the record the call's workflow exports as it ends.
   */
  audit: z
    .strictObject({
      clientId: z.string().optional(),
      keyFingerprint: z.string().optional(),
      via: z.string().optional(),
      argumentsDigest: z.string(),
      mode: z.enum(['digest', 'redacted', 'full']),
      redacted: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});

export { PRIORITY_KEYS } from './priority.js';

export type CallEnvelope = z.infer<typeof CallEnvelopeSchema>;
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/** What a downstream tools/call returned, passed through untouched (content, structuredContent, isError, _meta). */
export type ToolResult = {
  content: unknown[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  _meta?: Record<string, unknown>;
  [key: string]: unknown;
};

/**
 * How a call ended. `completed` includes tool errors (isError results): those are answers, not failures.
 * `failed` means the broker could not get an answer: transport failures after retries, or a JSON-RPC
 * error from the downstream server.
 */
export type CallOutcome =
  | { status: 'completed'; result: ToolResult }
  | { status: 'failed'; reason: 'transport' | 'downstream_error' | 'circuit_open' | 'over_limit' | 'credentials'; message: string; code?: number; data?: Record<string, unknown>; attempts: number }
  | { status: 'dead_lettered'; reason: DeadLetterReason; message: string; attempts: number }
  | { status: 'deadline_exceeded'; message: string }
  | { status: 'cancelled'; message: string };

/**
 * Why a call was dead-lettered: `retries_exhausted` (a retryable failure outlasted the retry
 * policy), `outcome_unknown` (a request that is not safe to repeat may or may not have run),
 * `compensation_failed` (a saga could not undo a step: see docs/sagas.md).
 */
export type DeadLetterReason = 'retries_exhausted' | 'outcome_unknown' | 'compensation_failed';

export type CallPhase = 'admitting' | 'queued' | 'running' | 'input_required' | 'done';

/** The input a call waits for: the downstream server's requests not answered yet, by its own keys. */
export interface PendingInput {
  /** 1 for the call's first request to the server, +1 for each answered round. */
  round: number;
  requests: Record<string, unknown>;
}

/** A call waiting for its client's input, as a gateway learns it: not an outcome, the call goes on. */
export interface InputWanted extends PendingInput {
  status: 'input_required';
}

export interface CallStatus {
  correlationId: string;
  phase: CallPhase;
  publicTool: string;
  orderingKey?: string;
  acceptedAt: number;
  deadlineAt: number;
  attempt: number;
  lastFailure?: string;
  /** Set while the call waits for input (phase `input_required`). */
  input?: PendingInput;
}

export type DeadLetterState = 'pending' | 'redriving' | 'redriven' | 'discarded';

export interface DeadLetterStatus {
  correlationId: string;
  tenant: string;
  tool: string;
  orderingKey?: string;
  reason: DeadLetterReason;
  message: string;
  attempts: number;
  /** Epoch ms. */
  deadLetteredAt: number;
  /** True when later calls on the key wait for this one (onDeadLetter: halt). */
  holdsLane: boolean;
  state: DeadLetterState;
  /** Every operator action, in order: the audit trail. */
  /** `refused`: the access policy stopped a redrive before it ran (the caller's right was revoked). */
  actions: Array<{ action: 'redrive' | 'discard'; by: string; at: number; note?: string; outcome?: CallOutcome['status'] | 'refused' }>;
  /** The outcome of the last redrive, once it finished. */
  outcome?: CallOutcome;
}
