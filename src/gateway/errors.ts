// The one place where domain errors become JSON-RPC errors (codes in jsonrpc.ts): the services'
// (toJsonRpcError) and the downstream connections' for pass-through requests (passthroughError).
// A broker tool, a tools/call or a saga that fails on its way to Temporal ends here; what the
// client may read is decided here, and anything unexpected is logged and answered as
// BROKER_UNAVAILABLE without detail.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { AuditBehindError, KeyLimitError } from '../services/key-calls.js';
import { SagaRefusedError } from '../services/sagas.js';
import { TemplateError } from '../shared/saga.js';
import { META } from './envelope.js';
import { DownstreamError } from '../downstream/errors.js';
import { BROKER_BUSY, BROKER_UNAVAILABLE, INTERNAL_ERROR, INVALID_PARAMS, JsonRpcError, SERVER_TIMEOUT, SERVER_UNAVAILABLE } from './jsonrpc.js';

export interface Failure {
  /** What was being done, for the operator's log ("record a call", "switchyard.get_saga"). */
  doing: string;
  /** The client's sentence when Temporal could not be reached: what was (not) done, what to do. */
  unavailable: string;
  /** The error's data on BROKER_UNAVAILABLE (the call's correlation id, so the client can look for it). */
  data?: Record<string, unknown>;
  /** Fields for the operator's log. */
  context?: Record<string, unknown>;
  /** Names the field a SagaRefusedError is about (`_meta["switchyard/saga"].id`). */
  sagaField?: string;
}

export function toJsonRpcError(error: unknown, deps: { config: Config; log: Logger }, failure: Failure): JsonRpcError {
  if (error instanceof JsonRpcError) return error;
  if (error instanceof KeyLimitError) {
    const retryAfterMs = deps.config.limits.retryAfterMs;
    deps.log.warn('call refused over a limit', { ...failure.context, scope: error.scope, count: error.count, limit: error.limit });
    return new JsonRpcError(
      BROKER_BUSY,
      `Too many unfinished calls on this ${error.scope} (${error.count}, limit ${error.limit}); the call was not accepted. Retry after ${Math.ceil(retryAfterMs / 1000)} s.`,
      { [META.retryAfterMs]: retryAfterMs },
    );
  }
  if (error instanceof AuditBehindError) {
    const retryAfterMs = deps.config.limits.retryAfterMs;
    deps.log.error('call refused: the audit log is behind (is its store reachable?)', { ...failure.context, reason: error.message });
    return new JsonRpcError(BROKER_BUSY, `The audit log cannot be written, so the call was not accepted. Retry after ${Math.ceil(retryAfterMs / 1000)} s.`, { [META.retryAfterMs]: retryAfterMs });
  }
  if (error instanceof SagaRefusedError) return new JsonRpcError(INVALID_PARAMS, failure.sagaField === undefined ? error.message : `${failure.sagaField}: ${error.message}`);
  if (error instanceof TemplateError) return new JsonRpcError(INVALID_PARAMS, error.message);
  deps.log.error(`could not ${failure.doing} in Temporal`, { ...failure.context, error: String(error) });
  return new JsonRpcError(BROKER_UNAVAILABLE, failure.unavailable, failure.data);
}

/**
 * A failed pass-through request (resources, prompts, completion): the downstream's own JSON-RPC
 * error keeps its code; an unreachable or slow server gets the broker's code; anything else is
 * logged and answered without detail.
 */
export function passthroughError(error: unknown, log: Logger): JsonRpcError {
  if (error instanceof JsonRpcError) return error;
  if (error instanceof DownstreamError) {
    if (error.kind === 'protocol') return new JsonRpcError(error.code ?? INTERNAL_ERROR, error.message);
    if (error.kind === 'timeout') return new JsonRpcError(SERVER_TIMEOUT, error.message);
    return new JsonRpcError(SERVER_UNAVAILABLE, error.message);
  }
  log.error('pass-through request failed', { error: error instanceof Error ? error.message : String(error) });
  return new JsonRpcError(INTERNAL_ERROR, 'Internal error');
}
