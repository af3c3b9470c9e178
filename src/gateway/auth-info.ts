// The principal rides through the MCP SDK (v1 for the legacy leg, v2 for the 2026-07-28 leg) as
// the SDK's AuthInfo, the one per-request value both pass to handlers untouched. The caller's
// token is never put here (`token` stays empty): nothing past the gateway can forward it. Only
// its sealed form rides along, for a server that exchanges it (principal.ts `credential`).
import type { Principal } from './auth/principal.js';

/** The fields of the SDKs' AuthInfo that the broker sets and reads. */
export interface PrincipalAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  extra?: Record<string, unknown>;
}

export function authInfoOf(principal: Principal): PrincipalAuthInfo {
  const { tenant, admin, via, issuer, clientId, groups, roles, keyName, credential } = principal;
  return { token: '', clientId: principal.subject, scopes: principal.scopes ?? [], extra: { tenant, admin, via, issuer, clientId, groups, roles, keyName, credential } };
}

export function principalOf(authInfo: PrincipalAuthInfo | undefined): Principal {
  const extra = authInfo?.extra;
  const tenant = extra?.tenant;
  if (typeof tenant !== 'string' || authInfo === undefined) throw new Error('request reached a handler without a principal');
  const principal: Principal = { tenant, subject: authInfo.clientId, admin: extra?.admin === true };
  if (extra?.via === 'apikey' || extra?.via === 'oauth' || extra?.via === 'local') principal.via = extra.via;
  if (typeof extra?.issuer === 'string') principal.issuer = extra.issuer;
  if (typeof extra?.clientId === 'string') principal.clientId = extra.clientId;
  if (Array.isArray(extra?.groups)) principal.groups = extra.groups as string[];
  if (Array.isArray(extra?.roles)) principal.roles = extra.roles as string[];
  if (typeof extra?.keyName === 'string') principal.keyName = extra.keyName;
  if (typeof extra?.credential === 'string') principal.credential = extra.credential;
  if (authInfo.scopes.length > 0) principal.scopes = authInfo.scopes;
  return principal;
}
