// The front door for MCP 2026-07-28 clients: no initialize and no session. Every request carries
// its protocol version, client capabilities and log level in `_meta`, and is served by a fresh
// SDK v2 `Server` built here (createMcpHandler calls the factory once per HTTP request), so any
// gateway can serve any request. The SDK checks the envelope, the Mcp-Method/Mcp-Name headers and
// the version, adds `resultType`, the server identity and the cache hints, and answers
// `server/discover`; the broker's handlers are the same ones the legacy leg uses (handlers.ts,
// passthrough.ts).
//
// What a 2026-07-28 client gets differently, and why:
// - A dropped response stream stops the gateway waiting but does not cancel the durable call:
//   Switchyard's promise since the first release (docs/guarantees.md). The spec reads a closed
//   stream as a cancellation; the reconciliation (orphan, then cancel after a grace period) is in
//   docs/front-door-design.md, section 4, and not built yet.
// - `ordering: session` has no session to key on, so such a tool's calls are unordered.
// - Log messages relayed with a call are sent only at or above the request's own
//   `io.modelcontextprotocol/logLevel`, and none without it (the spec's MUST).
// - List change notifications (tools, prompts, resources) reach clients through
//   `subscriptions/listen` on the gateway that holds the stream; resource updates for a URI are
//   not relayed over `subscriptions/listen` yet.
import {
  CLIENT_CAPABILITIES_META_KEY,
  createMcpHandler,
  inputRequired,
  LOG_LEVEL_META_KEY,
  Server,
  type CallToolResult,
  type McpHttpHandler,
  type ServerContext,
  type RequestStateCodec,
  type ServerNotification,
} from '@modelcontextprotocol/server';
import type { InputWanted } from '../../shared/envelope.js';
import { answerInput, brokerStateCodec, isInputAnswer, relayableCapabilities, type BrokerRequestState } from '../input.js';
import { acceptedResult, outcomeToResult } from '../results.js';
import { BROKER_PREFIX } from '../tool-names.js';
import { authInfoOf, principalOf, type PrincipalAuthInfo } from '../auth-info.js';
import { callTool, listTools, type CallToolAnswer, type HandlerDeps } from '../handlers.js';
import { INSTRUCTIONS, SERVER_INFO } from '../identity.js';
import { INTERNAL_ERROR, INVALID_PARAMS, JsonRpcError, printable, RESOURCE_NOT_FOUND, type JsonRpcId } from '../jsonrpc.js';
import type { Principal } from '../middleware/auth.js';
import { levelAtLeast, type RequestIo } from '../passthrough.js';
import { META } from '../envelope.js';
import type { McpTask } from '../tasks.js';
import { HEADER_MISMATCH, paramHeaderProblem } from './param-headers.js';
import { cancelTask, createTaskResult, declaresTasks, getTask, missingTasksCapability, TASKS_EXTENSION, TaskIdParams, UpdateTaskParams, updateTask } from './tasks.js';

export interface ModernFrontDoor {
  /** Serves one 2026-07-28 request (isLegacyRequest said false) for an authenticated principal. */
  fetch(request: Request, principal: Principal, parsedBody: unknown): Promise<Response>;
  /** Tells open `subscriptions/listen` streams on this gateway that the tool list changed. */
  toolsChanged(): void;
  close(): Promise<void>;
}

export function createModernFrontDoor(deps: HandlerDeps): ModernFrontDoor {
  // A requestState lasts as long as the longest deadline any call can have.
  const longest = Math.max(deps.config.defaults.maxDeadlineMs, ...deps.config.servers.map((s) => s.policy.maxDeadlineMs ?? 0));
  const states = brokerStateCodec(deps.config.gateway.sessions.key, longest);
  const handler: McpHttpHandler = createMcpHandler(() => buildServer(deps, states), {
    legacy: 'reject',
    onerror: (error) => deps.log.debug('2026-07-28 request refused or failed', { error: error.message }),
  });
  // Prompt and resource listings change when a downstream server says so (passthrough.ts).
  const unwatch = deps.passthrough?.onListChanged((kind) => (kind === 'prompts' ? handler.notify.promptsChanged() : handler.notify.resourcesChanged()));
  return {
    fetch: (request, principal, parsedBody) => {
      const refused = paramHeadersRefusal(deps, request, parsedBody);
      return refused !== undefined ? Promise.resolve(refused) : handler.fetch(request, { authInfo: authInfoOf(principal), parsedBody });
    },
    toolsChanged: () => handler.notify.toolsChanged(),
    close: () => {
      unwatch?.();
      return handler.close();
    },
  };
}

