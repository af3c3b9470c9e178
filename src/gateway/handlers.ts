// The MCP request handlers for tools: tools/list from the catalog; tools/call either as a durable
// call (submit.ts) or as one of the broker's own tools (broker-tools/). Both MCP front doors call
// these, so their signatures stay put.
import type { CallToolRequest } from '@modelcontextprotocol/sdk/types.js';
import type { CallProgress } from '../activities/call-tool.js';
import type { AuditSink } from '../audit/sink.js';
import type { AuditStore } from '../audit/store.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { callerContext, traceToolCall } from '../observability/tracing.js';
import type { ToolResult } from '../shared/envelope.js';
import type { CallService } from '../services/call-service.js';
import type { DeadLetterService } from '../services/dead-letters.js';
import type { SagaService } from '../services/sagas.js';
import { callBrokerTool } from './broker-tools/index.js';
import type { GatewayAccess } from './access.js';
import { InvalidCursorError, type CatalogEntry, type ToolCatalog } from './catalog.js';
import { INVALID_PARAMS, JsonRpcError, METHOD_NOT_FOUND } from './jsonrpc.js';
import type { Principal } from './middleware/auth.js';
import type { Passthrough } from './passthrough.js';
import type { InputAnswer } from './input.js';
import { submitAndWait } from './submit.js';
import type { McpTask } from './tasks.js';

export interface HandlerDeps {
  config: Config;
  /** The RBAC policy (auth.policy) and the one refusal path; unset in tests of tools alone: everything allowed. */
  access?: GatewayAccess;
  catalog: ToolCatalog;
  calls: CallService;
  deadLetters: DeadLetterService;
  sagas: SagaService;
  log: Logger;
  now?: () => number;
  /** Where refusals and operator actions go (the audit log); unset when the log is off. */
  audit?: AuditSink;
  /** The audit log itself, for the tenant admin's audit_list tool. */
  auditStore?: AuditStore;
  /** Resources, prompts, completions and logging of the downstream servers; unset in tests of tools alone. */
  passthrough?: Passthrough;
}

export interface CallContext {
  principal: Principal;
  headers: Record<string, string | string[] | undefined>;
  signal: AbortSignal;
  /** True once the client sent notifications/cancelled for this request (not a dropped connection). */
  cancelledByClient?: () => boolean;
  /** The MCP session (for `ordering: session`). */
  sessionId?: string;
  /** Set when the client asked for a task (MCP 2025-11-25): answer with the task, not the result. */
  task?: { ttl?: number | null };
  /** Set when the client sent a progressToken: downstream progress is relayed through this. */
  sendProgress?: (progress: CallProgress) => Promise<void>;
  /** Answers the client sent with a first request (2026-07-28 `inputResponses` without a requestState): passed to the server as they are. */
  input?: { responses: Record<string, unknown> };
  /** A fast-path call followed as a task whatever happens (2026-07-28 tools that require tasks): its end is recorded. */
  asTask?: boolean;
  /** What the client can answer input requests with (see input.ts). */
  clientCapabilities?: Record<string, unknown>;
}

/** A result, a task (the client asked for one), or input the call waits for (input.ts). */
export type CallToolAnswer = ToolResult | { task: McpTask; _meta?: Record<string, unknown> } | (InputAnswer & { _meta?: Record<string, unknown> });

/** tools/list: what the caller may use (auth.policy), a page at a time. */
export function listTools(deps: HandlerDeps, cursor: string | undefined, principal: Principal) {
  const access = deps.access;
  let visible: ((entry: CatalogEntry) => boolean) | undefined;
  if (access?.enabled === true) {
    const rights = access.rightsOf(principal);
    visible = (entry) => rights.allows('broker' in entry ? { kind: 'broker', name: entry.broker } : access.toolTarget(entry.serverId, entry.tool, entry.definition.annotations));
  }
  try {
    return deps.catalog.page(cursor, visible);
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new JsonRpcError(INVALID_PARAMS, 'Invalid cursor');
    throw error;
  }
}

export async function callTool(deps: HandlerDeps, params: CallToolRequest['params'], context: CallContext): Promise<CallToolAnswer> {
  const meta = (params._meta as Record<string, unknown> | undefined) ?? {};
  const span = { tool: params.name, tenant: context.principal.tenant, ...(context.sessionId !== undefined ? { sessionId: context.sessionId } : {}) };
  return traceToolCall(span, callerContext(context.headers, meta), () => callToolTraced(deps, params, meta, context));
}

async function callToolTraced(deps: HandlerDeps, params: CallToolRequest['params'], meta: Record<string, unknown>, context: CallContext): Promise<CallToolAnswer> {
  const broker = deps.catalog.brokerTool(params.name);
  if (broker !== undefined) {
    deps.access?.check(context.principal, { kind: 'broker', name: broker }, 'tools/call', params.name);
    if (context.task !== undefined) throw new JsonRpcError(METHOD_NOT_FOUND, `${params.name} does not support tasks`);
    return callBrokerTool(deps, broker, params.arguments ?? {}, context);
  }
  return submitAndWait(deps, params.name, params.arguments ?? {}, meta, context);
}
