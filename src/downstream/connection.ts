// One downstream MCP server: connects over stdio or Streamable HTTP in the era the server speaks
// (2025 `initialize`, or 2026-07-28 `server/discover`), keeps its (filtered) tool list fresh,
// reconnects with backoff when it drops, restarts stdio servers that exit.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Client, CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY, ProtocolError, ProtocolErrorCode, StreamableHTTPClientTransport, type McpSubscription, type PriorDiscovery, type SubscriptionFilter, type Transport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
// The gateway (still on SDK v1) reads these shapes; the wire objects are the same in both SDKs.
import type { LoggingMessageNotification, Request, ServerCapabilities, Tool } from '@modelcontextprotocol/sdk/types.js';
import { z, type ZodType } from 'zod';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { tracedFetch } from '../observability/tracing.js';
import type { ToolResult } from '../shared/envelope.js';
import type { DownstreamCredentials } from './credentials.js';
import { classifyDownstreamError, DownstreamError } from './errors.js';
import { CircuitBreaker, Limiter } from './protection.js';

export type ConnectionState = 'connecting' | 'ready' | 'down' | 'closed';

/** The era a server was last connected in: `legacy` (2025 and before) or `2026-07-28`. */
export type ProtocolEra = 'legacy' | '2026-07-28';

export interface ConnectionStatus {
  id: string;
  transport: ServerConfig['transport'];
  state: ConnectionState;
  /** The era of the last successful connect, which the next one starts from (kept while the server is down and unreachable). */
  era?: ProtocolEra;
  tools: number;
  /** A fixed reason safe to show callers ("exited with code 1"); a stdio server's stderr is never in it. */
  lastError?: string;
  since: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  meta?: Record<string, unknown>;
  onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /** Tags the server's log messages that arrive on this request's response stream (see `log` event). */
  scope?: object;
  /** Answers to the server's input requests, with its own requestState (2026-07-28 servers only). */
  input?: { responses: Record<string, unknown>; requestState?: string };
  /** HTTP headers of this call's requests only: the caller's credential (credentials.ts). */
  headers?: Record<string, string>;
  /** What the calling client can answer: sent as this request's client capabilities (2026-07-28 servers only). */
  clientCapabilities?: Record<string, unknown>;
  /**
   * Answers a 2025 server's question on this request (elicitation/create, sampling/createMessage);
   * without it the broker answers for the caller: an elicitation is declined, a sampling refused.
   */
  ask?: AskCaller;
}

/** The methods a 2025 server may ask its caller mid-call, which the broker relays. */
export type QuestionMethod = 'elicitation/create' | 'sampling/createMessage';
export type AskCaller = (method: QuestionMethod, params: Record<string, unknown>) => Promise<Record<string, unknown>>;
const QUESTION_CAPABILITY: Record<QuestionMethod, string> = { 'elicitation/create': 'elicitation', 'sampling/createMessage': 'sampling' };

/** A pass-through request (resources, prompts, completions): no retries, one deadline. */
export interface ForwardOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  scope?: object;
  /** Hand back a 2026-07-28 server's `input_required` answer (for the caller to relay) instead of failing. */
  allowInputRequired?: boolean;
}

export interface DownstreamEvents {
  change: [];
  /**
   * A notifications/message from the server. `scope` is the CallOptions/ForwardOptions scope of the
   * request whose response stream carried it; undefined for a server-wide message (the server's own
   * stream, or a stdio server while no request is in flight); UNATTRIBUTED for a stdio message that
   * may belong to any request in flight.
   */
  log: [params: LoggingMessageNotification['params'], scope: object | undefined];
  resourceUpdated: [uri: string];
  resourcesChanged: [];
  promptsChanged: [];
}

// Streamable HTTP delivers a request's notifications on that request's own SSE stream, and the
// SDK reads that stream in a promise chain started by transport.send(). Running the request
// inside this storage tags those notifications with the request that caused them, which the MCP
// client API does not expose. stdio has one shared stream, so its messages carry no scope.
const requestScope = new AsyncLocalStorage<object>();

