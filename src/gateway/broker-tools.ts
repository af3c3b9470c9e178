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

const deadLetterInput: Tool['inputSchema'] = {
  type: 'object',
  properties: { correlation_id: { type: 'string', description: 'The correlation id of the dead-lettered call (from dlq_list).' } },
  required: ['correlation_id'],
  additionalProperties: false,
};

const ADMIN = ' Needs an admin API key of the tenant.';

export const BROKER_TOOLS: Tool[] = [
  {
    name: 'submit',
    title: 'Call a tool with an explicit envelope',
    description:
      'Calls another tool through Switchyard and sets how it runs: calls with the same ordering_key run one at a time in order ' +
      '(e.g. provision, then configure, then enable); a repeated idempotency_key returns the first call\'s result instead of running ' +
      'again; deadline_ms bounds the whole call; priority orders work when the broker is busy; accept_async answers at once ' +
      'with a correlation_id to follow with get_call.',
    inputSchema: {
      type: 'object',
      properties: {
        tool: { type: 'string', description: 'The tool to call, as named in tools/list.' },
        arguments: { type: 'object', description: 'Arguments for that tool.' },
        ordering_key: { type: 'string', description: 'Calls with the same key run one at a time, in the order they were accepted.' },
        idempotency_key: { type: 'string', description: 'Repeating a call with the same key returns the first call\'s outcome.' },
        deadline_ms: { type: 'integer', minimum: 1, description: 'Milliseconds from now after which the call is abandoned (queued or running).' },
        deadline: { type: 'string', format: 'date-time', description: 'Instead of deadline_ms: an absolute RFC 3339 deadline.' },
        priority: { type: 'string', enum: ['low', 'normal', 'high', 'critical'] },
        accept_async: { type: 'boolean', description: 'true: answer at once with a correlation_id; false: wait for the result however long it takes (up to the deadline).' },
      },
      required: ['tool'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
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
  {
    name: 'dlq_list',
    title: 'List dead letters',
    description: 'Calls of this tenant that exhausted their retries or whose outcome is unknown, waiting for an operator.' + ADMIN,
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'dlq_show',
    title: 'Show a dead letter',
    description: 'Why a call was dead-lettered, its attempts, and what operators did with it.' + ADMIN,
    inputSchema: deadLetterInput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'dlq_redrive',
    title: 'Redrive a dead letter',
    description: 'Runs a dead-lettered call again with a fresh deadline of the same length; answers with the new outcome.' + ADMIN,
    inputSchema: deadLetterInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  {
    name: 'dlq_discard',
    title: 'Discard a dead letter',
    description: 'Gives up on a dead-lettered call; calls waiting behind it on its ordering key continue.' + ADMIN,
    inputSchema: {
      type: 'object',
      properties: { correlation_id: { type: 'string' }, note: { type: 'string', description: 'Why, for the audit trail.' } },
      required: ['correlation_id'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
];
