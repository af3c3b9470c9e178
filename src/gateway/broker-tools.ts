// The broker's own tools, listed beside the downstream tools under the "switchyard" prefix.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';

const correlationIdInput: Tool['inputSchema'] = {
  type: 'object',
  properties: {
    correlation_id: { type: 'string', description: 'The correlation id from _meta["switchyard/correlation_id"] of an earlier result.' },
    idempotency_key: { type: 'string', description: 'Instead of correlation_id: the idempotency key the call was sent with.' },
  },
  additionalProperties: false,
};

export const BROKER_TOOLS: Tool[] = [
  {
    name: 'get_call',
    title: 'Get a durable call',
    description:
      'Status of a tool call made through Switchyard, and its result once it is done. Use it when a call answered ' +
      '"accepted" because it was still running, or after reconnecting.',
    inputSchema: correlationIdInput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'cancel_call',
    title: 'Cancel a durable call',
    description: 'Cancels a tool call made through Switchyard: a queued call never runs; a running call is cancelled downstream.',
    inputSchema: correlationIdInput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
];