// The headers of one tool call's HTTP requests (its caller's credential), read by the transport's
// fetch: the SDK sends a request (and reads its response stream) in the caller's async context.
const callHeaders = new AsyncLocalStorage<Record<string, string>>();

/**
 * The scope of a stdio server's log message that arrived while requests were in flight. It may be
 * any of them (another tenant's tool call among them), so it is relayed to no one: it matches no
 * request's scope and is not a server-wide message either.
 */
export const UNATTRIBUTED: object = Object.freeze({});

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  healthCheckMs: number;
  connectTimeoutMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 15_000, healthCheckMs: 5_000, connectTimeoutMs: 15_000 };

/** The answer to resources/subscribe and /unsubscribe: nothing the broker reads. */
const EmptyResultSchema = z.looseObject({});

export class DownstreamConnection extends EventEmitter<DownstreamEvents> {
  private client: Client | undefined;
  private state: ConnectionState = 'connecting';
  private since = new Date();
  private lastError: string | undefined;
  private tools: Tool[] = [];
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  /** Kept for the operator's log only: stderr can hold secrets, so no caller ever sees it. */
  private stderrTail: string[] = [];
  /** "exited with code 1": how the current stdio child ended, the only part of its exit callers see. */
  private exitReason: string | undefined;
  /** Tool calls in flight that can relay a 2025 server's questions to their callers, by scope. */
  private readonly askers = new Map<object, { ask: AskCaller; capabilities: Record<string, unknown> | undefined }>();
  /** Callers' requests (tool calls, pass-through) waiting for an answer; decides UNATTRIBUTED. */
  private requestsInFlight = 0;
  private generation = 0;
  /** As last seen at initialize; kept while the server is down so sessions still advertise it. */
  private capabilities: ServerCapabilities | undefined;
  /** URIs the gateway subscribed to; subscribed again after every reconnect. */
  private readonly subscriptions = new Set<string>();
  /**
   * The era verdict of the last successful connect, passed to the next connect as `prior` so that
   * only the first connect probes. A connect the server answered and that still failed drops it, so
   * a server that changed era is probed afresh. A legacy verdict outlives an upgrade while the
   * server still answers `initialize`: the broker finds the new era only when it restarts.
   */
  private prior: PriorDiscovery | undefined;
  /** A 2026-07-28 server's notifications arrive on this stream (list changes, resource updates). */
  private listen: McpSubscription | undefined;
  /** Replacing the listen stream one change at a time, so two subscribes cannot leave two streams open. */
  private listenQueue: Promise<void> = Promise.resolve();
  /** Used by the worker's activities only; see protection.ts. */
  readonly breaker: CircuitBreaker;
  readonly limiter: Limiter;

  constructor(
    readonly config: ServerConfig,
    private readonly log: Logger,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
    /** Per-caller and broker credentials for an HTTP server (config `credentials`); none: static headers only. */
    private readonly credentials?: DownstreamCredentials,
  ) {
    super();
    // Each tool call in flight listens for its own log messages (activities/call-tool.ts), and
    // passthrough adds a few more: Node's default of 10 listeners warned under ordinary load.
    this.setMaxListeners(0);
    this.breaker = new CircuitBreaker(config.id, config.circuitBreaker.failureThreshold, config.circuitBreaker.cooldownMs);
    this.limiter = new Limiter(config.maxInFlight);
  }

  get id(): string {
    return this.config.id;
  }

  status(): ConnectionStatus {
    return {
      id: this.id,
      transport: this.config.transport,
      state: this.state,
      ...(this.prior ? { era: this.prior.kind === 'modern' ? '2026-07-28' : 'legacy' } : {}),
      tools: this.state === 'ready' ? this.tools.length : 0,
      lastError: this.lastError,
      since: this.since.toISOString(),
    };
  }

  /** The server's tools after the allow/deny filter; empty while the server is not ready. */
  listTools(): Tool[] {
    return this.state === 'ready' ? this.tools : [];
  }

