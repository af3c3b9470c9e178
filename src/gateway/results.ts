// Maps a durable call's outcome to what the MCP client receives. Tool errors stay results;
// broker-side failures become isError results that say what failed; downstream JSON-RPC errors
// stay JSON-RPC errors. Every answer carries the correlation id.
import { INTERNAL_ERROR, JsonRpcError } from './jsonrpc.js';
import type { CallOutcome, ToolResult } from '../shared/envelope.js';
import { META } from './envelope.js';
import { detachRelayed } from './passthrough.js';

export function outcomeToResult(outcome: CallOutcome, correlationId: string, tool: string): ToolResult {
  const meta = (status: string) => ({ [META.correlationId]: correlationId, [META.status]: status });
  switch (outcome.status) {
    case 'completed':
      // The worker's relayed notifications leave the result here, for every path that shows it.
      return detachRelayed({ ...outcome.result, _meta: { ...outcome.result._meta, ...meta('completed') } });
    case 'failed':
      if (outcome.reason === 'downstream_error') {
        throw new JsonRpcError(outcome.code ?? INTERNAL_ERROR, outcome.message, { ...outcome.data, [META.correlationId]: correlationId });
      }
      return errorResult(`Switchyard could not complete ${tool}: ${outcome.message}. correlation_id: ${correlationId}`, meta('failed'));
    case 'deadline_exceeded':
      return errorResult(`${tool} did not finish before its deadline: ${outcome.message}. correlation_id: ${correlationId}`, meta('deadline_exceeded'));
    case 'cancelled':
      return errorResult(`${tool} was cancelled: ${outcome.message}. correlation_id: ${correlationId}`, meta('cancelled'));
    case 'dead_lettered': {
      const why = outcome.reason === 'outcome_unknown' ? 'its outcome is unknown' : 'it kept failing';
      return errorResult(
        `${tool} was dead-lettered because ${why}: ${outcome.message}. An operator can redrive or discard it ` +
          `(switchyard dlq show ${correlationId}). correlation_id: ${correlationId}`,
        { ...meta('dead_lettered'), 'switchyard/dead_letter_reason': outcome.reason },
      );
    }
  }
}

/**
 * The answer when a call outlives syncWaitMs. It is a normal result; but a tool with an
 * outputSchema must return matching structuredContent, which we do not have yet, so for those
 * the same text comes back with isError (clients would otherwise reject the result).
 */
export function acceptedResult(correlationId: string, tool: string, brokerPrefix: string, hasOutputSchema: boolean): ToolResult {
  return {
    content: [
      {
        type: 'text',
        text:
          `${tool} was accepted and is still running. correlation_id: ${correlationId}. ` +
          `Call ${brokerPrefix}get_call with {"correlation_id": "${correlationId}"} to get its result, or ${brokerPrefix}cancel_call to cancel it.`,
      },
    ],
    ...(hasOutputSchema ? { isError: true } : {}),
    _meta: { [META.correlationId]: correlationId, [META.status]: 'accepted' },
  };
}

export function errorResult(text: string, meta: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text }], isError: true, _meta: meta };
}
