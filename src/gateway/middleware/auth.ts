// API keys map a caller to a tenant. With no tenants configured there is a single "default"
// tenant without authentication; the config only allows that on a loopback bind.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../../config/schema.js';
import { jsonRpcErrorResponse, UNAUTHORIZED } from '../jsonrpc.js';
import type { GatewayEnv } from '../types.js';

export const DEFAULT_TENANT = 'default';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export interface Principal {
  tenant: string;
  /** A stable, non-secret name for the credential: "apikey:<hash prefix>" or "anonymous". */
  subject: string;
  /** May use the dead-letter tools of its tenant. The keyless local mode is its own operator. */
  admin: boolean;
}

/**
 * Maps an Authorization header to the principal of its API key, or undefined for a missing or
 * unknown key. Shared by the /mcp middleware and the health endpoints (admin keys see detail).
 */
export function apiKeyPrincipals(tenants: Config['tenants']): (authorization: string | undefined) => Principal | undefined {
  const byDigest = new Map<string, { tenant: string; digest: Buffer; admin: boolean }>();
  for (const tenant of tenants) {
    for (const [keys, admin] of [[tenant.apiKeys, false], [tenant.adminApiKeys, true]] as const) {
      for (const key of keys) {
        const digest = sha256(key);
        byDigest.set(digest.toString('hex'), { tenant: tenant.id, digest, admin });
      }
    }
  }
  return (authorization) => {
    const match = BEARER.exec(authorization ?? '');
    const digest = match ? sha256(match[1]!) : undefined;
    const found = digest ? byDigest.get(digest.toString('hex')) : undefined;
    // The map lookup is by digest; the compare below keeps the check constant-time anyway.
    if (digest === undefined || found === undefined || !timingSafeEqual(found.digest, digest)) return undefined;
    return { tenant: found.tenant, subject: `apikey:${digest.toString('hex').slice(0, 12)}`, admin: found.admin };
  };
}

export function apiKeyAuth(tenants: Config['tenants']): MiddlewareHandler<GatewayEnv> {
  const principalOf = apiKeyPrincipals(tenants);
  return async function auth(c, next) {
    if (tenants.length === 0) {
      c.set('principal', { tenant: DEFAULT_TENANT, subject: 'anonymous', admin: true });
      return next();
    }
    const header = c.req.header('authorization');
    const principal = principalOf(header);
    if (principal === undefined) {
      const response = jsonRpcErrorResponse(401, null, UNAUTHORIZED, BEARER.test(header ?? '') ? 'Unauthorized: unknown API key' : 'Unauthorized: missing Authorization: Bearer <api key>');
      response.headers.set('WWW-Authenticate', 'Bearer realm="switchyard"');
      return response;
    }
    c.set('principal', principal);
    return next();
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
