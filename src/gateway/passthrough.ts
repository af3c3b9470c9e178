// Pass-through of the downstream servers' non-tool features: resources, resource templates,
// prompts, completion/complete, logging, resource subscriptions and list_changed relays. These
// are reads, not durable work: each request goes straight to the gateway's own connection to the
// server, with the server's timeoutMs as deadline, and is never retried or recorded in Temporal.
//
// Naming. Prompts are renamed like tools (`<server><sep><prompt>`, bare for an unprefixed
// server). Resource URIs are passed through unchanged, because they appear inside tool results,
// prompt messages and resource contents, where the broker cannot rewrite them. A URI is routed to
// the server that listed it, else to the server whose resource template matches it; with a single
// resource server, everything goes there. Two servers listing the same URI: the first in config
// order wins (a warning is logged).
//
// Logging. The gateway's and the worker's connections ask every server for `debug`; each session's
// logging/setLevel is applied here, per session, so one tenant's level never changes another's.
// Who gets a message depends on what it can be tied to (connection.ts says which):
// - a request's own (a pass-through request here): that request's caller only;
// - a tool call's (the worker's scope, also in `switchyard dev` where the worker shares this
//   pool): nobody here; the worker returns them with the result (relayCall);
// - UNATTRIBUTED (stdio, while requests were in flight): nobody, it may be another tenant's call;
// - server-wide: every session of the tenant that can see the server, but only when exactly one
//   tenant can. The broker cannot know what a server puts in a message tied to no request (a stdio
//   server may log about one tenant's call after answering it), so a server shared by several
//   tenants has its server-wide messages written to the operator's log (debug) and relayed to none.
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CLIENT_CAPABILITIES_META_KEY } from '@modelcontextprotocol/server';
import {
  CompleteRequestSchema,
  type CompleteRequest,
  type GetPromptRequest,
  type ReadResourceRequest,
  CompleteResultSchema,
  GetPromptRequestSchema,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListPromptsResultSchema,
  ListResourcesRequestSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesRequestSchema,
  ListResourceTemplatesResultSchema,
  LoggingLevelSchema,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type LoggingLevel,
  type LoggingMessageNotification,
  type ServerCapabilities,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import type { ZodType } from 'zod';
import type { AccessTarget, Rights } from '../shared/policy.js';
import type { GatewayAccess } from './access.js';
import { principalOf } from './auth-info.js';
import type { Principal } from './auth/principal.js';
import type { DownstreamConnection } from '../downstream/connection.js';
import type { DownstreamPool } from '../downstream/pool.js';
import type { Logger } from '../observability/log.js';
import { RELAY_META_KEY, type RelayedNotification } from '../shared/relay.js';
import type { ToolResult } from '../shared/envelope.js';
import { INVALID_PARAMS, JsonRpcError, METHOD_NOT_FOUND, printable, RESOURCE_NOT_FOUND } from './jsonrpc.js';
import { passthroughError } from './errors.js';
import { publicToolName, splitToolName, type NamingOptions } from './tool-names.js';

/** Pages read per server when a URI must be looked up in the listings. */
const MAX_LOOKUP_PAGES = 20;
const MAX_KNOWN_URIS = 10_000;

/** Where a tool call's relayed notifications ride from results.ts to the session (never serialized). */
export const RELAYED = Symbol('switchyard.relayed');
export type ToolResultWithRelay = ToolResult & { [RELAYED]?: RelayedNotification[] };

/** Moves the worker's relayed notifications off the result's `_meta` (clients never see the key). */
export function detachRelayed(result: ToolResult): ToolResultWithRelay {
  const relayed = result._meta?.[RELAY_META_KEY];
  if (relayed === undefined) return result;
  const meta = { ...result._meta };
  delete meta[RELAY_META_KEY];
  const clean: ToolResultWithRelay = { ...result, _meta: meta };
  if (Array.isArray(relayed)) Object.defineProperty(clean, RELAYED, { value: relayed as RelayedNotification[], enumerable: false });
  return clean;
}

type Feature = 'resources' | 'prompts' | 'completions' | 'logging';

/** One request's caller, whichever protocol era it came in: who it is and how its notifications reach it. */
export interface RequestIo {
  /** Whom the access policy lists and checks for; unset (tests of the pass-through alone): no checks. */
  principal?: Principal;
  signal: AbortSignal;
  notify: (notification: ServerNotification) => Promise<void>;
  /** Whether a log message at this level goes to the caller (the session's or the request's level). */
  wantsLog: (level: string) => boolean;
}

interface SessionView {
  tenant: string;
  capabilities: ServerCapabilities;
  /** Unset: the session never sent logging/setLevel, and gets every level. */
  level?: LoggingLevel;
}

export class Passthrough {
  private readonly sessions = new Map<Server, SessionView>();
  /** `<serverId>\0<uri>` → subscribed sessions. */
  private readonly subscribers = new Map<string, Set<Server>>();
  /** URIs seen in listings → the server that listed them first. */
  private readonly uriOwners = new Map<string, string>();
  private readonly templates = new Map<string, RegExp[]>();
  /** With several unprefixed servers: bare prompt names seen in listings → the first server (config order) offering it. */
  private readonly promptOwners = new Map<string, string>();
  private readonly detach: Array<() => void> = [];
  /** Told when a merged listing changes, for clients without a session (modern/handler.ts). */
  private readonly listWatchers = new Set<(kind: 'resources' | 'prompts') => void>();
  private listSignature = '';

  constructor(
    private readonly pool: DownstreamPool,
    private readonly naming: NamingOptions,
    private readonly log: Logger,
    /** The tenants that can see the servers: today every configured tenant (or the keyless default) sees every server. */
    private readonly tenants: readonly string[],
    /** The access policy (auth.policy): listings show a caller only what it may use, and other requests are refused. */
    private readonly access?: GatewayAccess,
  ) {}

  /** Starts relaying the downstream servers' notifications to registered sessions. */
  start(): void {
    for (const connection of this.pool.all()) {
      const onLog = (params: LoggingMessageNotification['params'], scope: object | undefined) => {
        // A message tagged with a request belongs to that request's caller (see `forward` below).
        if (scope === undefined) this.sendServerWideLog(connection.id, params);
      };
      const onUpdated = (uri: string) => {
        for (const server of this.subscribers.get(subscriptionKey(connection.id, uri)) ?? []) {
          server.sendResourceUpdated({ uri }).catch(() => undefined);
        }
      };
      const onResources = () => this.broadcastListChanged('resources');
      const onPrompts = () => this.broadcastListChanged('prompts');
      connection.on('log', onLog);
      connection.on('resourceUpdated', onUpdated);
      connection.on('resourcesChanged', onResources);
      connection.on('promptsChanged', onPrompts);
      this.detach.push(() => {
        connection.off('log', onLog);
        connection.off('resourceUpdated', onUpdated);
        connection.off('resourcesChanged', onResources);
        connection.off('promptsChanged', onPrompts);
      });
    }
    // A server that comes or goes changes the merged listings.
    this.listSignature = this.readySignature();
    const onChange = () => {
      const next = this.readySignature();
      if (next === this.listSignature) return;
      this.listSignature = next;
      this.broadcastListChanged('resources');
      this.broadcastListChanged('prompts');
    };
    this.pool.on('change', onChange);
    this.detach.push(() => this.pool.off('change', onChange));
  }

  stop(): void {
    for (const undo of this.detach.splice(0)) undo();
  }

  /** What a new session advertises: only what at least one downstream server offers. */
  capabilities(): ServerCapabilities {
    const all = this.pool.all().map((c) => c.serverCapabilities() ?? {});
    return {
      ...(all.some((c) => c.resources)
        ? { resources: { listChanged: true, ...(all.some((c) => c.resources?.subscribe) ? { subscribe: true } : {}) } }
        : {}),
      ...(all.some((c) => c.prompts) ? { prompts: { listChanged: true } } : {}),
      ...(all.some((c) => c.completions) ? { completions: {} } : {}),
      ...(all.some((c) => c.logging) ? { logging: {} } : {}),
    };
  }

  /** Sets the pass-through handlers on a legacy session's protocol object, for the capabilities it declared. */
  register(server: Server, capabilities: ServerCapabilities, tenant: string): void {
    const view: SessionView = { tenant, capabilities };
    this.sessions.set(server, view);
    const previous = server.onclose;
    server.onclose = () => {
      previous?.();
      void this.forget(server);
    };
    const io = (extra: { signal: AbortSignal; sendNotification: (n: ServerNotification) => Promise<void>; authInfo?: unknown }): RequestIo => ({
      // Only a policy needs to know who asks (and then a request without a principal fails closed).
      ...(this.access?.enabled === true ? { principal: principalOf(extra.authInfo as Parameters<typeof principalOf>[0]) } : {}),
      signal: extra.signal,
      notify: extra.sendNotification,
      wantsLog: (level) => this.wantsLog(server, level),
    });
    if (capabilities.resources) {
      server.setRequestHandler(ListResourcesRequestSchema, (request, extra) => this.listResources(request.params?.cursor, io(extra)));
      server.setRequestHandler(ListResourceTemplatesRequestSchema, (request, extra) => this.listResourceTemplates(request.params?.cursor, io(extra)));
      server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => this.readResource(request.params, io(extra)));
      if (capabilities.resources.subscribe) {
        server.setRequestHandler(SubscribeRequestSchema, (request, extra) => this.guard(() => this.subscribe(server, request.params.uri, io(extra))));
        server.setRequestHandler(UnsubscribeRequestSchema, (request, extra) => this.guard(() => this.unsubscribe(server, request.params.uri, extra.signal)));
      }
    }
    if (capabilities.prompts) {
      server.setRequestHandler(ListPromptsRequestSchema, (request, extra) => this.listPrompts(request.params?.cursor, io(extra)));
      server.setRequestHandler(GetPromptRequestSchema, (request, extra) => this.getPrompt(request.params, io(extra)));
    }
    if (capabilities.completions) {
      server.setRequestHandler(CompleteRequestSchema, (request, extra) => this.complete(request.params, io(extra)));
    }
    if (capabilities.logging) {
      // Replaces the SDK's own handler: the level is kept here, per session (see the header).
      server.setRequestHandler(SetLevelRequestSchema, (request) => {
        view.level = LoggingLevelSchema.parse(request.params.level);
        return {};
      });
    }
  }

  // The operations below serve both protocol eras: a legacy session (register above) and a
  // 2026-07-28 request (modern/handler.ts), which differ only in how notifications reach the caller.

  listResources(cursor: string | undefined, io: RequestIo) {
    const rights = this.rightsOf(io);
    return this.guard(() =>
      this.listPage('resources', cursor, io.signal, async (c, next, signal) => {
        const page = await this.listResourcesOf(c, next, signal);
        return rights === undefined ? page : { ...page, items: page.items.filter((r) => rights.allows({ kind: 'resource', server: c.id, uri: r.uri })) };
      }),
    );
  }

  /** Templates are listed to a caller whose `resources` globs match the template's own text (`docs.file:///notes/*` keeps `file:///notes/{name}`). */
  listResourceTemplates(cursor: string | undefined, io: RequestIo) {
    const rights = this.rightsOf(io);
    return this.guard(() =>
      this.listPage('resourceTemplates', cursor, io.signal, async (c, next, signal) => {
        const page = await this.listTemplatesOf(c, next, signal);
        return rights === undefined ? page : { ...page, items: page.items.filter((t) => rights.allows({ kind: 'resource', server: c.id, uri: t.uriTemplate })) };
      }),
    );
  }

  readResource(params: ReadResourceRequest['params'], io: RequestIo) {
    return this.guard(async () => {
      const connection = await this.routeUri(params.uri, io.signal);
      this.check(io, { kind: 'resource', server: connection.id, uri: params.uri }, 'resources/read', params.uri);
      return this.forward(connection, { method: 'resources/read', params }, ReadResourceResultSchema, io);
    });
  }

  listPrompts(cursor: string | undefined, io: RequestIo) {
    const rights = this.rightsOf(io);
    const keep = rights && ((serverId: string, name: string) => rights.allows({ kind: 'prompt', server: serverId, name }));
    return this.guard(() => this.listPage('prompts', cursor, io.signal, (c, next, signal) => this.listPromptsOf(c, next, signal, keep)));
  }

  /** The caller's rights when a policy is configured; undefined: list everything. */
  private rightsOf(io: RequestIo): Rights | undefined {
    if (this.access?.enabled !== true) return undefined;
    // Fail closed: a policy and no caller shows nothing.
    return io.principal !== undefined ? this.access.rightsOf(io.principal) : { allows: () => false };
  }

  /** Refuses (access.ts, the one refusal path) a request outside the caller's rights. */
  private check(io: RequestIo, target: AccessTarget, method: string, name: string): void {
    if (this.access?.enabled !== true) return;
    if (io.principal === undefined) throw new Error('a request reached the pass-through without a principal');
    this.access.check(io.principal, target, method, name);
  }

  /**
   * `input` (2026-07-28 callers only): the caller's answers and the server's own requestState, sent
   * with the request; the server's `input_required` answer is then handed back for the caller to
   * relay (modern/handler.ts), not refused.
   */
  getPrompt(params: GetPromptRequest['params'], io: RequestIo, input?: { responses: Record<string, unknown>; requestState?: string; clientCapabilities?: Record<string, unknown> }) {
    return this.guard(async () => {
      const { connection, name } = await this.routePrompt(params.name, io.signal);
      this.check(io, { kind: 'prompt', server: connection.id, name }, 'prompts/get', params.name);
      const asked =
        input === undefined
          ? {}
          : {
              ...(Object.keys(input.responses).length > 0 ? { inputResponses: input.responses } : {}),
              ...(input.requestState !== undefined ? { requestState: input.requestState } : {}),
              // What the caller can answer, so the server may ask (downstream/connection.ts).
              _meta: { ...params._meta, [CLIENT_CAPABILITIES_META_KEY]: input.clientCapabilities ?? {} },
            };
      return this.forward(connection, { method: 'prompts/get', params: { ...params, name, ...asked } }, GetPromptResultSchema, io, input !== undefined);
    });
  }

  complete(params: CompleteRequest['params'], io: RequestIo) {
    return this.guard(async () => {
      const { ref } = params;
      if (ref.type === 'ref/prompt') {
        const { connection, name } = await this.routePrompt(ref.name, io.signal);
        this.check(io, { kind: 'prompt', server: connection.id, name }, 'completion/complete', ref.name);
        return this.forward(connection, { method: 'completion/complete', params: { ...params, ref: { ...ref, name } } }, CompleteResultSchema, io);
      }
      const connection = await this.routeUri(ref.uri, io.signal);
      this.check(io, { kind: 'resource', server: connection.id, uri: ref.uri }, 'completion/complete', ref.uri);
      return this.forward(connection, { method: 'completion/complete', params }, CompleteResultSchema, io);
    });
  }

  /** The level filter of a legacy session (its logging/setLevel), for relayCall. */
  sessionWantsLog(server: Server): (level: string) => boolean {
    return (level) => this.wantsLog(server, level);
  }

  /**
   * Sends a finished tool call's relayed notifications to its caller, before the result: progress
   * only with the caller's token and only above what was already sent (progress must increase),
   * log messages at or above the session's level.
   */
  async relayCall(
    result: object,
    send: (notification: ServerNotification) => Promise<void>,
    wantsLog: (level: string) => boolean,
    progress: { token?: string | number; sent?: number },
  ): Promise<void> {
    let last = progress.sent;
    for (const notification of (result as ToolResultWithRelay)[RELAYED] ?? []) {
      if (notification.method === 'notifications/progress') {
        if (progress.token === undefined || (last !== undefined && notification.params.progress <= last)) continue;
        last = notification.params.progress;
        await send({ method: 'notifications/progress', params: { progressToken: progress.token, ...notification.params } }).catch(() => undefined);
      } else if (wantsLog(notification.params.level)) {
        await send(notification as ServerNotification).catch(() => undefined);
      }
    }
  }

  private async forward<T>(
    connection: DownstreamConnection,
    request: { method: string; params?: Record<string, unknown> },
    schema: ZodType<T>,
    io: RequestIo,
    allowInputRequired = false,
  ): Promise<T> {
    const scope = {};
    // Log messages the server sends while answering go to this caller only.
    const onLog = (params: LoggingMessageNotification['params'], from: object | undefined) => {
      if (from === scope && io.wantsLog(params.level)) void io.notify({ method: 'notifications/message', params }).catch(() => undefined);
    };
    connection.on('log', onLog);
    try {
      const { _meta, ...params } = request.params ?? {};
      // The caller's progress token names the caller's request, not ours: never forward it.
      const meta = stripProgressToken(_meta);
      return await connection.forward(
        { method: request.method, params: { ...params, ...(meta ? { _meta: meta } : {}) } },
        schema,
        { signal: io.signal, timeoutMs: connection.config.timeoutMs, scope, ...(allowInputRequired ? { allowInputRequired } : {}) },
      );
    } finally {
      connection.off('log', onLog);
    }
  }

  /** A message tied to no request: see the header for who may get it. */
  private sendServerWideLog(serverId: string, params: LoggingMessageNotification['params']): void {
    const audience = this.audienceOf(serverId);
    if (audience.length !== 1) {
      this.log.debug('server-wide log message relayed to no client: the server is shared by several tenants', { server: serverId, level: params.level, data: params.data });
      return;
    }
    for (const [server, view] of this.sessions) {
      if (view.tenant === audience[0] && this.wantsLog(server, params.level)) server.sendLoggingMessage(params).catch(() => undefined);
    }
  }

  /** The tenants that can see a server (its tools, prompts, resources and messages). */
  private audienceOf(_serverId: string): readonly string[] {
    return this.tenants;
  }

  private wantsLog(server: Server, level: string): boolean {
    const view = this.sessions.get(server);
    if (!view?.capabilities.logging) return false;
    if (view.level === undefined) return true;
    return severity(level) >= severity(view.level);
  }

  /** Calls `watcher` whenever the merged resource or prompt listing changes; returns the undo. */
  onListChanged(watcher: (kind: 'resources' | 'prompts') => void): () => void {
    this.listWatchers.add(watcher);
    return () => this.listWatchers.delete(watcher);
  }

  private broadcastListChanged(kind: 'resources' | 'prompts'): void {
    for (const watcher of this.listWatchers) watcher(kind);
    for (const [server, view] of this.sessions) {
      if (kind === 'resources' && view.capabilities.resources) server.sendResourceListChanged().catch(() => undefined);
      if (kind === 'prompts' && view.capabilities.prompts) server.sendPromptListChanged().catch(() => undefined);
    }
  }

  private readySignature(): string {
    return this.pool
      .all()
      .filter((c) => c.status().state === 'ready')
      .map((c) => c.id)
      .join(',');
  }

  /** Servers offering a feature, in config order, that are connected now. */
  private offering(feature: Feature): DownstreamConnection[] {
    return this.pool.all().filter((c) => c.status().state === 'ready' && c.serverCapabilities()?.[feature] !== undefined);
  }

  /**
   * One page of a merged listing. The cursor names a server (by its place in the config) and
   * that server's own cursor, so each page is one downstream page and nothing is buffered.
   */
  private async listPage<K extends string, T>(
    key: K,
    cursor: string | undefined,
    signal: AbortSignal,
    fetchPage: (connection: DownstreamConnection, cursor: string | undefined, signal: AbortSignal) => Promise<{ items: T[]; nextCursor?: string }>,
  ): Promise<Record<K, T[]> & { nextCursor?: string }> {
    const feature: Feature = key === 'prompts' ? 'prompts' : 'resources';
    const all = this.pool.all();
    let { server: index, cursor: downstreamCursor } = cursor === undefined ? { server: 0, cursor: undefined } : decodeCursor(cursor, all.length);
    const eligible = (i: number) => {
      const c = all[i]!;
      return c.status().state === 'ready' && c.serverCapabilities()?.[feature] !== undefined;
    };
    // Servers with nothing to list are skipped, so a page is empty only at the very end.
    for (; index < all.length; index++, downstreamCursor = undefined) {
      if (!eligible(index)) continue;
      let page = await fetchPage(all[index]!, downstreamCursor, signal);
      // A page the access policy emptied: read on (bounded) rather than hand the client an empty page.
      for (let more = 0; page.items.length === 0 && page.nextCursor !== undefined && more < MAX_LOOKUP_PAGES; more++) page = await fetchPage(all[index]!, page.nextCursor, signal);
      let next: string | undefined;
      if (page.nextCursor !== undefined) next = encodeCursor(index, page.nextCursor);
      else {
        for (let j = index + 1; j < all.length; j++) {
          if (eligible(j)) {
            next = encodeCursor(j, undefined);
            break;
          }
        }
      }
      if (page.items.length === 0 && next !== undefined && page.nextCursor === undefined) continue;
      return { [key]: page.items, ...(next !== undefined ? { nextCursor: next } : {}) } as Record<K, T[]> & { nextCursor?: string };
    }
    return { [key]: [] } as unknown as Record<K, T[]>;
  }

  private async listResourcesOf(connection: DownstreamConnection, cursor: string | undefined, signal: AbortSignal) {
    const page = await connection.forward({ method: 'resources/list', params: cursor === undefined ? {} : { cursor } }, ListResourcesResultSchema, {
      signal,
      timeoutMs: connection.config.timeoutMs,
    });
    for (const resource of page.resources) this.noteOwner(resource.uri, connection.id);
    return { items: page.resources, ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) };
  }

  private async listTemplatesOf(connection: DownstreamConnection, cursor: string | undefined, signal: AbortSignal) {
    const page = await connection.forward(
      { method: 'resources/templates/list', params: cursor === undefined ? {} : { cursor } },
      ListResourceTemplatesResultSchema,
      { signal, timeoutMs: connection.config.timeoutMs },
    );
    const known = cursor === undefined ? [] : (this.templates.get(connection.id) ?? []);
    this.templates.set(connection.id, [...known, ...page.resourceTemplates.map((t) => templatePattern(t.uriTemplate))]);
    return { items: page.resourceTemplates, ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) };
  }

  /** `keep`: the caller's access policy, by server and downstream prompt name. */
  private async listPromptsOf(connection: DownstreamConnection, cursor: string | undefined, signal: AbortSignal, keep?: (serverId: string, name: string) => boolean) {
    const page = await connection.forward({ method: 'prompts/list', params: cursor === undefined ? {} : { cursor } }, ListPromptsResultSchema, {
      signal,
      timeoutMs: connection.config.timeoutMs,
    });
    if (this.naming.unprefixed.has(connection.id)) for (const prompt of page.prompts) this.notePromptOwner(prompt.name, connection.id);
    const prompts = (keep === undefined ? page.prompts : page.prompts.filter((p) => keep(connection.id, p.name))).map((p) => ({ ...p, name: publicToolName(connection.id, p.name, this.naming) }));
    return { items: prompts, ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) };
  }

  private async routePrompt(publicName: string, signal: AbortSignal): Promise<{ connection: DownstreamConnection; name: string }> {
    // Several unprefixed servers share one namespace: the first that offers the name owns it.
    if (this.naming.unprefixed.size > 1 && !this.promptOwners.has(publicName)) await this.refreshPromptOwners(signal);
    const split = splitToolName(publicName, new Set(this.pool.all().map((c) => c.id)), this.naming, (serverId, name) => this.promptOwners.get(name) === serverId);
    const connection = split && this.pool.get(split.serverId);
    if (!split || !connection || connection.serverCapabilities()?.prompts === undefined) {
      throw new JsonRpcError(INVALID_PARAMS, `Unknown prompt: ${printable(publicName, 200)}`);
    }
    return { connection, name: split.tool };
  }

  /** The server a URI (or a resource template, for completion) belongs to; see the header. */
  private async routeUri(uri: string, signal: AbortSignal): Promise<DownstreamConnection> {
    const candidates = this.pool.all().filter((c) => c.serverCapabilities()?.resources !== undefined);
    if (candidates.length === 1) return candidates[0]!;
    const found = () => {
      const owner = this.uriOwners.get(uri);
      if (owner !== undefined) return this.pool.get(owner);
      return candidates.find((c) => (this.templates.get(c.id) ?? []).some((pattern) => pattern.test(uri)));
    };
    let connection = found();
    if (connection === undefined) {
      await this.refreshListings(signal);
      connection = found();
    }
    if (connection === undefined) throw new JsonRpcError(RESOURCE_NOT_FOUND, `Resource not found: ${printable(uri, 200)}`, { uri });
    return connection;
  }

  /** Reads every resource server's listings (bounded), to learn which server owns which URI. */
  private async refreshListings(signal: AbortSignal): Promise<void> {
    await Promise.all(
      this.offering('resources').map(async (connection) => {
        try {
          for (const list of [this.listResourcesOf.bind(this), this.listTemplatesOf.bind(this)]) {
            let cursor: string | undefined;
            let pages = 0;
            do {
              const page = await list(connection, cursor, signal);
              cursor = page.nextCursor;
            } while (cursor !== undefined && ++pages < MAX_LOOKUP_PAGES);
          }
        } catch (error) {
          this.log.warn('could not list resources while routing a URI', { server: connection.id, error: String(error) });
        }
      }),
    );
  }

  /** Lists the prompts of every unprefixed prompt server (bounded), to learn who owns which bare name. */
  private async refreshPromptOwners(signal: AbortSignal): Promise<void> {
    await Promise.all(
      this.offering('prompts')
        .filter((connection) => this.naming.unprefixed.has(connection.id))
        .map(async (connection) => {
          try {
            let cursor: string | undefined;
            let pages = 0;
            do {
              cursor = (await this.listPromptsOf(connection, cursor, signal)).nextCursor;
            } while (cursor !== undefined && ++pages < MAX_LOOKUP_PAGES);
          } catch (error) {
            this.log.warn('could not list prompts while routing a prompt', { server: connection.id, error: String(error) });
          }
        }),
    );
  }

  private notePromptOwner(name: string, serverId: string): void {
    const owner = this.promptOwners.get(name);
    const order = [...this.naming.unprefixed];
    if (owner !== undefined && order.indexOf(owner) <= order.indexOf(serverId)) return;
    if (owner === undefined && this.promptOwners.size >= MAX_KNOWN_URIS) this.promptOwners.delete(this.promptOwners.keys().next().value!);
    this.promptOwners.set(name, serverId);
  }

  private noteOwner(uri: string, serverId: string): void {
    const owner = this.uriOwners.get(uri);
    if (owner !== undefined && owner !== serverId) {
      const order = this.pool.all().map((c) => c.id);
      if (order.indexOf(serverId) < order.indexOf(owner)) this.uriOwners.set(uri, serverId);
      this.log.warn('two servers list the same resource URI; the first in config order serves it', { uri: printable(uri, 200), servers: `${owner},${serverId}` });
      return;
    }
    if (owner === undefined && this.uriOwners.size >= MAX_KNOWN_URIS) this.uriOwners.delete(this.uriOwners.keys().next().value!);
    this.uriOwners.set(uri, serverId);
  }

  private async subscribe(server: Server, uri: string, io: RequestIo): Promise<Record<string, never>> {
    const connection = await this.routeUri(uri, io.signal);
    this.check(io, { kind: 'resource', server: connection.id, uri }, 'resources/subscribe', uri);
    if (!connection.serverCapabilities()?.resources?.subscribe) {
      throw new JsonRpcError(METHOD_NOT_FOUND, `The server of ${printable(uri, 200)} does not support resources/subscribe`);
    }
    const key = subscriptionKey(connection.id, uri);
    const subscribers = this.subscribers.get(key) ?? new Set<Server>();
    if (subscribers.size === 0) await connection.subscribe(uri, connection.config.timeoutMs);
    subscribers.add(server);
    this.subscribers.set(key, subscribers);
    return {};
  }

  private async unsubscribe(server: Server, uri: string, signal: AbortSignal): Promise<Record<string, never>> {
    const connection = await this.routeUri(uri, signal);
    await this.drop(server, connection, uri);
    return {};
  }

  private async drop(server: Server, connection: DownstreamConnection, uri: string): Promise<void> {
    const key = subscriptionKey(connection.id, uri);
    const subscribers = this.subscribers.get(key);
    if (!subscribers?.delete(server) || subscribers.size > 0) return;
    this.subscribers.delete(key);
    await connection.unsubscribe(uri, connection.config.timeoutMs);
  }

  /** A closed session: its level and subscriptions go; downstream subscriptions nobody holds are ended. */
  private async forget(server: Server): Promise<void> {
    this.sessions.delete(server);
    for (const [key, subscribers] of [...this.subscribers]) {
      if (!subscribers.has(server)) continue;
      const [serverId, uri] = splitSubscriptionKey(key);
      const connection = this.pool.get(serverId);
      if (connection) await this.drop(server, connection, uri).catch(() => undefined);
    }
  }

  /** Downstream failures become JSON-RPC errors with a message safe to show; nothing else leaks. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw passthroughError(error, this.log);
    }
  }
}

/** Whether a message at `level` passes a caller's `threshold` (RFC 5424 order, as MCP uses). */
export function levelAtLeast(level: string, threshold: string): boolean {
  return severity(level) >= severity(threshold);
}