  /**
   * The tools as last listed, even while the server is down: a call to one of them is still
   * accepted durably and runs when the server is back (within its deadline). Listing shows only
   * ready servers' tools.
   */
  knownTools(): Tool[] {
    return this.state === 'closed' ? [] : this.tools;
  }

  isToolAllowed(name: string): boolean {
    const { allow, deny } = this.config.tools;
    if (deny.includes(name)) return false;
    return allow === undefined || allow.includes(name);
  }

  /** Starts connecting; resolves once the first attempt finished (ready or not). Never throws. */
  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.setState('closed');
    clearTimeout(this.retryTimer);
    clearInterval(this.healthTimer);
    const client = this.client;
    this.client = undefined;
    await this.closeListen();
    await client?.close().catch(() => undefined);
  }

  /** The era of the current connection, or undefined while not connected. */
  era(): ProtocolEra | undefined {
    const era = this.client?.getProtocolEra();
    return era === undefined ? undefined : era === 'modern' ? '2026-07-28' : 'legacy';
  }

  async callTool(name: string, args: Record<string, unknown>, options: CallOptions): Promise<ToolResult> {
    const client = this.client;
    if (this.state !== 'ready' || client === undefined) {
      throw new DownstreamError('unavailable', this.id, `downstream server "${this.id}" is not connected${this.lastError ? ` (${this.lastError})` : ''}`, undefined, false);
    }
    try {
      // client.request, not client.callTool: a proxy must pass structuredContent through even
      // when it does not match the tool's outputSchema; validating is the end client's job.
      // Cancelling: on a 2025 connection the SDK sends notifications/cancelled when the signal
      // aborts; on a 2026-07-28 one it aborts the request's HTTP exchange, which is the cancel.
      // A 2026-07-28 server asks for input by answering `input_required` (handed back as the
      // result, for the workflow to relay: workflows/input.ts), and learns per request what the
      // calling client can answer. A 2025 server gets neither.
      const modern = client.getProtocolEra() === 'modern';
      // (Always set on a 2026-07-28 request: the connection itself declares what the broker can
      // relay, which is more than a given caller may answer.)
      const meta = this.requestMeta(modern ? { ...options.meta, [CLIENT_CAPABILITIES_META_KEY]: options.clientCapabilities ?? {} } : options.meta);
      const input = modern && options.input !== undefined ? { inputResponses: options.input.responses, ...(options.input.requestState !== undefined ? { requestState: options.input.requestState } : {}) } : {};
      const send = () =>
        client.request({ method: 'tools/call', params: { name, arguments: args, ...input, ...(meta ? { _meta: meta } : {}) } }, {
          signal: options.signal,
          timeout: options.timeoutMs,
          onprogress: options.onProgress,
          allowInputRequired: true,
        });
      const scope = options.scope ?? (options.ask !== undefined ? {} : undefined);
      if (scope !== undefined && options.ask !== undefined) this.askers.set(scope, { ask: options.ask, capabilities: options.clientCapabilities });
      try {
        const headers = options.headers;
        return (await this.inScope(scope, headers !== undefined && Object.keys(headers).length > 0 ? () => callHeaders.run(headers, send) : send)) as ToolResult;
      } finally {
        if (scope !== undefined) this.askers.delete(scope);
      }
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const classified = classifyDownstreamError(this.id, error);
      if (classified.kind === 'unavailable') this.markDown(classified.message);
      throw classified;
    }
  }

  /** The server's capabilities from its last initialize (also while it is down), or undefined before the first. */
  serverCapabilities(): ServerCapabilities | undefined {
    return this.state === 'closed' ? undefined : this.capabilities;
  }

  /**
   * Sends one request as it is (resources, prompts, completion) and returns the server's result.
   * Not durable and never retried: a read that fails is answered with the error at once.
   */
  async forward<T>(request: Request, resultSchema: ZodType<T>, options: ForwardOptions): Promise<T> {
    const client = this.client;
    if (this.state !== 'ready' || client === undefined) {
      throw new DownstreamError('unavailable', this.id, `downstream server "${this.id}" is not connected`, undefined, false);
    }
    const modern = client.getProtocolEra() === 'modern';
    const meta = this.requestMeta(modern ? { [CLIENT_CAPABILITIES_META_KEY]: {}, ...request.params?._meta } : request.params?._meta);
    const params = meta ? { ...request.params, _meta: meta } : request.params;
    // The caller's v1 zod schema is a Standard Schema, which is what v2's request() validates with.
    const send = () =>
      client.request({ method: request.method, ...(params ? { params } : {}) }, resultSchema as never, {
        signal: options.signal,
        timeout: options.timeoutMs,
        ...(options.allowInputRequired === true ? { allowInputRequired: true } : {}),
      }) as Promise<T>;
    try {
      return await this.inScope(options.scope, send);
    } catch (error) {
      const classified = classifyDownstreamError(this.id, error);
      if (classified.kind === 'unavailable' && !options.signal?.aborted) this.markDown(classified.message);
      throw classified;
    }
  }

  /**
   * A 2026-07-28 server has no session to hold a log level (logging/setLevel is deprecated there):
   * each request asks for every level, as the legacy connect does once; the gateway filters per client.
   */
  private requestMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (this.client?.getProtocolEra() !== 'modern' || !this.capabilities?.logging) return meta;
    return { [LOG_LEVEL_META_KEY]: 'debug', ...meta };
  }

  private async inScope<T>(scope: object | undefined, send: () => Promise<T>): Promise<T> {
    this.requestsInFlight++;
    try {
      return scope ? await requestScope.run(scope, send) : await send();
    } finally {
      this.requestsInFlight--;
    }
  }

  /**
   * resources/subscribe downstream (on a 2026-07-28 server, a new listen stream naming the URI);
   * remembered, so a reconnect subscribes again.
   */
  async subscribe(uri: string, timeoutMs: number): Promise<void> {
    this.subscriptions.add(uri);
    if (this.era() === '2026-07-28') return this.relisten(timeoutMs);
    await this.forward({ method: 'resources/subscribe', params: { uri } }, EmptyResultSchema, { timeoutMs });
  }

  async unsubscribe(uri: string, timeoutMs: number): Promise<void> {
    if (!this.subscriptions.delete(uri)) return;
    if (this.era() === '2026-07-28') return this.relisten(timeoutMs);
    await this.forward({ method: 'resources/unsubscribe', params: { uri } }, EmptyResultSchema, { timeoutMs });
  }

  /** Replaces the listen stream with one for the current subscriptions; the old one closes after, so nothing falls in a gap. */
  private async relisten(timeoutMs: number): Promise<void> {
    const client = this.client;
    if (this.state !== 'ready' || client === undefined) {
      throw new DownstreamError('unavailable', this.id, `downstream server "${this.id}" is not connected`, undefined, false);
    }
    try {
      await this.openListen(client, this.generation, timeoutMs);
    } catch (error) {
      throw classifyDownstreamError(this.id, error);
    }
  }

  /**
   * 2026-07-28 servers send notifications only on a `subscriptions/listen` stream, for the kinds
   * asked for. The SDK dispatches them to the same handlers as a 2025 server's.
   */
  private openListen(client: Client, generation: number, timeoutMs: number): Promise<void> {
    const next = this.listenQueue.then(() => this.replaceListen(client, generation, timeoutMs));
    this.listenQueue = next.catch(() => undefined);
    return next;
  }

  private async replaceListen(client: Client, generation: number, timeoutMs: number): Promise<void> {
    if (generation !== this.generation) return;
    const capabilities = this.capabilities ?? {};
    const filter: SubscriptionFilter = {
      ...(capabilities.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(capabilities.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(capabilities.resources?.listChanged ? { resourcesListChanged: true } : {}),
      ...(capabilities.resources?.subscribe && this.subscriptions.size > 0 ? { resourceSubscriptions: [...this.subscriptions] } : {}),
    };
    const previous = this.listen;
    if (Object.keys(filter).length === 0) {
      this.listen = undefined;
      await previous?.close().catch(() => undefined);
      return;
    }
    const listen = await client.listen(filter, { timeout: timeoutMs });
    if (generation !== this.generation) {
      await listen.close().catch(() => undefined);
      return;
    }
    this.listen = listen;
    await previous?.close().catch(() => undefined);
    void listen.closed.then((how) => {
      // The server ended the stream while the connection is meant to be up: it restarted or
      // dropped us. Reconnecting re-lists the tools (changes missed meanwhile) and listens again.
      if (how !== 'local' && this.listen === listen && generation === this.generation) this.markDown('notification stream closed');
    });
  }

  private async closeListen(): Promise<void> {
    const listen = this.listen;
    this.listen = undefined;
    await listen?.close().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.state === 'closed') return;
    const generation = ++this.generation;
    this.setState('connecting');
    const client = new Client(
      { name: 'switchyard', version: '0.1.0' },
      {
        // What the broker relays to callers (a 2025 server asks on the call's open request; a
        // 2026-07-28 one is told per request what the caller can answer: callTool).
        capabilities: { elicitation: { form: {} }, sampling: {} },
        versionNegotiation: { mode: negotiationMode(this.config.protocol), probe: { timeoutMs: this.backoff.connectTimeoutMs } },
        // A 2026-07-28 server's input_required answer goes back to the workflow, which relays it
        // (workflows/input.ts): the broker never fulfils it itself.
        inputRequired: { autoFulfill: false },
      },
    );
    const transport = this.createTransport(generation);
    client.onclose = () => {
      if (generation === this.generation && this.state !== 'closed') this.markDown(this.describeExit('connection closed'));
    };
    client.onerror = (error) => this.log.debug('transport error', { server: this.id, error: error.message });
    client.setNotificationHandler('notifications/tools/list_changed', async () => {
      if (generation !== this.generation) return;
      try {
        await this.refreshTools(client);
        this.emit('change');
      } catch (error) {
        this.log.warn('could not refresh tools after list_changed', { server: this.id, error: String(error) });
      }
    });
    this.relayNotifications(client, generation);
    for (const method of Object.keys(QUESTION_CAPABILITY) as QuestionMethod[]) {
      client.setRequestHandler(method, (request) => this.askCaller(method, (request.params ?? {}) as Record<string, unknown>) as never);
    }
    const timeout = this.backoff.connectTimeoutMs;
    try {
      // With a verdict from the last connect the SDK skips the probe (one probe per connect at most).
      await withTimeout(client.connect(transport, { timeout, ...(this.prior ? { prior: this.prior } : {}) }), timeout, `connect timed out after ${timeout} ms`);
      this.recordVerdict(client);
      this.capabilities = client.getServerCapabilities() as ServerCapabilities | undefined;
      await this.refreshTools(client);
      await this.restoreSessionState(client, generation);
    } catch (error) {
      const classified = classifyDownstreamError(this.id, error);
      // A server that answered and still failed may have changed era: the next connect probes.
      // One that was not reached (refused, not resolved) keeps the verdict for when it is back.
      if (classified.sent) this.prior = undefined;
      await client.close().catch(() => undefined);
      if (generation !== this.generation) return;
      this.markDown(this.describeExit(classified.message));
      return;
    }
    if (generation !== this.generation || (this.state as ConnectionState) === 'closed') {
      await client.close().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
    this.lastError = undefined;
    this.setState('ready');
    this.log.info('downstream server ready', { server: this.id, tools: this.tools.length, era: this.era() });
    this.startHealthCheck(client, generation);
  }

  /**
   * A 2025 server's question, asked on a tool call's open request: the call's `ask` relays it to its
   * caller. A question that belongs to no such call (a stdio server's, with several calls in
   * flight; a pass-through request's), or one the caller cannot answer, is answered here: an
   * elicitation declined, a sampling refused.
   */
  private async askCaller(method: QuestionMethod, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    let scope = requestScope.getStore();
    if (scope === undefined && this.config.transport === 'stdio' && this.requestsInFlight === 1 && this.askers.size === 1) scope = this.askers.keys().next().value;
    const asker = scope !== undefined ? this.askers.get(scope) : undefined;
    if (asker !== undefined && asker.capabilities?.[QUESTION_CAPABILITY[method]] !== undefined) return asker.ask(method, params);
    if (method === 'elicitation/create') return { action: 'decline' };
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `the calling client cannot answer ${method}`);
  }

  private recordVerdict(client: Client): void {
    const discover = client.getDiscoverResult();
    this.prior = client.getProtocolEra() === 'modern' && discover !== undefined ? { kind: 'modern', discover } : { kind: 'legacy' };
  }

  private relayNotifications(client: Client, generation: number): void {
    const current = () => generation === this.generation;
    client.setNotificationHandler('notifications/message', (notification) => {
      if (!current()) return;
      let scope = requestScope.getStore();
      // A stdio server has one stream for everything: a message in it cannot be tied to a request,
      // so while any request is in flight it may be that request's (a tool call's) own.
      if (scope === undefined && this.config.transport === 'stdio' && this.requestsInFlight > 0) {
        scope = UNATTRIBUTED;
        this.log.debug('log message relayed to no client: it may belong to any request in flight', { server: this.id, level: notification.params.level });
      }
      this.emit('log', notification.params as LoggingMessageNotification['params'], scope);
    });
    client.setNotificationHandler('notifications/resources/updated', (notification) => {
      if (current()) this.emit('resourceUpdated', notification.params.uri);
    });
    client.setNotificationHandler('notifications/resources/list_changed', () => {
      if (current()) this.emit('resourcesChanged');
    });
    client.setNotificationHandler('notifications/prompts/list_changed', () => {
      if (current()) this.emit('promptsChanged');
    });
  }

  /**
   * Per-session state a new downstream session lacks. The level is the most verbose one: clients
   * share this connection, so each client's own logging/setLevel is applied by the gateway. A
   * 2026-07-28 server has no session: the level goes with each request (requestMeta), and its
   * notifications come on a listen stream instead.
   */
  private async restoreSessionState(client: Client, generation: number): Promise<void> {
    const timeout = this.backoff.connectTimeoutMs;
    const attempt = async (what: string, request: () => Promise<unknown>) => {
      // None is worth refusing the connection over; the tools still work.
      await request().catch((error: unknown) => this.log.warn(`could not ${what} after connecting`, { server: this.id, error: String(error) }));
    };
    if (client.getProtocolEra() === 'modern') {
      await attempt('listen for notifications', () => this.openListen(client, generation, timeout));
      return;
    }
    if (this.capabilities?.logging) await attempt('set the log level', () => client.setLoggingLevel('debug', { timeout }));
    if (this.capabilities?.resources?.subscribe) {
      for (const uri of this.subscriptions) await attempt('subscribe to a resource', () => client.subscribeResource({ uri }, { timeout }));
    }
  }

  private createTransport(generation: number): Transport {
    const config = this.config;
    if (config.transport === 'stdio') {
      this.stderrTail = [];
      this.exitReason = undefined;
      const transport = new StdioClientTransport({
        command: config.command,
        args: config.args,
        // The SDK merges a minimal safe environment (PATH, HOME, …) under this; the broker's own
        // environment (and its secrets) is not inherited.
        env: config.env,
        cwd: config.cwd,
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          this.stderrTail.push(line);
          if (this.stderrTail.length > 5) this.stderrTail.shift();
          this.log.debug('stderr', { server: this.id, line });
        }
      });
      // The SDK keeps its child process private and drops the exit code, which is the one part of
      // an exit that is safe to show callers. The child exists once start() resolved ('spawn').
      const start = transport.start.bind(transport);
      transport.start = async () => {
        await start();
        const child = (transport as unknown as { _process?: ChildProcess })._process;
        child?.once('exit', (code, signal) => {
          if (generation === this.generation) this.exitReason = code !== null ? `exited with code ${code}` : `killed by ${signal ?? 'a signal'}`;
        });
      };
      return transport;
    }
    return new StreamableHTTPClientTransport(new URL(config.url), {
      requestInit: { headers: config.headers },
      fetch: tracedFetch((url, init) => this.fetchWithCredentials(url, init)),
      // Reconnection of the optional GET stream; request-level failures are handled here.
      reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 10_000, reconnectionDelayGrowFactor: 1.5, maxRetries: 2 },
    });
  }

  /**
   * The broker's own credential on every request, a call's caller's over it on that call's requests.
   * Each request gets a signal of its own that follows the one it was given: the SDK gives every
   * request of a 2025 connection its transport's one long-lived signal, fetch adds an 'abort'
   * listener to it per request that goes only when that request is garbage-collected, and each
   * add walks the whole list (2,000-4,000 listeners at 32 clients, about 0.1 ms a call:
   * docs/performance.md, "The tool request inside the worker"). AbortSignal.any adds no listener
   * to its source, and its signal goes with the request.
   */
  private async fetchWithCredentials(url: string | URL, given: RequestInit | undefined): Promise<Response> {
    const init = given?.signal ? { ...given, signal: AbortSignal.any([given.signal]) } : given;
    const own = this.credentials !== undefined ? await this.credentials.connectionHeaders(this.config) : {};
    const caller = callHeaders.getStore();
    if (Object.keys(own).length === 0 && caller === undefined) return fetch(url, init);
    const headers = new Headers(init?.headers);
    for (const [name, value] of Object.entries({ ...own, ...caller })) headers.set(name, value);
    return fetch(url, { ...init, headers });
  }

  private async refreshTools(client: Client): Promise<void> {
    // No cursor: the SDK walks every page. 'bypass': the broker keeps its own copy, refreshed on list_changed.
    const { tools } = await client.listTools(undefined, { cacheMode: 'bypass', timeout: this.backoff.connectTimeoutMs });
    this.tools = (tools as Tool[]).filter((tool) => this.isToolAllowed(tool.name));
  }

  private startHealthCheck(client: Client, generation: number): void {
    clearInterval(this.healthTimer);
    // stdio servers report their exit through onclose; HTTP servers can vanish silently.
    if (this.config.transport !== 'http') return;
    this.healthTimer = setInterval(() => {
      if (generation !== this.generation || this.state !== 'ready') return;
      const timeout = Math.min(5_000, this.backoff.healthCheckMs);
      // A 2026-07-28 server has no ping: server/discover is its cheapest request, and its answer
      // refreshes the capabilities and the verdict the next connect starts from.
      const check =
        client.getProtocolEra() === 'modern'
          ? client.discover({ timeout }).then((discover) => {
              if (generation !== this.generation) return;
              this.prior = { kind: 'modern', discover };
              this.capabilities = client.getServerCapabilities() as ServerCapabilities | undefined;
            })
          : client.ping({ timeout });
      check.catch((error: unknown) => {
        if (generation === this.generation) this.markDown(classifyDownstreamError(this.id, error).message);
      });
    }, this.backoff.healthCheckMs);
    this.healthTimer.unref();
  }

  private markDown(reason: string): void {
    if (this.state === 'closed' || this.state === 'down') return;
    this.generation++;
    clearInterval(this.healthTimer);
    const client = this.client;
    this.client = undefined;
    void this.closeListen();
    void client?.close().catch(() => undefined);
    this.lastError = reason;
    this.setState('down');
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt++;
    // stderr goes to the operator's log only: it can hold secrets (a connection string, a token).
    const stderr = this.config.transport === 'stdio' && this.stderrTail.length > 0 ? { stderr: this.stderrTail.join('\n') } : {};
    this.log.warn('downstream server down; reconnecting', { server: this.id, reason, retryInMs: Math.round(delay), ...stderr });
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }

  /** A fixed reason for callers and /readyz: a stdio server's exit code, never its stderr. */
  private describeExit(reason: string): string {
    return this.config.transport === 'stdio' && this.exitReason !== undefined ? this.exitReason : reason;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = new Date();
    this.emit('change');
  }
}

function negotiationMode(protocol: ServerConfig['protocol']): 'legacy' | 'auto' | { pin: string } {
  return protocol === 'legacy' || protocol === 'auto' ? protocol : { pin: protocol };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
