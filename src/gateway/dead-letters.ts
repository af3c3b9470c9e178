// The dead-letter admin broker tools (switchyard.dlq_*): MCP arguments in, the dead-letter service
// (src/services/dead-letters.ts) called for the caller's tenant, MCP results out.
import type { DeadLetterStatus, ToolResult } from '../shared/envelope.js';
import { CORRELATION_ID } from '../shared/ids.js';
import { DeadLetterNotFound, DeadLetterNotPending, deadLetterSummary } from '../services/dead-letters.js';
import type { CallContext, HandlerDeps } from './handlers.js';
import { BROKER_UNAVAILABLE, INVALID_PARAMS, JsonRpcError } from './jsonrpc.js';
import { errorResult } from './results.js';

/** switchyard.dlq_list / dlq_show / dlq_redrive / dlq_discard: tenant admins only. */
export async function deadLetterTool(deps: HandlerDeps, name: string, args: Record<string, unknown>, context: CallContext): Promise<ToolResult> {
  const { principal } = context;
  if (!principal.admin) {
    return errorResult(`${name} needs an admin API key of this tenant (tenants[].adminApiKeys).`, { 'switchyard/status': 'forbidden' });
  }
  try {
    if (name === 'dlq_list') {
      const entries = await deps.deadLetters.list(principal.tenant);
      const lines = entries.map((e) => `${e.correlationId}  ${e.tool ?? '?'}${e.orderingKey !== undefined ? `  key=${e.orderingKey}` : ''}  since ${e.deadLetteredAt}`);
      return {
        content: [{ type: 'text', text: entries.length === 0 ? 'No dead letters.' : lines.join('\n') }],
        structuredContent: { dead_letters: entries.map((e) => ({ correlation_id: e.correlationId, tool: e.tool, ordering_key: e.orderingKey, dead_lettered_at: e.deadLetteredAt })) },
      };
    }
    const correlationId = args.correlation_id;
    if (typeof correlationId !== 'string' || !CORRELATION_ID.test(correlationId)) {
      throw new JsonRpcError(INVALID_PARAMS, 'correlation_id must be the UUID of a dead-lettered call (see dlq_list)');
    }
    const by = `${principal.subject} via mcp`;
    let status: DeadLetterStatus;
    if (name === 'dlq_show') status = await deps.deadLetters.show(principal.tenant, correlationId);
    else if (name === 'dlq_redrive') status = await deps.deadLetters.redrive(principal.tenant, correlationId, by);
    else if (name === 'dlq_discard') status = await deps.deadLetters.discard(principal.tenant, correlationId, by, typeof args.note === 'string' ? args.note.slice(0, 500) : undefined);
    else throw new JsonRpcError(INVALID_PARAMS, `Unknown tool: ${name}`);
    return {
      content: [{ type: 'text', text: `Dead letter ${correlationId} (${status.tool}) is ${status.state}: ${status.reason}: ${status.message}` }],
      structuredContent: { correlation_id: correlationId, ...deadLetterSummary(status) },
      _meta: { 'switchyard/correlation_id': correlationId },
    };
  } catch (error) {
    if (error instanceof JsonRpcError) throw error;
    if (error instanceof DeadLetterNotFound || error instanceof DeadLetterNotPending) return errorResult(error.message, { 'switchyard/status': 'not_pending' });
    deps.log.error('dead-letter tool failed', { tool: name, error: String(error) });
    throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not reach Temporal; retry later.');
  }
}
