// DNS-rebinding protection (MCP transport spec): a browser tricked into talking to a local
// server sends a foreign Host or Origin. Both are checked against allow lists; a mismatch is 403.
import type { MiddlewareHandler } from 'hono';
import { jsonRpcErrorResponse, REQUEST_REFUSED } from '../jsonrpc.js';

export interface HostOriginOptions {
  /** Host header values accepted, e.g. "127.0.0.1:3000". Empty = any host (non-loopback binds). */
  allowedHosts: string[];
  /** Origin values accepted, e.g. "http://127.0.0.1:3000". Requests without Origin pass. */
  allowedOrigins: string[];
}

export function hostOrigin(options: HostOriginOptions): MiddlewareHandler {
  const hosts = new Set(options.allowedHosts.map((h) => h.toLowerCase()));
  const origins = new Set(options.allowedOrigins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  return async function hostOriginCheck(c, next) {
    const host = c.req.header('host')?.toLowerCase();
    if (hosts.size > 0 && (host === undefined || !hosts.has(host))) {
      return jsonRpcErrorResponse(403, null, REQUEST_REFUSED, 'Forbidden: Host header is not allowed');
    }
    const origin = c.req.header('origin')?.toLowerCase();
    if (origin !== undefined && !origins.has(origin)) {
      return jsonRpcErrorResponse(403, null, REQUEST_REFUSED, 'Forbidden: Origin is not allowed');
    }
    await next();
  };
}

/** The hosts a loopback-bound gateway answers to: every loopback spelling of its port. */
export function loopbackHosts(port: number): string[] {
  return ['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${port}`);
}

export function loopbackOrigins(port: number): string[] {
  return loopbackHosts(port).flatMap((h) => [`http://${h}`, `https://${h}`]);
}
