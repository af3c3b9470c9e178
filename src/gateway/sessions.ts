// MCP sessions of the front door (2025 clients). One low-level MCP Server + Streamable HTTP
// transport per session (an SDK protocol object serves one transport). A session belongs to the
// tenant that opened it; another tenant's request with that id gets the same 404 as an unknown id.
//
// Session ids are sealed (session-seal.ts): they carry their tenant, signed. A gateway that gets a
// request of a session it does not hold (another gateway opened it, or this one restarted) serves
// it with a one-request Server and a stateless transport, so no sticky routing is needed for
// requests. What only the holding gateway has: the GET stream (notifications; others answer
// 405), the session's logging/setLevel, its resource subscriptions, and the requests in flight
// there, so a notifications/cancelled must reach the gateway running the call.
//
// Sessions cost gateway memory until they end or idle out, so they are capped per tenant
// (gateway.sessions.maxPerTenant) and in total (gateway.sessions.max): one tenant opening sessions
// in a loop runs into its own cap and leaves room for the others.
import { randomBytes } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  CallToolRequestSchema,
  CancelTaskRequestSchema,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  ListTasksRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { CreateMessageResultSchema, ElicitResultSchema, ListRootsResultSchema, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { callTool, listTools, type HandlerDeps } from './handlers.js';
import { relayableCapabilities, relayToLegacy } from './input.js';
import { cancelTask, getTask, listTasks, taskResult } from './tasks.js';
import { INTERNAL_ERROR, INVALID_PARAMS, JsonRpcError, jsonRpcErrorResponse, REQUEST_REFUSED, SESSION_NOT_FOUND } from './jsonrpc.js';
import { paramsProblem } from './request-shape.js';
import type { Principal } from './middleware/auth.js';
import { authInfoOf, principalOf } from './auth-info.js';
import { INSTRUCTIONS, SERVER_INFO } from './identity.js';
import { ownerDigest, SessionSeal } from './session-seal.js';
import { callSignal } from './call-signal.js';

/** How a 2025 client's answer to each relayed input request is read. */
const INPUT_RESULT_SCHEMAS = {
  'elicitation/create': ElicitResultSchema,
  'sampling/createMessage': CreateMessageResultSchema,
  'roots/list': ListRootsResultSchema,
};

interface Session {
  tenant: string;
  /** ownerDigest() of the subject that opened it: another principal of the tenant gets a 404 too. */
  owner: string;
  /** Set once its slot under the caps is given back, so a session that ends twice counts once. */
  released: boolean;
  server: Server;
  transport: WebStandardStreamableHTTPServerTransport;
  lastSeen: number;
  /** tools/call requests in flight, and whether the client cancelled each with notifications/cancelled. */
  inFlight: InFlightCalls;
}

/**
 * tools/call requests in flight, by JSON-RPC id. `stop` aborts the call's wait: the SDK aborts a
 * handler on notifications/cancelled only when both arrive on the same transport, which a
 * visited session's requests (one transport each) never do.
 */
type InFlightCalls = Map<string | number, { cancelledByClient: boolean; stop: () => void }>;

/** gateway.sessions in the config. */
export interface SessionOptions {
  /** A session without a request for this long is closed. */
  idleTimeoutMs: number;
  /** Sessions open at once, all tenants together. */
  max: number;
  /** Sessions one tenant may have open at once. */
  maxPerTenant: number;
  /** Signs session ids; unset: a random key, so only this gateway serves its sessions. */
  key?: string;
  /** A session id is refused this long after its initialize. */
  maxAgeMs: number;
}

/** Sessions ended on this gateway, remembered until their ids expire anyway (at most this many). */
const MAX_ENDED = 100_000;

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  /** Sessions open or being opened, per tenant and in total: an initialize takes its slot before it is handled. */
  private readonly slots = new Map<string, number>();
  private slotsTotal = 0;
  private readonly sweeper: NodeJS.Timeout;
  private readonly seal: SessionSeal;
  /** Ids of sessions that ended here (DELETE, idle), refused by this gateway until they expire. */
  private readonly ended = new Map<string, number>();
  /** Requests in flight of sessions this gateway serves without holding them, for notifications/cancelled. */
  private readonly visiting = new Map<string, { calls: InFlightCalls; visits: number }>();

  constructor(
    private readonly deps: HandlerDeps,
    private readonly options: SessionOptions,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, options.idleTimeoutMs));
    this.sweeper.unref();
    this.seal = new SessionSeal(options.key !== undefined ? Buffer.from(options.key, 'utf8') : randomBytes(32), options.maxAgeMs);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Open sessions per tenant (for the metrics). */
  byTenant(): Map<string, number> {
    return new Map(this.slots);
  }

  /** Open sessions of one tenant. */
  sizeOf(tenant: string): number {
    return this.slots.get(tenant) ?? 0;
  }

  async handle(request: Request, principal: Principal, parsedBody: unknown): Promise<Response> {
    const authInfo: AuthInfo = authInfoOf(principal);
    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId !== null) {
      const notFound = () => jsonRpcErrorResponse(404, requestId(parsedBody), SESSION_NOT_FOUND, 'Session not found; start a new session with initialize');
      const session = this.sessions.get(sessionId);
      if (session !== undefined) {
        if (session.tenant !== principal.tenant || session.owner !== ownerDigest(principal.subject)) return notFound();
        // Past gateway.sessions.maxAgeMs here too, as on every other gateway.
        if (this.seal.open(sessionId) === undefined) {
          this.end(session);
          void session.transport.close().catch(() => undefined);
          return notFound();
        }
        session.lastSeen = Date.now();
        return session.transport.handleRequest(request, { parsedBody, authInfo });
      }
      const sealed = this.ended.has(sessionId) ? undefined : this.seal.open(sessionId);
      if (sealed === undefined || sealed.tenant !== principal.tenant || (sealed.owner !== undefined && sealed.owner !== ownerDigest(principal.subject))) return notFound();
      return this.visit(request, sessionId, sealed.tenant, authInfo, parsedBody);
    }
    if (request.method === 'POST' && isInitialize(parsedBody)) {
      const refusal = this.capProblem(principal.tenant);
      if (refusal !== undefined) return jsonRpcErrorResponse(refusal.status, requestId(parsedBody), REQUEST_REFUSED, refusal.message, { 'retry-after': '5' });
      const session = await this.open(principal.tenant, principal.subject);
      try {
        return await session.transport.handleRequest(request, { parsedBody, authInfo });
      } finally {
        // An initialize the SDK refused opened no session: give its slot back.
        if (session.transport.sessionId === undefined) this.end(session);
      }
    }
    if (request.method === 'POST') {
      return jsonRpcErrorResponse(400, requestId(parsedBody), REQUEST_REFUSED, 'Bad Request: Mcp-Session-Id header is required (send initialize first)');
    }
    return jsonRpcErrorResponse(400, null, REQUEST_REFUSED, 'Bad Request: Mcp-Session-Id header is required');
  }

  /** Tells every connected client that the tool list changed. */
  notifyToolsChanged(): void {
    for (const session of this.sessions.values()) {
      session.server.sendToolListChanged().catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.sessions.values()];
    for (const session of all) this.end(session);
    await Promise.all(all.map((s) => s.transport.close().catch(() => undefined)));
  }

  /** Why a new session of this tenant is refused, naming the limit; the tenant's own cap first. */
  private capProblem(tenant: string): { status: number; message: string } | undefined {
    const { max, maxPerTenant } = this.options;
    if (this.sizeOf(tenant) >= maxPerTenant) {
      return { status: 429, message: `Too many sessions: this tenant has ${maxPerTenant} open (gateway.sessions.maxPerTenant); close unused sessions or retry later` };
    }
    if (this.slotsTotal >= max) return { status: 503, message: `Too many sessions: the gateway has ${max} open (gateway.sessions.max); retry later` };
    return undefined;
  }

  /**
   * A request of a session this gateway does not hold, served by a Server and a stateless
   * transport that last as long as the request. GET (the notification stream) and DELETE need
   * the holding gateway's state, so they get 405, which the transport spec allows for both.
   */
  private async visit(request: Request, sessionId: string, tenant: string, authInfo: AuthInfo, parsedBody: unknown): Promise<Response> {
    if (request.method !== 'POST') {
      return jsonRpcErrorResponse(405, null, REQUEST_REFUSED, 'Method not allowed: this gateway does not hold the session, so it offers no stream and cannot end it', { allow: 'POST' });
    }
    if (isInitialize(parsedBody)) {
      return jsonRpcErrorResponse(400, requestId(parsedBody), REQUEST_REFUSED, 'Bad Request: initialize opens a new session; send it without Mcp-Session-Id');
    }
    // One map per session for all its visits here, kept while any visit or call is alive, so a
    // cancel sent in a later request finds the call.
    const visit = this.visiting.get(sessionId) ?? { calls: new Map(), visits: 0 };
    visit.visits++;
    this.visiting.set(sessionId, visit);
    const inFlight = visit.calls;
    const server = this.createServer(inFlight, tenant, sessionId);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    const finish = () => {
      visit.visits--;
      this.forgetIdleVisit(sessionId);
      void server.close().catch(() => undefined);
    };
    try {
      await server.connect(transport);
    } catch (error) {
      finish();
      throw error;
    }
    this.intercept(transport, inFlight);
    let response: Response;
    try {
      response = await transport.handleRequest(request, { parsedBody, authInfo });
    } catch (error) {
      finish();
      throw error;
    }
    if (response.body === null) {
      finish();
      return response;
    }
    // An SSE answer streams after handleRequest returns: close the Server when the stream ends.
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    void response.body.pipeTo(writable).catch(() => undefined).finally(finish);
    return new Response(readable, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  /** Drops a visited session's shared state once no visit and no call of it is alive here. */
  private forgetIdleVisit(sessionId: string): void {
    const visit = this.visiting.get(sessionId);
    if (visit !== undefined && visit.visits <= 0 && visit.calls.size === 0) this.visiting.delete(sessionId);
  }

  /** A session leaves the registry and gives its slot back; safe to call more than once. */
  private end(session: Session): void {
    const id = session.transport.sessionId;
    if (id !== undefined && this.sessions.get(id) === session) {
      this.sessions.delete(id);
      // Its sealed id would still open elsewhere; here it stays ended.
      if (this.ended.size >= MAX_ENDED) this.ended.delete(this.ended.keys().next().value!);
      // Remembered until the id expires anyway.
      this.ended.set(id, (this.seal.open(id)?.openedAt ?? Date.now()) + this.options.maxAgeMs);
    }
    if (session.released) return;
    session.released = true;
    this.slotsTotal--;
    const left = this.sizeOf(session.tenant) - 1;
    if (left > 0) this.slots.set(session.tenant, left);
    else this.slots.delete(session.tenant);
  }

  private async open(tenant: string, subject: string): Promise<Session> {
    const inFlight: InFlightCalls = new Map();
    const server = this.createServer(inFlight, tenant);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => this.seal.issue(tenant, subject),
      // Runs inside handleRequest, after `session` below exists.
      onsessioninitialized: (id) => {
        this.sessions.set(id, session);
      },
      onsessionclosed: () => {
        this.end(session);
      },
    });
    // The slot is taken before the first await, so concurrent initializes cannot all pass the cap check.
    const session: Session = { tenant, owner: ownerDigest(subject), released: false, server, transport, lastSeen: Date.now(), inFlight };
    this.slots.set(tenant, this.sizeOf(tenant) + 1);
    this.slotsTotal++;
    transport.onclose = () => {
      this.end(session);
    };
    try {
      await server.connect(transport);
    } catch (error) {
      this.end(session);
      throw error;
    }
    this.intercept(transport, inFlight);
    return session;
  }


  /**
   * The SDK aborts a handler both for notifications/cancelled and when the session closes
   * (DELETE, idle sweep, gateway shutdown). Only the first is the client cancelling the call, so
   * it is noted at the transport boundary before the protocol sees it. Only calls in flight are
   * marked, so cancels for unknown ids cost nothing.
   */
  private intercept(transport: WebStandardStreamableHTTPServerTransport, inFlight: InFlightCalls): void {
    const deliver = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if ('method' in message && message.method === 'notifications/cancelled') {
        const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
        const call = typeof requestId === 'string' || typeof requestId === 'number' ? inFlight.get(requestId) : undefined;
        if (call) {
          call.cancelledByClient = true;
          call.stop();
        }
      }
      // The SDK would answer params that fail a method's schema with -32603; JSON-RPC says -32602.
      if ('method' in message && 'id' in message) {
        const problem = paramsProblem(message);
        if (problem !== undefined) {
          void transport.send({ jsonrpc: '2.0', id: message.id, error: { code: INVALID_PARAMS, message: problem } }, { relatedRequestId: message.id }).catch(() => undefined);
          return;
        }
      }
      deliver?.(message, extra);
    };
  }

  private createServer(inFlight: InFlightCalls, tenant: string, visitedSession?: string): Server {
    // Resources, prompts, completions and logging only when a downstream server has them (passthrough.ts).
    const passthrough = this.deps.passthrough?.capabilities() ?? {};
    const server = new Server(SERVER_INFO, {
      capabilities: {
        tools: { listChanged: true },
        // Tasks are served from Temporal (tasks.ts), not from an SDK task store.
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
        ...passthrough,
      },
      instructions: INSTRUCTIONS,
    });
    this.deps.passthrough?.register(server, passthrough, tenant);
    server.setRequestHandler(ListToolsRequestSchema, (request, extra) => this.guard('tools/list', () => listTools(this.deps, request.params?.cursor, principalOf(extra.authInfo))));
    server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
      this.guard('tools/call', async () => {
        const stopped = callSignal(extra.signal);
        const call = { cancelledByClient: false, stop: () => stopped.abort() };
        inFlight.set(extra.requestId, call);
        const progressToken = request.params._meta?.progressToken;
        let progressSent: number | undefined;
        const clientCapabilities = relayableCapabilities(server.getClientCapabilities() as Record<string, unknown> | undefined);
        try {
          const result = await callTool(this.deps, request.params, {
            principal: principalOf(extra.authInfo),
            headers: (extra.requestInfo?.headers ?? {}) as Record<string, string | string[] | undefined>,
            signal: stopped.signal,
            cancelledByClient: () => call.cancelledByClient,
            ...((visitedSession ?? extra.sessionId) !== undefined ? { sessionId: visitedSession ?? extra.sessionId } : {}),
            ...(request.params.task !== undefined ? { task: request.params.task } : {}),
            // What this client can answer, for a 2026-07-28 server that asks input (input.ts).
            ...(clientCapabilities !== undefined ? { clientCapabilities } : {}),
            ...(progressToken !== undefined
              ? {
                  sendProgress: (progress) => {
                    progressSent = progress.progress;
                    return extra.sendNotification({ method: 'notifications/progress', params: { progressToken, ...progress } } as ServerNotification);
                  },
                }
              : {}),
          });
          // Input the call waits for is asked on this request's stream (input.ts).
          const answered = await relayToLegacy(this.deps, principalOf(extra.authInfo), result, server.getClientCapabilities() as Record<string, unknown> | undefined, (input) =>
            extra.sendRequest({ method: input.method, params: input.params } as ServerRequest, INPUT_RESULT_SCHEMAS[input.method as keyof typeof INPUT_RESULT_SCHEMAS], { signal: extra.signal }),
            request.params.name,
          );
          // Progress and log messages the worker saw during the call, then the result (passthrough.ts).
          await this.deps.passthrough?.relayCall(answered, extra.sendNotification, this.deps.passthrough.sessionWantsLog(server), { token: progressToken, sent: progressSent });
          return answered as CallToolResult;
        } finally {
          stopped.dispose();
          // A repeated request id must not take another call's entry with it.
          if (inFlight.get(extra.requestId) === call) inFlight.delete(extra.requestId);
          if (visitedSession !== undefined) this.forgetIdleVisit(visitedSession);
        }
      }),
    );
    server.setRequestHandler(GetTaskRequestSchema, (request, extra) => this.guard('tasks/get', () => getTask(this.deps, principalOf(extra.authInfo), request.params.taskId)));
    server.setRequestHandler(GetTaskPayloadRequestSchema, (request, extra) =>
      this.guard('tasks/result', () => taskResult(this.deps, principalOf(extra.authInfo), request.params.taskId, extra.signal)),
    );
    server.setRequestHandler(ListTasksRequestSchema, (request, extra) => this.guard('tasks/list', () => listTasks(this.deps, principalOf(extra.authInfo), request.params?.cursor)));
    server.setRequestHandler(CancelTaskRequestSchema, (request, extra) => this.guard('tasks/cancel', () => cancelTask(this.deps, principalOf(extra.authInfo), request.params.taskId)));
    return server;
  }

  /** Expected errors pass through; anything else is logged and answered as a bare internal error. */
  private async guard<T>(method: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof JsonRpcError) throw error;
      this.deps.log.error('handler failed', { method, error: error instanceof Error ? error.message : String(error) });
      throw new JsonRpcError(INTERNAL_ERROR, 'Internal error');
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, expires] of this.ended) if (expires < now) this.ended.delete(id);
    const cutoff = now - this.options.idleTimeoutMs;
    for (const session of [...this.sessions.values()]) {
      if (session.lastSeen < cutoff) {
        this.end(session);
        void session.transport.close().catch(() => undefined);
      }
    }
  }
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize');
}

function requestId(body: unknown): string | number | null {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const id = (body as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return null;
}
