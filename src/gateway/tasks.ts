// MCP tasks (protocol 2025-11-25) backed by durable calls: the task id is the call's correlation
// id, so a task outlives the session and the gateway that created it, and a call that answered
// "accepted" can be followed as a task too. Everything is read from Temporal on each request.
import { actorOf } from '../audit/arguments.js';
import { RELATED_TASK_META_KEY } from '@modelcontextprotocol/sdk/types.js';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { CallOutcome, ToolResult } from '../shared/envelope.js';
import { CORRELATION_ID } from '../shared/ids.js';
import type { CallView } from '../services/call-service.js';
import type { HandlerDeps } from './handlers.js';
import { BROKER_UNAVAILABLE, INVALID_PARAMS, JsonRpcError } from './jsonrpc.js';
import type { Principal } from './middleware/auth.js';
import { outcomeToResult } from './results.js';

export interface McpTask {
  taskId: string;
  status: 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
  /** How long the result is kept after the task ends: the Temporal namespace retention. */
  ttl: number | null;
  createdAt: string;
  lastUpdatedAt: string;
  pollInterval?: number;
  statusMessage?: string;
}

/** The dev server's namespace retention (1 day); see docs/guarantees.md for real clusters. */
export const TASK_TTL_MS = 86_400_000;
const POLL_INTERVAL_MS = 1_000;

export function newTask(correlationId: string, acceptedAt: number): McpTask {
  const created = new Date(acceptedAt).toISOString();
  return { taskId: correlationId, status: 'working', ttl: TASK_TTL_MS, createdAt: created, lastUpdatedAt: new Date().toISOString(), pollInterval: POLL_INTERVAL_MS };
}

export function taskFromView(view: CallView): McpTask {
  const created = view.startedAt ?? new Date().toISOString();
  const base = { taskId: view.correlationId, ttl: TASK_TTL_MS, createdAt: created, lastUpdatedAt: view.closedAt ?? new Date().toISOString() };
  if (view.outcome === undefined) return { ...base, status: 'working', statusMessage: view.state, pollInterval: POLL_INTERVAL_MS };
  return { ...base, ...terminalStatus(view.outcome) };
}

/**
 * A task as tasks/list shows it: the call's state from visibility, without its result. So a call
 * that completed with an isError result is listed `completed`; tasks/get and tasks/result, which
 * read the outcome, say `failed`. A dead letter that was later redriven is listed `failed`.
 */
export function taskFromListed(view: CallView): McpTask {
  const created = view.startedAt ?? new Date().toISOString();
  const base = { taskId: view.correlationId, ttl: TASK_TTL_MS, createdAt: created, lastUpdatedAt: view.closedAt ?? new Date().toISOString() };
  switch (view.state) {
    case 'admitting':
    case 'queued':
    case 'running':
      return { ...base, status: 'working', statusMessage: view.state, pollInterval: POLL_INTERVAL_MS };
    case 'completed':
      return { ...base, status: 'completed', statusMessage: 'fetch the result with tasks/result' };
    case 'cancelled':
      return { ...base, status: 'cancelled' };
    default:
      return { ...base, status: 'failed', statusMessage: view.state };
  }
}

function terminalStatus(outcome: CallOutcome): Pick<McpTask, 'status' | 'statusMessage'> {
  switch (outcome.status) {
    case 'completed':
      return outcome.result.isError ? { status: 'failed', statusMessage: 'the tool returned an error result' } : { status: 'completed' };
    case 'cancelled':
      return { status: 'cancelled', statusMessage: outcome.message };
    default:
      return { status: 'failed', statusMessage: `${outcome.status}: ${outcome.message}` };
  }
}

export async function getTask(deps: HandlerDeps, principal: Principal, taskId: string): Promise<McpTask> {
  return taskFromView(await viewOf(deps, principal, taskId));
}

/** Blocks until the task is terminal, then answers exactly what tools/call would have. */
export async function taskResult(deps: HandlerDeps, principal: Principal, taskId: string, signal: AbortSignal): Promise<ToolResult> {
  const view = await viewOf(deps, principal, taskId);
  let outcome = view.outcome;
  const handle = deps.calls.handle(principal.tenant, taskId);
  while (outcome === undefined) {
    if (signal.aborted) throw new JsonRpcError(INVALID_PARAMS, 'request cancelled');
    outcome = await guarded(() => deps.calls.waitForOutcome(handle, 60_000, signal));
  }
  const result = outcomeToResult(outcome, taskId, view.tool ?? 'tool');
  return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId } } };
}

export async function listTasks(deps: HandlerDeps, principal: Principal, cursor: string | undefined): Promise<{ tasks: McpTask[]; nextCursor?: string }> {
  let token: Uint8Array | undefined;
  if (cursor !== undefined) {
    token = Buffer.from(cursor, 'base64url');
    if (token.length === 0) throw new JsonRpcError(INVALID_PARAMS, 'Invalid cursor');
  }
  const page = await guarded(() => deps.calls.list(principal.tenant, token));
  return { tasks: page.views.map(taskFromListed), ...(page.nextPageToken ? { nextCursor: Buffer.from(page.nextPageToken).toString('base64url') } : {}) };
}

export async function cancelTask(deps: HandlerDeps, principal: Principal, taskId: string): Promise<McpTask> {
  const view = await viewOf(deps, principal, taskId);
  if (view.outcome !== undefined) throw new JsonRpcError(INVALID_PARAMS, `Task ${taskId} already ended (${taskFromView(view).status}); it cannot be cancelled`);
  await guarded(() => deps.calls.cancel(principal.tenant, taskId, { who: actorOf(principal), via: 'tasks/cancel' }));
  return { ...taskFromView(view), status: 'cancelled', statusMessage: 'cancellation requested', lastUpdatedAt: new Date().toISOString() };
}

/** The call behind a task id, in the principal's tenant: both task wires (this and modern/tasks.ts) read it here. */
export async function viewOf(deps: HandlerDeps, principal: Principal, taskId: string): Promise<CallView> {
  if (typeof taskId !== 'string' || !CORRELATION_ID.test(taskId)) throw new JsonRpcError(INVALID_PARAMS, 'Unknown task id');
  const view = await guarded(() => deps.calls.get(principal.tenant, taskId));
  // Another tenant's task is indistinguishable from a missing one.
  if (view === undefined) throw new JsonRpcError(INVALID_PARAMS, `Unknown task id: ${taskId}`);
  return view;
}

/** Temporal's failures as the task methods answer them. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof JsonRpcError) throw error;
    if (error instanceof WorkflowNotFoundError) throw new JsonRpcError(INVALID_PARAMS, 'Unknown task id');
    if (error instanceof Error && /invalid.*(token|page)/i.test(error.message)) throw new JsonRpcError(INVALID_PARAMS, 'Invalid cursor');
    throw new JsonRpcError(BROKER_UNAVAILABLE, 'Switchyard could not reach Temporal; retry later.');
  }
}
