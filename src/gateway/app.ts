// The HTTP front door: /mcp (MCP Streamable HTTP, both protocol eras: sessions for 2025 clients,
// sessionless for 2026-07-28 ones), /healthz (alive), /readyz (Temporal reachable,
// and, for the operator only, the state of every downstream server), and with auth.oauth the
// Protected Resource Metadata under /.well-known/oauth-protected-resource.
import { isLegacyRequest, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';
import { Hono } from 'hono';
import type { DownstreamPool } from '../downstream/pool.js';
import type { HandlerDeps } from './handlers.js';
import { INTERNAL_ERROR, INVALID_PARAMS, jsonRpcErrorResponse, PARSE_ERROR, REQUEST_REFUSED } from './jsonrpc.js';
import { bodyProblem, idOf, paramsProblem, type BodyProblem } from './request-shape.js';
import { auth } from './middleware/auth.js';
import { protectedResourceMetadata, resourceMetadataPaths } from './auth/resource-metadata.js';
import { bodyLimit } from './middleware/body-limit.js';
import { hostOrigin } from './middleware/host-origin.js';
import { operatorView } from './middleware/operator-view.js';
import { SessionRegistry } from './sessions.js';
import { createModernFrontDoor } from './modern/handler.js';
import type { GatewayEnv } from './types.js';

export interface GatewayAppDeps extends HandlerDeps {
  pool: DownstreamPool;
  /** True when Temporal answers; must not throw. */
  temporalReachable: () => Promise<boolean>;
  allowedHosts: string[];
  allowedOrigins: string[];
}

export function createGatewayApp(deps: GatewayAppDeps) {
  const { config, log } = deps;
  const sessions = new SessionRegistry(deps, config.gateway.sessions);
  const modern = createModernFrontDoor(deps);
  const app = new Hono<GatewayEnv>();

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  const seesDetail = operatorView({ tenants: config.tenants });
  app.get('/readyz', async (c) => {
    const temporal = await deps.temporalReachable();
    const servers = deps.pool.status();
    const degraded = servers.some((s) => s.state !== 'ready');
    const status = !temporal ? 'not_ready' : degraded ? 'degraded' : 'ready';
    // Server ids, their state and why they are down are the operator's business (operator-view.ts).
    if (!seesDetail(c)) return c.json({ status }, temporal ? 200 : 503);
    return c.json({ status, temporal: { reachable: temporal }, servers, sessions: sessions.size }, temporal ? 200 : 503);
  });

  const oauth = config.auth.oauth;
  if (oauth !== undefined) {
    // RFC 9728: public, unauthenticated, and readable by browser clients from any origin; the
    // Host/Origin check protects /mcp, not this document.
    const document = protectedResourceMetadata(oauth);
    for (const path of resourceMetadataPaths(oauth)) {
      app.get(path, (c) => c.json(document, 200, { 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=3600' }));
      app.on('OPTIONS', path, () => new Response(null, { status: 204, headers: { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET', 'access-control-allow-headers': '*' } }));
    }
  }

  app.use('/mcp', hostOrigin({ allowedHosts: deps.allowedHosts, allowedOrigins: deps.allowedOrigins }));
  // Callers' tokens are sealed only when a server exchanges them.
  const exchanges = config.servers.some((server) => server.transport === 'http' && server.credentials.mode === 'tokenExchange');
  const credentialKey = exchanges ? config.auth.credentialKey : undefined;
  app.use('/mcp', auth({ tenants: config.tenants, oauth, log, ...(credentialKey !== undefined ? { credentialKey } : {}), ...(deps.audit !== undefined ? { audit: deps.audit } : {}) }));
  app.use('/mcp', bodyLimit({ maxBytes: config.gateway.maxBodyBytes }));

  app.on(['GET', 'POST', 'DELETE'], '/mcp', async (c) => {
    let parsedBody: unknown;
    if (c.req.method === 'POST') {
      const text = await c.req.text();
      try {
        parsedBody = JSON.parse(text);
      } catch {
        return jsonRpcErrorResponse(400, null, PARSE_ERROR, 'Parse error: body is not valid JSON');
      }
      const problem = bodyProblem(parsedBody);
      if (problem) return jsonRpcErrorResponse(400, problem.id, problem.code, problem.message);
    }
    // Both protocol eras share the endpoint: a request that claims 2026-07-28 (the `_meta`
    // envelope, or the version header) goes to the sessionless leg, anything else to the sessions.
    // A session's request with a bad version header stays with its session, which names the problem.
    const inSession = c.req.header('mcp-session-id') !== undefined && !carriesEnvelope(parsedBody);
    if (!inSession && !(await isLegacyRequest(c.req.raw, parsedBody))) return modern.fetch(c.req.raw, c.get('principal'), parsedBody);
    const problem = parsedBody === undefined ? undefined : initializeProblem(parsedBody);
    if (problem) return jsonRpcErrorResponse(400, problem.id, problem.code, problem.message);
    return sessions.handle(c.req.raw, c.get('principal'), parsedBody);
  });

  app.all('/mcp', () => jsonRpcErrorResponse(405, null, REQUEST_REFUSED, 'Method not allowed', { allow: 'GET, POST, DELETE' }));
  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((error, c) => {
    // One place maps unexpected faults; the client never sees a stack trace or internal detail.
    log.error('unhandled gateway error', { path: c.req.path, error: error.message });
    return c.req.path === '/mcp' ? jsonRpcErrorResponse(500, null, INTERNAL_ERROR, 'Internal error') : c.json({ error: 'internal error' }, 500);
  });

  return { app, sessions, modern };
}

/**
 * An initialize with bad params opens no session, so the session's own params check (sessions.ts)
 * never sees it; without this the SDK would answer "Server not initialized".
 */
function initializeProblem(body: unknown): BodyProblem | undefined {
  for (const message of Array.isArray(body) ? body : [body]) {
    const { method } = message as { method?: unknown };
    if (method !== 'initialize') continue;
    const problem = paramsProblem(message as { method: string; params?: unknown });
    if (problem !== undefined) return { code: INVALID_PARAMS, message: problem, id: idOf(body) };
  }
  return undefined;
}

/** Whether any message of the body carries the 2026-07-28 per-request envelope. */
function carriesEnvelope(body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((message) => {
    const meta = (message as { params?: { _meta?: unknown } } | null)?.params?._meta;
    return typeof meta === 'object' && meta !== null && PROTOCOL_VERSION_META_KEY in meta;
  });
}
