// Protected Resource Metadata (RFC 9728) and the Bearer challenges that point to it (RFC 6750
// §3, MCP authorization spec). The `resource` comes from config, never from the Host header,
// which anyone can forge behind a proxy.
import type { OAuthConfig } from '../../config/schema.js';

export const PRM_PATH = '/.well-known/oauth-protected-resource';

/** The PRM URL a client is sent to: the path-suffixed form (RFC 9728 §3.1) of the configured resource. */
export function resourceMetadataUrl(oauth: OAuthConfig): string {
  const resource = new URL(oauth.resource);
  const path = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  return `${resource.origin}${PRM_PATH}${path}`;
}

/** The paths this gateway serves the document at: the root form, `/mcp`, and the configured resource's own path. */
export function resourceMetadataPaths(oauth: OAuthConfig): string[] {
  const suffix = new URL(oauth.resource).pathname.replace(/\/$/, '');
  return [...new Set([PRM_PATH, `${PRM_PATH}/mcp`, ...(suffix === '' ? [] : [`${PRM_PATH}${suffix}`])])];
}

export function protectedResourceMetadata(oauth: OAuthConfig): Record<string, unknown> {
  const scopes = oauth.scopesSupported ?? oauth.requiredScopes;
  return {
    resource: oauth.resource,
    authorization_servers: [oauth.issuer],
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'Switchyard',
  };
}

export type Challenge =
  /** No token was sent: RFC 6750 §3.1 says to give no error code then. */
  | { kind: 'missing' }
  | { kind: 'invalid_token'; description: string }
  | { kind: 'insufficient_scope'; description: string; scopes: string[] };

/** The `WWW-Authenticate` value of a 401 or 403 from /mcp. */
export function bearerChallenge(oauth: OAuthConfig, challenge: Challenge): string {
  const params: Array<[string, string]> = [['resource_metadata', resourceMetadataUrl(oauth)]];
  // 403 names every scope the request needs, in one challenge, so a client steps up once.
  const scopes = challenge.kind === 'insufficient_scope' ? challenge.scopes : oauth.requiredScopes;
  if (scopes.length > 0) params.push(['scope', scopes.join(' ')]);
  if (challenge.kind !== 'missing') params.push(['error', challenge.kind], ['error_description', challenge.description]);
  return `Bearer ${params.map(([name, value]) => `${name}="${quoted(value)}"`).join(', ')}`;
}

/** A quoted-string body: no `"` or `\`, printable ASCII only (RFC 6750 §3). */
function quoted(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?');
}
