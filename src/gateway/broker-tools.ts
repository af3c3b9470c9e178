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

const sagaIdInput: Tool['inputSchema'] = {
  type: 'object',
  properties: { saga_id: { type: 'string', description: 'The saga id: the one given in _meta["switchyard/saga"].id, or returned by run_saga.' } },
  required: ['saga_id'],
  additionalProperties: false,
};

const compensationSchema = {
  type: 'object',
  description:
    'How to undo the step if the saga fails: a tool and its arguments. Strings may use templates over the step: ' +
    '{{args.path}} (its arguments), {{result.structuredContent.id}} (its result), {{saga.id}}. Without one, the tool\'s configured default applies, if any.',
  properties: { tool: { type: 'string' }, arguments: { type: 'object' } },
  required: ['tool'],
  additionalProperties: false,
};

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
    name: 'run_saga',
    title: 'Run steps as a saga',
    description:
      'Runs tool calls in order as one durable saga (e.g. provision, then configure, then enable). If a step fails, every ' +
      'step that already ran is undone in reverse order with its compensation. Answers with the outcome of every step. ' +
      'A repeated idempotency_key returns the first saga instead of running again.',
    inputSchema: {
      type: 'object',
      properties: {
        steps: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              tool: { type: 'string', description: 'The tool to call, as named in tools/list.' },
              arguments: { type: 'object' },
              compensation: compensationSchema,
              step: { type: 'string', description: 'A name for the step (default: its position, from 1).' },
            },
            required: ['tool'],
            additionalProperties: false,
          },
        },
        ordering_key: { type: 'string', description: 'Also order the saga\'s calls with other calls on this key.' },
        deadline_ms: { type: 'integer', minimum: 1, description: 'Every step must end within this many milliseconds, or the saga compensates.' },
        idempotency_key: { type: 'string', description: 'Repeating a saga with the same key returns the first one.' },
        accept_async: { type: 'boolean', description: 'true: answer at once with the saga_id to follow with get_saga.' },
      },
      required: ['steps'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  {
    name: 'saga_commit',
    title: 'Commit a saga',
    description:
      'Closes a saga built step by step (tools/call with _meta["switchyard/saga"] = {id, step, compensation?}): once its steps ' +
      'have all succeeded, it is committed and nothing is undone. Answers with every step\'s outcome.',
    inputSchema: sagaIdInput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  {
    name: 'saga_abort',
    title: 'Abort a saga',
    description: 'Stops a saga and undoes, in reverse order, every step that may have taken effect. Answers with what was undone.',
    inputSchema: sagaIdInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  },
  {
    name: 'get_saga',
    title: 'Get a saga',
    description: 'State of a saga: each step and its compensation, with status, timings and results.',
    inputSchema: sagaIdInput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
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
