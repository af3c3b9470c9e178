// Who may use /mcp. In order (docs/auth-design.md, "Identity"):
// 1. No tenants and no auth.oauth: a single "default" tenant without authentication; the config
//    only allows that on a loopback bind.
// 2. An API key of a tenant (a SHA-256 lookup, microseconds).
// 3. With auth.oauth: an OAuth access token (a JWT checked against the issuer's keys, or an
//    opaque token by introspection), its tenant and subject from the configured claims.
// Refusals keep /mcp's JSON-RPC error bodies; with OAuth the challenge points to the Protected
// Resource Metadata, so a connector can discover the authorization server (MCP authorization spec).
import type { MiddlewareHandler } from 'hono';
import { actorOf } from '../../audit/arguments.js';
import type { AuditSink } from '../../audit/sink.js';
import type { Config } from '../../config/schema.js';
import { credentialKeyBytes, sealToken } from '../../downstream/sealed-token.js';
import type { Logger } from '../../observability/log.js';
import { apiKeyPrincipals, bearerCredential } from '../auth/api-keys.js';
import { principalFromClaims } from '../auth/claims.js';
import { bearerChallenge, type Challenge } from '../auth/resource-metadata.js';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import { jsonRpcErrorResponse, REQUEST_REFUSED, UNAUTHORIZED } from '../jsonrpc.js';
import type { GatewayEnv } from '../types.js';

import type { Principal } from '../auth/principal.js';
export type { Principal } from '../auth/principal.js';
export { apiKeyPrincipals } from '../auth/api-keys.js';

export const DEFAULT_TENANT = 'default';

export interface AuthOptions {
  tenants: Config['tenants'];
  oauth?: Config['auth']['oauth'];
  log: Logger;
  /** `auth.credentialKey`, when a server exchanges callers' tokens: the middleware seals each token for the worker. */
  credentialKey?: string;
  /** Given by tests; default: built from `oauth`. */
  verifier?: TokenVerifier;
  /** Refusals go to the audit log (never the credential: at most an API key's fingerprint). */
  audit?: AuditSink;
}

export function auth(options: AuthOptions): MiddlewareHandler<GatewayEnv> {
  const { tenants, oauth, log } = options;
  const principalOf = apiKeyPrincipals(tenants);
  const verifier = oauth !== undefined ? (options.verifier ?? createTokenVerifier(oauth, { log })) : undefined;
  const sealKey = options.credentialKey !== undefined ? credentialKeyBytes(options.credentialKey) : undefined;

  const refuse = (status: 401 | 403, message: string, challenge: Challenge, who?: { tenant?: string; principal?: Principal; subject?: string }): Response => {
    options.audit?.recordRefusal({
      ...(who?.tenant !== undefined ? { tenant: who.tenant } : {}),
      who: who?.principal !== undefined ? actorOf(who.principal) : { subject: who?.subject ?? 'unknown' },
      reason: status === 401 ? 'unauthenticated' : 'forbidden',
      message,
    });
    return jsonRpcErrorResponse(status, null, UNAUTHORIZED, message, {
      'www-authenticate': oauth !== undefined ? bearerChallenge(oauth, challenge) : 'Bearer realm="switchyard"',
    });
  };

  return async function auth(c, next) {
    if (tenants.length === 0 && oauth === undefined) {
      c.set('principal', { tenant: DEFAULT_TENANT, subject: 'anonymous', admin: true, via: 'local' });
      return next();
    }
    const header = c.req.header('authorization');
    const credential = bearerCredential(header);
    if (credential === undefined) {
      return refuse(401, `Unauthorized: missing Authorization: Bearer <${oauth !== undefined ? 'access token or API key' : 'api key'}>`, { kind: 'missing' });
    }
    const keyPrincipal = principalOf(header);
    if (keyPrincipal !== undefined) {
      c.set('principal', keyPrincipal);
      return next();
    }
    if (oauth === undefined || verifier === undefined) return refuse(401, 'Unauthorized: unknown API key', { kind: 'missing' });

    const check = await verifier.verify(credential);
    if (!check.ok) {
      if (check.status === 503) return jsonRpcErrorResponse(503, null, REQUEST_REFUSED, `Service unavailable: ${check.reason}; retry later`, { 'retry-after': '5' });
      return refuse(401, `Unauthorized: ${check.reason}`, { kind: 'invalid_token', description: check.reason });
    }
    const mapped = principalFromClaims(check.claims, oauth, tenants);
    // A good token that names no tenant of ours: another login will not help, so no error code.
    if (!mapped.ok) return refuse(403, `Forbidden: ${mapped.reason}`, { kind: 'missing' }, { subject: subjectOf(check.claims, oauth.claims.subject) });
    const granted = new Set(mapped.principal.scopes);
    const missing = oauth.requiredScopes.filter((s) => !granted.has(s));
    if (missing.length > 0) {
      return refuse(403, `Forbidden: the token lacks scope ${missing.join(', ')}`, {
        kind: 'insufficient_scope',
        description: `requires scope ${oauth.requiredScopes.join(' ')}`,
        // Every scope the request needs, in one challenge: the client asks for them and steps up once.
        scopes: oauth.requiredScopes,
      }, { tenant: mapped.principal.tenant, principal: mapped.principal });
    }
    if (sealKey !== undefined) {
      // The token's own expiry; an opaque token's introspection answer may lack one: an hour at most.
      const expiresAt = typeof check.claims.exp === 'number' ? check.claims.exp * 1000 : Date.now() + 3_600_000;
      mapped.principal.credential = sealToken(sealKey, mapped.principal.tenant, mapped.principal.subject, { token: credential, expiresAt });
    }
    c.set('principal', mapped.principal);
    return next();
  };
}

/** A refused token's subject, for the audit log: the claim, as an "oauth:" name like a principal's. */
function subjectOf(claims: Record<string, unknown>, claim: string): string {
  const value = claims[claim];
  return typeof value === 'string' ? `oauth:${value.slice(0, 200)}` : 'unknown';
}
