// The activity that calls a downstream tool. It waits for a slot under the server's in-flight
// limit, passes the circuit breaker, and heartbeats while the server works so that a cancel
// reaches it (through the abort signal the downstream server is told: notifications/cancelled on a
// 2025 connection, the request's HTTP exchange aborted on a 2026-07-28 one) and a
// dead worker is noticed within the heartbeat timeout.
//
// Failure types it throws (the workflow decides what they mean, see workflows/attempts.ts):
//   DownstreamNotSent      retryable: the request provably never left (safe even for non-idempotent tools)
//   DownstreamUnavailable  retryable: the connection broke; the request may have been received
//   DownstreamTimeout      retryable: sent, no answer within the request timeout
//   CredentialsUnavailable non-retryable: no credential for the server (downstream/credentials.ts); nothing was sent
//   DownstreamProtocolError, UnknownTool, ResultTooLarge, CircuitOpen, DeadlineExceeded: non-retryable
// The transport failures carry this attempt's number as their first detail, and DeadlineExceeded
// the number of attempts that were sent (this one was not): when Temporal runs the retries, the
// failure is the only way the workflow learns how many ran.
import { activityInfo, cancellationSignal, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ServerConfig } from '../config/schema.js';
import { CredentialError, type DownstreamCredentials } from '../downstream/credentials.js';
import { DownstreamError } from '../downstream/errors.js';
import { CircuitOpenError } from '../downstream/protection.js';
import { recordDownstreamRequest, recordRetry, type DownstreamOutcome } from '../observability/metrics.js';
import { traceDownstreamCall } from '../observability/tracing.js';
import type { CallEnvelope, ToolResult } from '../shared/envelope.js';
import { pushRelayed, RELAY_META_KEY, type RelayedNotification } from '../shared/relay.js';
import { HELD_STATE_PREFIX, HeldCall, HeldCalls, questionResult } from './held-calls.js';
import type { ActivityDeps } from './index.js';

export const DEFAULT_MAX_RESULT_BYTES = 1_536 * 1024;

/** The last progress a downstream server reported, carried in heartbeat details for the gateway. */
export interface CallProgress {
  progress: number;
  total?: number;
  message?: string;
}

/**
 * How one call of a batch ended (callToolBatch): its result, or the failure its own callTool threw,
 * as the workflow would have received it; null for a call the batch did not run.
 */
export type BatchItem = { result: ToolResult; startedAt: number } | { failure: BatchFailure; startedAt: number } | null;

export interface BatchFailure {
  type: string;
  message: string;
  nonRetryable: boolean;
  details: unknown[];
}

/**
 * The first attempts of a key's next local calls in one local activity (workflows/key.ts,
 * BATCHED_LOCAL_CALLS), one after another, stopping after the first that does not simply complete
 * (a failure, or a question for its client): the next may not start before it has ended. Each
 * call runs exactly as callTool runs it. A cancel reaches every call of the batch, and the batch's
 * own failure (a worker that dies) makes Temporal run it again: both only for calls that are safe
 * to repeat (the workflow batches no others).
 */
export function createCallToolBatchActivity(callTool: ReturnType<typeof createCallToolActivity>) {
  return async function callToolBatch(envelopes: CallEnvelope[]): Promise<BatchItem[]> {
    const items: BatchItem[] = envelopes.map(() => null);
    for (const [index, envelope] of envelopes.entries()) {
      const startedAt = Date.now();
      try {
        const result = await callTool(envelope);
        items[index] = { result, startedAt };
        if (result.resultType === 'input_required') break;
      } catch (error) {
        if (cancellationSignal().aborted || !(error instanceof ApplicationFailure)) throw error;
        items[index] = { failure: { type: error.type ?? 'Error', message: error.message, nonRetryable: error.nonRetryable === true, details: [...(error.details ?? [])] }, startedAt };
        break;
      }
    }
    return items;
  };
}

