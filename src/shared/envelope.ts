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
});

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
  | { status: 'failed'; reason: 'transport' | 'downstream_error'; message: string; code?: number; attempts: number }
  | { status: 'deadline_exceeded'; message: string }
  | { status: 'cancelled'; message: string };

export type CallPhase = 'admitting' | 'queued' | 'running' | 'done';

export interface CallStatus {
  correlationId: string;
  phase: CallPhase;
  publicTool: string;
  orderingKey?: string;
  acceptedAt: number;
  deadlineAt: number;
  attempt: number;
  lastFailure?: string;
}
