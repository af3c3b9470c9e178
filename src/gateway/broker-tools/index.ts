// The broker's own tools, listed beside the downstream tools under the "switchyard" prefix: a
// registry of {definition, input schema, handler}. The listing's inputSchema is the schema's JSON
// Schema; a call's arguments are parsed by the same schema before its handler runs.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { actorOf } from '../../audit/arguments.js';
import { parseInput, toInputSchema } from '../arguments.js';
import { META } from '../envelope.js';
import { toJsonRpcError } from '../errors.js';
import type { CallContext, CallToolAnswer, HandlerDeps } from '../handlers.js';
import { INVALID_PARAMS, JsonRpcError, printable } from '../jsonrpc.js';
import { errorResult } from '../results.js';
import { brokerToolName } from '../tool-names.js';
import { auditList } from './audit.js';
import { cancelCall, getCall, submit } from './calls.js';
import { dlqDiscard, dlqList, dlqRedrive, dlqShow } from './dead-letters.js';
import { getSaga, runSaga, sagaAbort, sagaCommit } from './sagas.js';
import type { BrokerTool } from './tool.js';

/** In listing order. */
const REGISTRY: readonly BrokerTool[] = [submit, getCall, cancelCall, runSaga, sagaCommit, sagaAbort, getSaga, dlqList, dlqShow, dlqRedrive, dlqDiscard, auditList];

const BY_NAME = new Map(REGISTRY.map((tool) => [tool.definition.name, tool]));

/** The listings, short names (the catalog adds the prefix). */
export const BROKER_TOOLS: Tool[] = REGISTRY.map((tool) => ({ ...tool.definition, inputSchema: toInputSchema(tool.input) }));

/** Runs the broker tool `name` (its short name, as the catalog's brokerTool() gives it). */
export async function callBrokerTool(deps: HandlerDeps, name: string, args: Record<string, unknown>, context: CallContext): Promise<CallToolAnswer> {
  const tool = BY_NAME.get(name);
  if (tool === undefined) throw new JsonRpcError(INVALID_PARAMS, `Unknown tool: ${printable(name)}`);
  if (tool.adminOnly === true && !context.principal.admin) {
    deps.audit?.recordRefusal({ tenant: context.principal.tenant, who: actorOf(context.principal), reason: 'forbidden', message: `${name} needs an admin key`, method: 'tools/call', tool: brokerToolName(name, deps.catalog.naming) });
    return errorResult(`${name} needs an admin API key of this tenant (tenants[].adminApiKeys).`, { [META.status]: 'forbidden' });
  }
  const publicName = brokerToolName(name, deps.catalog.naming);
  const input: unknown = parseInput(tool.input, args, { tool: publicName });
  try {
    return await tool.handler(deps, input, context);
  } catch (error) {
    throw toJsonRpcError(error, deps, {
      doing: `run ${publicName}`,
      unavailable: tool.unavailable ?? 'Switchyard could not reach Temporal; retry later.',
      context: { tool: publicName, tenant: context.principal.tenant },
    });
  }
}