export function createCallToolActivity({ pool, log, maxResultBytes = DEFAULT_MAX_RESULT_BYTES }: ActivityDeps) {
  /** Requests to 2025 servers that asked their caller something, until the answer's round (held-calls.ts). */
  const held = new HeldCalls();
  /**
   * `attempt` is set by the workflow when it runs the retries itself (non-idempotent tools);
   * `attemptsBefore`, when Temporal runs them after a first attempt made in a batch (callToolBatch).
   */
  return async function callTool(envelope: CallEnvelope, attempt?: number, attemptsBefore = 0): Promise<ToolResult> {
    const info = activityInfo();
    const thisAttempt = attempt ?? info.attempt + attemptsBefore;
    if (thisAttempt > 1) recordRetry(envelope.tenant, envelope.publicTool, envelope.serverId);
    const connection = pool.get(envelope.serverId);
    if (connection === undefined || !connection.isToolAllowed(envelope.tool)) {
      throw ApplicationFailure.nonRetryable(`tool "${envelope.publicTool}" is not available on this worker`, 'UnknownTool');
    }
    const deadlineLeft = () => envelope.deadlineAt - Date.now();
    if (deadlineLeft() <= 0) throw ApplicationFailure.nonRetryable('deadline passed before the call was sent', 'DeadlineExceeded', thisAttempt - 1);
    // A round that answers a 2025 server's question goes on with the request this worker holds.
    const heldState = envelope.input?.requestState?.startsWith(HELD_STATE_PREFIX) ? envelope.input.requestState : undefined;
    const resumed = heldState !== undefined ? held.take(heldState, envelope.correlationId) : undefined;
    if (heldState !== undefined && resumed === undefined) {
      throw ApplicationFailure.nonRetryable(
        'the server request that waited for this input was lost (its worker restarted, or another worker took the answer); the tool may have run',
        'InputLost',
      );
    }
    const call = resumed ?? new HeldCall(envelope.correlationId);

    let lastProgress: CallProgress | undefined;
    // Progress and log messages of this call, returned with the result for the gateway to relay.
    const relayed: RelayedNotification[] = [];
    const { scope } = call;
    const onLog = (params: { level: string; logger?: string; data?: unknown }, from: object | undefined) => {
      if (from === scope) pushRelayed(relayed, { method: 'notifications/message', params });
    };
    connection.on('log', onLog);
    // A local activity cannot heartbeat: its workflow task is what Temporal watches.
    const beat = info.isLocal ? undefined : setInterval(() => heartbeat(lastProgress), Math.max(200, Math.floor(envelope.heartbeatTimeoutMs / 4)));
    if (!info.isLocal) heartbeat();
    // Waiting for a slot ends with the deadline or a cancel, like the call itself. Not
    // AbortSignal.timeout: its timer cannot be cleared, lives until the deadline, and holds this
    // activity's async context (the SDK's whole Activity) that long: a soak with 600 s deadlines
    // held every activity of its last ten minutes (docs/performance.md, "Soak").
    const slotDeadline = new AbortController();
    const slotTimer = setTimeout(() => slotDeadline.abort(), Math.max(1, deadlineLeft()));
    const waitSignal = AbortSignal.any([cancellationSignal(), slotDeadline.signal]);
    // The request outlives a round that ends with a question: a cancel reaches it through `call`.
    // (The signal is read here, in the activity's context: an abort listener runs outside it.)
    const cancelled = cancellationSignal();
    const cancel = () => call.abort.abort(cancelled.reason);
    cancelled.addEventListener('abort', cancel, { once: true });
    let release: (() => void) | undefined;
    // For the SLI metrics: how this attempt's request ended (unset: no request, e.g. a question round).
    let ended: DownstreamOutcome | undefined;
    const startedAt = performance.now();
    try {
      try {
        release = await connection.limiter.acquire(waitSignal);
        clearTimeout(slotTimer);
      } catch {
        if (cancellationSignal().aborted) throw new CancelledFailure('call cancelled');
        ended = 'deadline';
        throw ApplicationFailure.nonRetryable(`deadline passed while waiting for a free slot on "${envelope.serverId}" (maxInFlight ${connection.limiter.max})`, 'DeadlineExceeded', thisAttempt - 1);
      }
      connection.breaker.admit();
      const remainingMs = deadlineLeft();
      if (remainingMs <= 0) {
        ended = 'deadline';
        throw ApplicationFailure.nonRetryable('deadline passed before the call was sent', 'DeadlineExceeded', thisAttempt - 1);
      }
      call.onProgress = (progress) => {
        lastProgress = { progress: progress.progress, ...(progress.total !== undefined ? { total: progress.total } : {}), ...(progress.message !== undefined ? { message: progress.message } : {}) };
        pushRelayed(relayed, { method: 'notifications/progress', params: lastProgress });
        if (!info.isLocal) heartbeat(lastProgress);
      };
      // The caller's credential, fetched now (an exchange at most): never in history, never logged.
      const headers = resumed !== undefined ? {} : await credentialHeaders(pool.credentials, connection.config, envelope, thisAttempt);
      // The downstream request is a CLIENT span of the call's trace; its context goes in `_meta`
      // (and, over HTTP, in the traceparent header: downstream/connection.ts).
      const send = (): Promise<ToolResult> =>
        traceDownstreamCall({ tool: envelope.publicTool, serverId: envelope.serverId, correlationId: envelope.correlationId, attempt: thisAttempt }, (traceContext) =>
        connection.callTool(envelope.tool, envelope.arguments, {
          signal: call.abort.signal,
          timeoutMs: Math.min(envelope.requestTimeoutMs, remainingMs),
          // Downstream servers that dedupe can use these; they are the same on every attempt.
          meta: {
            'switchyard/correlation_id': envelope.correlationId,
            ...(envelope.idempotencyKey !== undefined ? { 'switchyard/idempotency_key': envelope.idempotencyKey } : {}),
            'switchyard/attempt': thisAttempt,
            ...traceContext,
          },
          // Through `call`: each round's activity sets its own sink.
          onProgress: (progress) => call.onProgress?.(progress),
          scope,
          ask: call.ask,
          ...(envelope.input !== undefined ? { input: envelope.input } : {}),
          ...(envelope.clientCapabilities !== undefined ? { clientCapabilities: envelope.clientCapabilities } : {}),
          headers,
        }));
      if (resumed !== undefined) {
        for (const [key, response] of Object.entries(envelope.input?.responses ?? {})) resumed.answer(key, response);
      } else {
        call.start(send());
      }
      const step = await call.next(cancellationSignal());
      // The server asked its caller something: this round ends with the question, the request stays open here.
      if ('question' in step) return questionResult(step.question, held.park(call, envelope.deadlineAt));
      const downstreamResult = step.result;
      ended = downstreamResult.isError === true ? 'tool_error' : 'ok';
      connection.breaker.success();
      // Relayed notifications are a courtesy: they never push a result over the durable limit.
      let result = withRelayed(downstreamResult, relayed);
      if (relayed.length > 0 && Buffer.byteLength(JSON.stringify(result)) > maxResultBytes) result = withRelayed(downstreamResult, []);
      const size = Buffer.byteLength(JSON.stringify(result));
      if (size > maxResultBytes) {
        throw ApplicationFailure.nonRetryable(
          `result of ${envelope.publicTool} is ${size} bytes, above the ${maxResultBytes}-byte limit for durable results`,
          'ResultTooLarge',
        );
      }
      return result;
    } catch (error) {
      if (cancellationSignal().aborted) {
        ended = 'cancelled';
        throw new CancelledFailure('call cancelled');
      }
      if (error instanceof CircuitOpenError) {
        ended = 'circuit_open';
        throw ApplicationFailure.create({ message: error.message, type: 'CircuitOpen', nonRetryable: true, details: [error.retryAfterMs] });
      }
      if (error instanceof DownstreamError) {
        if (error.kind === 'protocol') {
          ended = 'protocol_error';
          connection.breaker.success(); // an answer: the server is up
          throw ApplicationFailure.create({ message: error.message, type: 'DownstreamProtocolError', nonRetryable: true, details: error.data !== undefined ? [error.code, error.data] : [error.code] });
        }
        if (error.kind === 'timeout' && deadlineLeft() <= 50) {
          // The request timeout was the caller's deadline: the SDK already told the server to cancel.
          // A deadline shorter than the work says nothing about the server's health, so the
          // breaker does not count it (chaos found calls failing "circuit open" after a burst of short deadlines).
          connection.breaker.settle();
          ended = 'deadline';
          throw ApplicationFailure.nonRetryable('deadline passed while the downstream server was working (it was told to cancel)', 'DeadlineExceeded', thisAttempt);
        }
        connection.breaker.failure();
        const type = !error.sent ? 'DownstreamNotSent' : error.kind === 'timeout' ? 'DownstreamTimeout' : 'DownstreamUnavailable';
        ended = !error.sent ? 'not_sent' : error.kind === 'timeout' ? 'timeout' : 'unavailable';
        log.warn('downstream call failed', { tool: envelope.publicTool, correlationId: envelope.correlationId, attempt: thisAttempt, type, error: error.message });
        throw ApplicationFailure.retryable(error.message, type, thisAttempt);
      }
      throw error;
    } finally {
      if (ended !== undefined) recordDownstreamRequest(envelope.serverId, envelope.publicTool, ended, (performance.now() - startedAt) / 1000);
      cancelled.removeEventListener('abort', cancel);
      connection.off('log', onLog);
      release?.();
      connection.breaker.settle();
      clearInterval(beat);
      clearTimeout(slotTimer);
    }
  };
}

