// The dead-letter admin tools (switchyard.dlq_*): the dead-letter service
// (src/services/dead-letters.ts) called for the caller's tenant, by tenant admins only.
import { z } from 'zod';
import { actorOf } from '../../audit/arguments.js';
import type { OperatorBy } from '../../audit/sink.js';
import { DeadLetterNotFound, DeadLetterNotPending, deadLetterSummary, RedriveRefused } from '../../services/dead-letters.js';
import type { DeadLetterStatus, ToolResult } from '../../shared/envelope.js';
import { CORRELATION_ID } from '../../shared/ids.js';
import type { CallContext } from '../handlers.js';
import { META } from '../envelope.js';
import { errorResult } from '../results.js';
import { brokerTool } from './tool.js';

const ADMIN = ' Needs an admin API key of the tenant.';

const CORRELATION_ID_RULE = 'must be the UUID of a dead-lettered call (see dlq_list)';
const DeadLetterId = z
  .string({ error: CORRELATION_ID_RULE })
  .regex(CORRELATION_ID, { error: CORRELATION_ID_RULE })
  .describe('The correlation id of the dead-lettered call (from dlq_list).');
const DeadLetterInput = z.strictObject({ correlation_id: DeadLetterId });

export const dlqList = brokerTool({
  definition: {
    name: 'dlq_list',
    title: 'List dead letters',
    description: 'Calls of this tenant that exhausted their retries or whose outcome is unknown, waiting for an operator.' + ADMIN,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  input: z.strictObject({}),
  adminOnly: true,
  async handler(deps, _input, context) {
    const entries = await deps.deadLetters.list(context.principal.tenant);
    const lines = entries.map((e) => `${e.correlationId}  ${e.tool ?? '?'}${e.orderingKey !== undefined ? `  key=${e.orderingKey}` : ''}  since ${e.deadLetteredAt}`);
    return {
      content: [{ type: 'text', text: entries.length === 0 ? 'No dead letters.' : lines.join('\n') }],
      structuredContent: { dead_letters: entries.map((e) => ({ correlation_id: e.correlationId, tool: e.tool, ordering_key: e.orderingKey, dead_lettered_at: e.deadLetteredAt })) },
    };
  },
});

export const dlqShow = brokerTool({
  definition: {
    name: 'dlq_show',
    title: 'Show a dead letter',
    description: 'Why a call was dead-lettered, its attempts, and what operators did with it.' + ADMIN,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  input: DeadLetterInput,
  adminOnly: true,
  handler: (deps, input, context) => act(input.correlation_id, context, () => deps.deadLetters.show(context.principal.tenant, input.correlation_id)),
});

export const dlqRedrive = brokerTool({
  definition: {
    name: 'dlq_redrive',
    title: 'Redrive a dead letter',
    description: 'Runs a dead-lettered call again with a fresh deadline of the same length; answers with the new outcome.' + ADMIN,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  input: DeadLetterInput,
  adminOnly: true,
  handler: (deps, input, context) => act(input.correlation_id, context, (by) => deps.deadLetters.redrive(context.principal.tenant, input.correlation_id, by)),
});

export const dlqDiscard = brokerTool({
  definition: {
    name: 'dlq_discard',
    title: 'Discard a dead letter',
    description: 'Gives up on a dead-lettered call; calls waiting behind it on its ordering key continue.' + ADMIN,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
  input: z.strictObject({
    correlation_id: DeadLetterId,
    note: z.string({ error: 'must be a string' }).max(500, { error: 'must be at most 500 characters' }).describe('Why, for the audit trail.').optional(),
  }),
  adminOnly: true,
  handler: (deps, input, context) => act(input.correlation_id, context, (by) => deps.deadLetters.discard(context.principal.tenant, input.correlation_id, by, input.note)),
});

/** One dead letter acted on; one that is gone or already settled is the tool's error, not the broker's. */
async function act(correlationId: string, context: CallContext, action: (by: OperatorBy) => Promise<DeadLetterStatus>): Promise<ToolResult> {
  let status: DeadLetterStatus;
  try {
    status = await action({ who: actorOf(context.principal), via: 'mcp' });
  } catch (error) {
    if (error instanceof DeadLetterNotFound || error instanceof DeadLetterNotPending) return errorResult(error.message, { [META.status]: 'not_pending' });
    // The worker's access policy (activities/access.ts): the call's caller lost its right to the tool.
    if (error instanceof RedriveRefused) return errorResult(error.message, { [META.status]: 'access_denied', [META.correlationId]: correlationId });
    throw error;
  }
  return {
    content: [{ type: 'text', text: `Dead letter ${correlationId} (${status.tool}) is ${status.state}: ${status.reason}: ${status.message}` }],
    structuredContent: { correlation_id: correlationId, ...deadLetterSummary(status) },
    _meta: { [META.correlationId]: correlationId },
  };
}
