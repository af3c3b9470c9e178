// API keys map a caller to a tenant: a SHA-256 lookup, then a constant-time compare.
import { createHash, timingSafeEqual } from 'node:crypto';
import { apiKeySecret, type Config } from '../../config/schema.js';
import type { Principal } from './principal.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The credential of an `Authorization: Bearer <credential>` header, or undefined. */
export function bearerCredential(authorization: string | undefined): string | undefined {
  return BEARER.exec(authorization ?? '')?.[1];
}

/**
 * Maps an Authorization header to the principal of its API key, or undefined for a missing or
 * unknown key. Shared by the /mcp middleware and the health endpoints (admin keys see detail).
 */
export function apiKeyPrincipals(tenants: Config['tenants']): (authorization: string | undefined) => Principal | undefined {
  const byDigest = new Map<string, { tenant: string; digest: Buffer; admin: boolean; keyName?: string }>();
  for (const tenant of tenants) {
    for (const [keys, admin] of [[tenant.apiKeys, false], [tenant.adminApiKeys, true]] as const) {
      for (const entry of keys) {
        const digest = sha256(apiKeySecret(entry));
        byDigest.set(digest.toString('hex'), { tenant: tenant.id, digest, admin, ...(typeof entry !== 'string' ? { keyName: entry.name } : {}) });
      }
    }
  }
  return (authorization) => {
    const credential = bearerCredential(authorization);
    const digest = credential !== undefined ? sha256(credential) : undefined;
    const found = digest ? byDigest.get(digest.toString('hex')) : undefined;
    // The map lookup is by digest; the compare below keeps the check constant-time anyway.
    if (digest === undefined || found === undefined || !timingSafeEqual(found.digest, digest)) return undefined;
    return {
      tenant: found.tenant,
      subject: `apikey:${digest.toString('hex').slice(0, 12)}`,
      admin: found.admin,
      via: 'apikey',
      ...(found.keyName !== undefined ? { keyName: found.keyName } : {}),
    };
  };
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