/** The result with this call's notifications under the reserved key (never the server's own value there). */
function withRelayed(result: ToolResult, relayed: RelayedNotification[]): ToolResult {
  if (relayed.length === 0 && (result._meta === undefined || !(RELAY_META_KEY in result._meta))) return result;
  const meta = { ...result._meta };
  delete meta[RELAY_META_KEY];
  return { ...result, _meta: relayed.length > 0 ? { ...meta, [RELAY_META_KEY]: relayed } : meta };
}

/** The call's credential headers, or the failure the workflow reads: retryable only when the authorization server failed. */
async function credentialHeaders(credentials: DownstreamCredentials, server: ServerConfig, envelope: CallEnvelope, attempt: number): Promise<Record<string, string>> {
  try {
    return await credentials.callHeaders(server, { tenant: envelope.tenant, subject: envelope.principal, ...(envelope.credential !== undefined ? { credential: envelope.credential } : {}) });
  } catch (error) {
    if (!(error instanceof CredentialError)) throw error;
    // The tool request was not sent: a retry is safe whatever the tool's mutation class.
    if (error.retryable) throw ApplicationFailure.retryable(error.message, 'DownstreamNotSent', attempt);
    throw ApplicationFailure.nonRetryable(error.message, 'CredentialsUnavailable');
  }
}
