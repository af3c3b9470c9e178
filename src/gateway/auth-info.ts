// The principal rides through the MCP SDK (v1 for the legacy leg, v2 for the 2026-07-28 leg) as
// the SDK's AuthInfo, the one per-request value both pass to handlers untouched.
import type { Principal } from './middleware/auth.js';

/** The fields of the SDKs' AuthInfo that the broker sets and reads. */
export interface PrincipalAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  extra?: Record<string, unknown>;
}

export function authInfoOf(principal: Principal): PrincipalAuthInfo {
  return { token: '', clientId: principal.subject, scopes: [], extra: { tenant: principal.tenant, admin: principal.admin } };
}

export function principalOf(authInfo: PrincipalAuthInfo | undefined): Principal {
  const tenant = authInfo?.extra?.tenant;
  if (typeof tenant !== 'string' || authInfo === undefined) throw new Error('request reached a handler without a principal');
  return { tenant, subject: authInfo.clientId, admin: authInfo.extra?.admin === true };
}