function severity(level: string): number {
  const index = LoggingLevelSchema.options.indexOf(level as LoggingLevel);
  return index === -1 ? LoggingLevelSchema.options.length : index;
}

function stripProgressToken(meta: unknown): Record<string, unknown> | undefined {
  if (typeof meta !== 'object' || meta === null) return undefined;
  const copy = { ...(meta as Record<string, unknown>) };
  delete copy.progressToken;
  return Object.keys(copy).length > 0 ? copy : undefined;
}

function subscriptionKey(serverId: string, uri: string): string {
  return `${serverId}\u0000${uri}`;
}

function splitSubscriptionKey(key: string): [string, string] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

function encodeCursor(server: number, cursor: string | undefined): string {
  return Buffer.from(JSON.stringify(cursor === undefined ? { s: server } : { s: server, c: cursor }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, servers: number): { server: number; cursor: string | undefined } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown; c?: unknown };
    if (typeof value.s === 'number' && Number.isInteger(value.s) && value.s >= 0 && value.s < servers && (value.c === undefined || typeof value.c === 'string')) {
      return { server: value.s, cursor: value.c };
    }
  } catch {
    // fall through
  }
  throw new JsonRpcError(INVALID_PARAMS, 'Invalid cursor');
}

/**
 * An RFC 6570 template as a pattern matching the URIs it expands to: `{var}` is one path segment,
 * `{+var}` and `{#var}` anything, `{?a,b}` and `{&a}` an optional query.
 */
export function templatePattern(template: string): RegExp {
  let source = '';
  let last = 0;
  for (const match of template.matchAll(/\{([+#./;?&]?)[^}]*\}/g)) {
    source += escapeRegExp(template.slice(last, match.index));
    const operator = match[1];
    source += operator === '+' || operator === '#' ? '.*' : operator === '?' || operator === '&' ? '(?:[?&].*)?' : '[^/?#]*';
    last = match.index + match[0].length;
  }
  source += escapeRegExp(template.slice(last));
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
