// Who a verified token's claims say the caller is: its tenant, subject, client, scopes and groups,
// read from the claims named in auth.oauth.claims (the claims mapping).
import type { Config, OAuthConfig } from '../../config/schema.js';
import { sha256 } from './api-keys.js';
import type { Principal } from './principal.js';

export type ClaimsMapping = { ok: true; principal: Principal } | { ok: false; reason: string };

/** The token's scopes: OAuth `scope` (space-separated), or `scp` (Entra ID: a string; others: an array). */
export function scopesOf(claims: Record<string, unknown>): string[] {
  for (const name of ['scope', 'scp']) {
    const value = claims[name];
    if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
    if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  }
  return [];
}

export function principalFromClaims(claims: Record<string, unknown>, oauth: OAuthConfig, tenants: Config['tenants']): ClaimsMapping {
  const mapping = oauth.claims;
  let tenant = mapping.tenantFixed;
  if (mapping.tenant !== undefined) {
    const value = claims[mapping.tenant];
    const named = typeof value === 'string' ? value : Array.isArray(value) && value.length === 1 && typeof value[0] === 'string' ? value[0] : undefined;
    if (named === undefined) return { ok: false, reason: `the token has no single tenant in claim "${mapping.tenant}"` };
    // Unknown tenant names are not echoed: they may be another organisation's.
    if (!tenants.some((t) => t.id === named)) return { ok: false, reason: `the tenant in claim "${mapping.tenant}" is not configured here` };
    tenant = named;
  }
  const subject = claims[mapping.subject];
  if (typeof subject !== 'string' || subject === '') return { ok: false, reason: `the token has no subject claim "${mapping.subject}"` };
  const clientId = mapping.clientId.map((name) => claims[name]).find((v): v is string => typeof v === 'string');
  const groups = stringsOf(mapping.groups !== undefined ? claims[mapping.groups] : undefined);
  const roles = stringsOf(mapping.roles !== undefined ? claims[mapping.roles] : undefined);
  const adminClaim = mapping.admin !== undefined ? claims[mapping.admin] : undefined;
  const admin = adminClaim === true || (Array.isArray(adminClaim) && adminClaim.includes(mapping.adminValue)) || adminClaim === mapping.adminValue;
  return {
    ok: true,
    principal: {
      tenant: tenant!,
      subject: `oauth:${printableSubject(subject)}`,
      admin,
      via: 'oauth',
      issuer: oauth.issuer,
      ...(clientId !== undefined ? { clientId } : {}),
      scopes: scopesOf(claims),
      groups,
      ...(mapping.roles !== undefined ? { roles } : {}),
    },
  };
}

/** A claim holding names: an array of strings (anything else in it is dropped), or one string. */
function stringsOf(claim: unknown): string[] {
  if (typeof claim === 'string') return [claim];
  return Array.isArray(claim) ? claim.filter((g): g is string => typeof g === 'string') : [];
}

/**
 * A subject is logged and put into session ids and workflow inputs: printable ASCII, bounded. One
 * that is not is replaced by its digest, so two subjects never collide on the same name.
 */
function printableSubject(subject: string): string {
  if (/^[\x21-\x7e]{1,200}$/.test(subject)) return subject;
  return `sha256:${sha256(subject).toString('hex').slice(0, 32)}`;
}