/** A tools/call whose SEP-2243 `Mcp-Param-*` headers disagree with its arguments: 400, -32020 (param-headers.ts). */
function paramHeadersRefusal(deps: HandlerDeps, request: Request, body: unknown): Response | undefined {
  const message = body as { id?: JsonRpcId; method?: unknown; params?: { name?: unknown; arguments?: unknown } } | undefined;
  if (message?.method !== 'tools/call' || typeof message.params?.name !== 'string') return undefined;
  const tool = deps.catalog.resolve(message.params.name);
  const problem = tool && paramHeaderProblem(tool.definition.inputSchema, message.params.arguments, request.headers);
  if (problem === undefined) return undefined;
  return new Response(
    JSON.stringify({ jsonrpc: '2.0', id: message.id ?? null, error: { code: HEADER_MISMATCH, message: `Bad Request: the request headers and body disagree: ${problem.message}`, data: { mismatch: { header: problem.header } } } }),
    { status: 400, headers: { 'content-type': 'application/json' } },
  );
}

function buildServer(deps: HandlerDeps, states: RequestStateCodec<BrokerRequestState>): Server {
  const passthrough = deps.passthrough?.capabilities() ?? {};
  const cache = { ttlMs: deps.config.gateway.listTtlMs, cacheScope: 'private' as const };
  const server = new Server(SERVER_INFO, {
    // The pass-through's capabilities are typed by SDK v1; the wire shape is the same.
    capabilities: { tools: { listChanged: true }, ...(passthrough as object), extensions: { [TASKS_EXTENSION]: {} } },
    instructions: INSTRUCTIONS,
    // Every requestState a client holds is the broker's own (input.ts): anything else is -32602.
    requestState: { verify: (state, ctx) => states.verify(state, ctx) },
    // Lists differ by tenant: never cacheable by a shared cache.
    cacheHints: {
      'tools/list': cache,
      'prompts/list': cache,
      'resources/list': cache,
      'resources/templates/list': cache,
      'resources/read': { ttlMs: 0, cacheScope: 'private' },
      'server/discover': cache,
    },
  });
  server.setRequestHandler('tools/list', (request, ctx) =>
    guard(deps, 'tools/list', () => listTools(deps, request.params?.cursor, principalOf(ctx.http?.authInfo as PrincipalAuthInfo | undefined)) as never),
  );
  server.setRequestHandler('tools/call', (request, ctx) =>
    guard(deps, 'tools/call', async () => {
      const io = requestIo(ctx);
      const progressToken = ctx.mcpReq._meta?.progressToken;
      let progressSent: number | undefined;
      const tasks = declaresTasks(ctx);
      const resolved = deps.catalog.resolve(request.params.name);
      const server = resolved && deps.config.servers.find((s) => s.id === resolved.serverId);
      const taskSupport = (resolved && server && (server.toolPolicies[resolved.tool]?.taskSupport ?? server.policy.taskSupport)) ?? resolved?.definition.execution?.taskSupport;
      if (taskSupport === 'required' && !tasks) throw missingTasksCapability(`${printable(request.params.name)}, a tool that runs only as a task,`);
      const principal = principalOf(ctx.http?.authInfo as PrincipalAuthInfo | undefined);
      const asInput = async (input: InputWanted, correlationId: string) =>
        inputRequired({ inputRequests: input.requests as never, requestState: await states.mint({ c: correlationId, r: input.round, n: request.params.name }, ctx) }) as never;
      const state = ctx.mcpReq.requestState<BrokerRequestState>();
      if (state !== undefined) {
        // A retry with answers: they go to the call's round, from whichever gateway this is.
        if (typeof state !== 'object' || state.k !== undefined || state.n !== request.params.name) throw new JsonRpcError(INVALID_PARAMS, 'requestState belongs to another tool call');
        const asTask = tasks && taskSupport !== undefined && taskSupport !== 'forbidden';
        const reply = await answerInput(deps, principal, state.c, state.r, ctx.mcpReq.inputResponses ?? {}, asTask ? 0 : deps.config.defaults.syncWaitMs);
        if (reply === undefined) {
          const view = await deps.calls.get(principal.tenant, state.c);
          if (view?.outcome === undefined) throw new JsonRpcError(INVALID_PARAMS, 'requestState names a call that no longer exists');
          return outcomeToResult(view.outcome, state.c, request.params.name) as CallToolResult;
        }
        if (reply.outcome !== undefined) return outcomeToResult(reply.outcome, state.c, request.params.name) as CallToolResult;
        if (reply.input !== undefined) return asInput({ status: 'input_required', ...reply.input }, state.c);
        if (tasks) return createTaskResult(state.c, Date.now()) as never;
        return acceptedResult(state.c, request.params.name, `${BROKER_PREFIX}${deps.config.gateway.toolSeparator}`, false) as CallToolResult;
      }
      const responses = ctx.mcpReq.inputResponses;
      const clientCapabilities = relayableCapabilities((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as Record<string, unknown> | undefined);
      const acceptedAt = Date.now();
      const asRequiredTask = tasks && taskSupport === 'required';
      let result: CallToolAnswer;
      try {
      result = await callTool(deps, request.params, {
        principal,
        // A long-running tool (its server declares task support) is a task at once. One that
        // requires tasks waits for its server's first answer: input asked then is gathered
        // before the task exists (SEP-2663's MRTR-then-task composition).
        ...(tasks && taskSupport === 'optional' ? { task: {} } : {}),
        ...(asRequiredTask ? { asTask: true } : {}),
        ...(responses !== undefined && Object.keys(responses).length > 0 ? { input: { responses } } : {}),
        ...(clientCapabilities !== undefined ? { clientCapabilities } : {}),
        headers: headersOf(ctx.http?.req),
        signal: ctx.mcpReq.signal,
        // A closed stream is not taken as a cancel (see the header); 2026-07-28 has no other.
        cancelledByClient: () => false,
        ...(progressToken !== undefined
          ? {
              sendProgress: (progress) => {
                progressSent = progress.progress;
                return io.notify({ method: 'notifications/progress', params: { progressToken, ...progress } });
              },
            }
          : {}),
      });
      } catch (error) {
        // A tool that runs only as a task reports even a protocol error through the task.
        const id = error instanceof JsonRpcError ? (error.data as Record<string, unknown> | undefined)?.[META.correlationId] : undefined;
        if (asRequiredTask && typeof id === 'string') return createTaskResult(id, acceptedAt) as never;
        throw error;
      }
      const task = (result as { task?: McpTask }).task;
      if (task !== undefined) return createTaskResult(task.taskId, Date.parse(task.createdAt)) as never;
      if (isInputAnswer(result)) return asInput(result.input, result.correlationId);
      // A call that outlived the wait is followed as a task, rather than by the "accepted" text;
      // so is any call of a tool that requires tasks.
      const correlationId = result._meta?.[META.correlationId];
      const followed = result._meta?.[META.status] === 'accepted' || asRequiredTask;
      if (tasks && followed && typeof correlationId === 'string') return createTaskResult(correlationId, acceptedAt) as never;
      await deps.passthrough?.relayCall(result, io.notify, io.wantsLog, { token: progressToken, sent: progressSent });
      return result as CallToolResult;
    }),
  );
  // The Tasks extension's methods; a request that does not list the extension gets -32021.
  const taskMethod = <T>(method: string, run: (principal: Principal, taskId: string, responses: Record<string, unknown>) => Promise<T>) =>
    server.setRequestHandler(method, { params: method === 'tasks/update' ? UpdateTaskParams : TaskIdParams }, (params, ctx) =>
      guard(deps, method, () => {
        if (!declaresTasks(ctx)) throw missingTasksCapability(method);
        // The SDK lifts `inputResponses` out of the params it hands over (as for a retried call).
        const responses = ((params as { inputResponses?: Record<string, unknown> }).inputResponses ?? ctx.mcpReq.inputResponses ?? {}) as Record<string, unknown>;
        return run(principalOf(ctx.http?.authInfo as PrincipalAuthInfo | undefined), params.taskId, responses) as never;
      }),
    );
  taskMethod('tasks/get', (principal, taskId) => getTask(deps, principal, taskId));
  taskMethod('tasks/update', (principal, taskId, responses) => updateTask(deps, principal, taskId, responses));
  taskMethod('tasks/cancel', (principal, taskId) => cancelTask(deps, principal, taskId));
  const relay = deps.passthrough;
  if (relay !== undefined) {
    // Results are the downstream servers' own, typed by the SDK v1 schemas the pass-through reads
    // with. A missing resource is -32602 in 2026-07-28 (SEP-2164), -32002 in 2025.
    const as = (value: Promise<unknown>, uri?: string) =>
      value.catch((error: unknown) => {
        if (error instanceof JsonRpcError && error.code === RESOURCE_NOT_FOUND) throw new JsonRpcError(INVALID_PARAMS, error.message, { ...(error.data as object | undefined), ...(uri !== undefined ? { uri } : {}) });
        throw error;
      }) as Promise<never>;
    if (passthrough.resources) {
      server.setRequestHandler('resources/list', (request, ctx) => as(relay.listResources(request.params?.cursor, requestIo(ctx))));
      server.setRequestHandler('resources/templates/list', (request, ctx) => as(relay.listResourceTemplates(request.params?.cursor, requestIo(ctx))));
      server.setRequestHandler('resources/read', (request, ctx) => as(relay.readResource(request.params, requestIo(ctx)), request.params.uri));
    }
    if (passthrough.prompts) {
      server.setRequestHandler('prompts/list', (request, ctx) => as(relay.listPrompts(request.params?.cursor, requestIo(ctx))));
      // A server that asks for input first (2026-07-28): its question goes to the client with a
      // state of the broker's wrapping the server's, and the retry takes it back (not durable:
      // a prompt is no call).
      server.setRequestHandler('prompts/get', async (request, ctx) => {
        const state = ctx.mcpReq.requestState<BrokerRequestState>();
        if (state !== undefined && (typeof state !== 'object' || state.k !== 'prompt' || state.n !== request.params.name)) {
          throw new JsonRpcError(INVALID_PARAMS, 'requestState belongs to another request');
        }
        const clientCapabilities = relayableCapabilities((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as Record<string, unknown> | undefined);
        const input = {
          responses: (ctx.mcpReq.inputResponses ?? {}) as Record<string, unknown>,
          ...(state?.d !== undefined ? { requestState: state.d } : {}),
          ...(clientCapabilities !== undefined ? { clientCapabilities } : {}),
        };
        const result = (await as(relay.getPrompt(request.params as never, requestIo(ctx), input))) as Record<string, unknown>;
        if (result.resultType !== 'input_required') return result as never;
        const downstream = typeof result.requestState === 'string' ? { d: result.requestState } : {};
        return inputRequired({ inputRequests: result.inputRequests as never, requestState: await states.mint({ k: 'prompt', n: request.params.name, ...downstream }, ctx) }) as never;
      });
    }
    if (passthrough.completions) {
      server.setRequestHandler('completion/complete', (request, ctx) => as(relay.complete(request.params as never, requestIo(ctx))));
    }
  }
  return server;
}

/** One request's notifications go back on its own response stream, logs at its own level only. */
function requestIo(ctx: ServerContext): RequestIo {
  const level = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[LOG_LEVEL_META_KEY];
  return {
    principal: principalOf(ctx.http?.authInfo as PrincipalAuthInfo | undefined),
    signal: ctx.mcpReq.signal,
    notify: (notification: ServerNotification | { method: string; params?: unknown }) => ctx.mcpReq.notify(notification as never),
    wantsLog: typeof level === 'string' ? (messageLevel) => levelAtLeast(messageLevel, level) : () => false,
  };
}

function headersOf(request: Request | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  request?.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

/** Expected errors pass through; anything else is logged and answered as a bare internal error. */
async function guard<T>(deps: HandlerDeps, method: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof JsonRpcError) throw error;
    deps.log.error('handler failed', { method, error: error instanceof Error ? error.message : String(error) });
    throw new JsonRpcError(INTERNAL_ERROR, 'Internal error');
  }
}
