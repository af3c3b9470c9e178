// The activity that calls a downstream tool. It heartbeats while the server works so that a
// cancel reaches it (and the downstream server gets notifications/cancelled through the abort
// signal) and so that a dead worker is noticed within the heartbeat timeout.
import { activityInfo, cancellationSignal, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DownstreamError } from '../downstream/errors.js';
import type { CallEnvelope, ToolResult } from '../shared/envelope.js';
import type { ActivityDeps } from './index.js';

export const DEFAULT_MAX_RESULT_BYTES = 1_536 * 1024;

export function createCallToolActivity({ pool, log, maxResultBytes = DEFAULT_MAX_RESULT_BYTES }: ActivityDeps) {
  return async function callTool(envelope: CallEnvelope): Promise<ToolResult> {
    const info = activityInfo();
    const connection = pool.get(envelope.serverId);
    if (connection === undefined || !connection.isToolAllowed(envelope.tool)) {
      throw ApplicationFailure.nonRetryable(`tool "${envelope.publicTool}" is not available on this worker`, 'UnknownTool');
    }
    const remainingMs = envelope.deadlineAt - Date.now();
    if (remainingMs <= 0) throw ApplicationFailure.nonRetryable('deadline passed before the call was sent', 'DeadlineExceeded');

    let lastProgress: unknown;
    const beat = setInterval(() => heartbeat(lastProgress), Math.max(200, Math.floor(envelope.heartbeatTimeoutMs / 4)));
    heartbeat();
    try {
      const result = await connection.callTool(envelope.tool, envelope.arguments, {
        signal: cancellationSignal(),
        timeoutMs: Math.min(envelope.requestTimeoutMs, remainingMs),
        // Downstream servers that dedupe can use these; they are the same on every attempt.
        meta: {
          'switchyard/correlation_id': envelope.correlationId,
          ...(envelope.idempotencyKey !== undefined ? { 'switchyard/idempotency_key': envelope.idempotencyKey } : {}),
          'switchyard/attempt': info.attempt,
        },
        onProgress: (progress) => {
          lastProgress = progress;
        },
      });
      const size = Buffer.byteLength(JSON.stringify(result));
      if (size > maxResultBytes) {
        throw ApplicationFailure.nonRetryable(
          `result of ${envelope.publicTool} is ${size} bytes, above the ${maxResultBytes}-byte limit for durable results`,
          'ResultTooLarge',
        );
      }
      return result;
    } catch (error) {
      if (cancellationSignal().aborted) throw new CancelledFailure('call cancelled');
      if (error instanceof DownstreamError) {
        if (error.kind === 'protocol') throw ApplicationFailure.create({ message: error.message, type: 'DownstreamProtocolError', nonRetryable: true, details: [error.code] });
        log.warn('downstream call failed; Temporal will retry', { tool: envelope.publicTool, correlationId: envelope.correlationId, attempt: info.attempt, error: error.message });
        throw ApplicationFailure.retryable(error.message, error.kind === 'timeout' ? 'DownstreamTimeout' : 'DownstreamUnavailable');
      }
      throw error;
    } finally {
      clearInterval(beat);
    }
  };
}
