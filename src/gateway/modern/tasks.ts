// The Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) for 2026-07-28 clients, backed
// by durable calls: the task id is the call's correlation id, and `tasks/get` reads the call from
// Temporal, so a task survives its client, the gateway that created it, and any restart. The
// 2025-11-25 tasks of the legacy leg are in ../tasks.ts; both read the same calls.
//
// When a call becomes a task (only for a request that lists the extension):
// - at once, when the downstream tool declares `execution.taskSupport` `optional` or `required`
//   (the server says the tool is long-running), or when the call asks `accept_async`;
// - otherwise when it outlives the wait (`defaults.syncWaitMs`), instead of the "accepted" text.
// A tool whose server declares `required` is refused to a request that does not list the
// extension (-32021), as the downstream server would refuse it.
//
// Status: `working` (statusMessage: admitting, queued or running); `completed` with the tools/call
// result inline, tool errors (`isError`) included, and so are the broker's own refusals at the
// end of a call (deadline, dead letter), exactly as tools/call returns them; `failed` only for a
// downstream JSON-RPC error, carried as `error`; `cancelled`. Tasks are scoped to the tenant, like
// get_call: another tenant's task id is as unknown as a random one (-32602).
import { actorOf } from '../../audit/arguments.js';
import { CLIENT_CAPABILITIES_META_KEY, type ServerContext } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { CallView } from '../../services/call-service.js';
import type { HandlerDeps } from '../handlers.js';
import { JsonRpcError, MISSING_REQUIRED_CLIENT_CAPABILITY } from '../jsonrpc.js';
import type { Principal } from '../middleware/auth.js';
import { outcomeToResult } from '../results.js';
import { answerInput } from '../input.js';
import { guarded, TASK_TTL_MS, viewOf, type McpTask } from '../tasks.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
const POLL_INTERVAL_MS = 1_000;

/** The wire form of a task: SEP-2663 renames the 2025 `ttl`/`pollInterval` and flattens it. */
export interface ExtensionTask {
  taskId: string;
  status: McpTask['status'];
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number | null;
  pollIntervalMs?: number;
}

export type DetailedTask = ExtensionTask & { result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown }; inputRequests?: Record<string, unknown> };

export const TaskIdParams = z.looseObject({ taskId: z.string() });
export const UpdateTaskParams = z.looseObject({ taskId: z.string(), inputResponses: z.record(z.string(), z.unknown()).optional() });

/** Whether this request lists the extension in its own client capabilities. */
export function declaresTasks(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const capabilities = envelope?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
  return capabilities?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/** `what` names what needs the extension: a tasks/* method, or a tool that runs only as a task. */
export function missingTasksCapability(what: string): JsonRpcError {
  return new JsonRpcError(MISSING_REQUIRED_CLIENT_CAPABILITY, `Missing required client capability: ${what} needs the ${TASKS_EXTENSION} extension in the request's client capabilities`, {
    requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  });
}

/** The CreateTaskResult for a call that is durably accepted (its workflow answers tasks/get). */
export function createTaskResult(correlationId: string, acceptedAt: number): ExtensionTask & { resultType: 'task' } {
  const now = new Date().toISOString();
  return {
    resultType: 'task',
    taskId: correlationId,
    status: 'working',
    createdAt: new Date(acceptedAt).toISOString(),
    lastUpdatedAt: now,
    ttlMs: TASK_TTL_MS,
    pollIntervalMs: POLL_INTERVAL_MS,
  };
}

export async function getTask(deps: HandlerDeps, principal: Principal, taskId: string): Promise<DetailedTask> {
  return detailedTask(await viewOf(deps, principal, taskId));
}

/** Cancellation is acknowledged empty, also for a task that already ended (the spec's idempotent ack). */
export async function cancelTask(deps: HandlerDeps, principal: Principal, taskId: string): Promise<Record<string, never>> {
  const view = await viewOf(deps, principal, taskId);
  if (view.outcome === undefined) await guarded(() => deps.calls.cancel(principal.tenant, taskId, { who: actorOf(principal), via: 'tasks/cancel' }));
  return {};
}

/**
 * Input responses for a task in `input_required`, given to its call's current round (any subset
 * of the keys; the task stays `input_required` until every one is answered). Responses to keys
 * that are not outstanding are ignored, as the spec says; so is an update to a task that is not
 * waiting for input. Acknowledged empty either way.
 */
export async function updateTask(deps: HandlerDeps, principal: Principal, taskId: string, responses: Record<string, unknown>): Promise<Record<string, never>> {
  const view = await viewOf(deps, principal, taskId);
  if (view.state === 'input_required' && Object.keys(responses).length > 0) await guarded(() => answerInput(deps, principal, taskId, undefined, responses, 0));
  return {};
}

export function detailedTask(view: CallView): DetailedTask {
  const base = {
    taskId: view.correlationId,
    createdAt: view.startedAt ?? new Date().toISOString(),
    lastUpdatedAt: view.closedAt ?? new Date().toISOString(),
    ttlMs: TASK_TTL_MS,
  };
  const outcome = view.outcome;
  if (outcome === undefined && view.state === 'input_required' && view.input !== undefined) {
    return { ...base, status: 'input_required', statusMessage: 'waiting for input from the client', inputRequests: view.input.requests, pollIntervalMs: POLL_INTERVAL_MS };
  }
  if (outcome === undefined) return { ...base, status: 'working', statusMessage: view.state, pollIntervalMs: POLL_INTERVAL_MS };
  if (outcome.status === 'cancelled') return { ...base, status: 'cancelled', statusMessage: outcome.message };
  try {
    const result = outcomeToResult(outcome, view.correlationId, view.tool ?? 'tool');
    return { ...base, status: 'completed', result: result as Record<string, unknown> };
  } catch (error) {
    // A downstream JSON-RPC error: the one case the spec calls `failed`.
    if (!(error instanceof JsonRpcError)) throw error;
    return { ...base, status: 'failed', error: { code: error.code, message: error.message, ...(error.data !== undefined ? { data: error.data } : {}) } };
  }
}
