// Checks an OAuth access token and returns its claims: a JWT against the issuer's signing keys
// (jose: issuer, audience, expiry with bounded skew, the algorithm allow-list), an opaque token by
// the issuer's introspection endpoint (RFC 7662) when one is configured. It never logs or returns
// the token; a refusal says why in a fixed, non-secret phrase.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { OAuthConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/log.js';
import { sha256 } from './api-keys.js';

export type TokenCheck =
  | { ok: true; claims: Record<string, unknown> }
  /** The token is not good here: 401 invalid_token. */
  | { ok: false; status: 401; reason: string }
  /** The authorization server could not be asked (discovery, JWKS or introspection failed): 503, retry later. */
  | { ok: false; status: 503; reason: string };

export interface TokenVerifier {
  verify(token: string): Promise<TokenCheck>;
}

export interface TokenVerifierDeps {
  log: Logger;
  /** For tests that count requests to the authorization server; default: global fetch. */
  fetch?: typeof fetch;
  now?: () => number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** After a failed discovery, requests wait this long before asking the authorization server again. */
const DISCOVERY_RETRY_MS = 5_000;
const INTROSPECTION_CACHE_MAX = 10_000;

export function createTokenVerifier(oauth: OAuthConfig, deps: TokenVerifierDeps): TokenVerifier {
  const fetchFn = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const audience = oauth.audience ?? [oauth.resource];
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let discoveryFailedAt = -Infinity;

  async function signingKeys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (keys !== undefined) return keys;
    if (now() - discoveryFailedAt < DISCOVERY_RETRY_MS) throw new Unreachable('authorization server metadata unavailable');
    discovering ??= (async () => {
      const jwksUri = oauth.jwksUri ?? (await discoverJwksUri(oauth.issuer, fetchFn));
      // A token with an unknown kid refetches at most once per cooldown; known keys are kept for cacheMaxAge.
      return createRemoteJWKSet(new URL(jwksUri), { cacheMaxAge: oauth.jwksCacheMs, cooldownDuration: oauth.jwksRefetchCooldownMs, timeoutDuration: 5_000 });
    })();
    try {
      keys = await discovering;
      return keys;
    } catch (error) {
      discoveryFailedAt = now();
      deps.log.warn('OAuth discovery failed', { issuer: oauth.issuer, error: (error as Error).message });
      throw new Unreachable('authorization server metadata unavailable');
    } finally {
      discovering = undefined;
    }
  }

  async function verifyJwt(token: string): Promise<TokenCheck> {
    try {
      const { payload } = await jwtVerify(token, await signingKeys(), {
        issuer: oauth.issuer,
        audience,
        algorithms: oauth.algorithms,
        clockTolerance: oauth.clockToleranceSec,
        requiredClaims: ['exp'],
        ...(oauth.requireJwtType !== undefined ? { typ: oauth.requireJwtType } : {}),
        currentDate: new Date(now()),
      });
      return { ok: true, claims: payload as Record<string, unknown> };
    } catch (error) {
      return jwtRefusal(error, deps.log);
    }
  }

  const introspected = new Map<string, { until: number; check: TokenCheck }>();

  async function introspect(token: string): Promise<TokenCheck> {
    const config = oauth.introspection!;
    const key = sha256(token).toString('base64url');
    const cached = introspected.get(key);
    if (cached !== undefined && cached.until > now()) return cached.check;
    let body: Record<string, unknown>;
    try {
      const response = await fetchFn(config.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(config.clientId)}:${encodeURIComponent(config.clientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(config.timeoutMs),
      });
      if (!response.ok) throw new Error(`introspection answered HTTP ${response.status}`);
      body = (await response.json()) as Record<string, unknown>;
    } catch (error) {
      deps.log.warn('token introspection failed', { endpoint: config.endpoint, error: (error as Error).message });
      return { ok: false, status: 503, reason: 'token introspection unavailable' };
    }
    const check = introspectionCheck(body, oauth, audience, now());
    const exp = typeof body.exp === 'number' ? body.exp * 1000 : Infinity;
    // Never reuse an answer past the token's own expiry.
    const until = Math.min(now() + config.cacheMs, exp);
    if (introspected.size >= INTROSPECTION_CACHE_MAX) introspected.delete(introspected.keys().next().value!);
    if (config.cacheMs > 0) introspected.set(key, { until, check });
    return check;
  }

  return {
    async verify(token) {
      try {
        if (JWT_SHAPE.test(token)) return await verifyJwt(token);
        if (oauth.introspection !== undefined) return await introspect(token);
        return { ok: false, status: 401, reason: 'not a JWT access token' };
      } catch (error) {
        if (error instanceof Unreachable) return { ok: false, status: 503, reason: error.message };
        throw error;
      }
    },
  };
}

class Unreachable extends Error {}

/** RFC 8414 first (the well-known path inserted before the issuer's path), then OpenID discovery. */
async function discoverJwksUri(issuer: string, fetchFn: typeof fetch): Promise<string> {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const candidates = [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}${path}/.well-known/openid-configuration`];
  const problems: string[] = [];
  for (const candidate of candidates) {
    try {
      const response = await fetchFn(candidate, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5_000) });
      if (!response.ok) {
        problems.push(`${candidate}: HTTP ${response.status}`);
        continue;
      }
      const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
      // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
      if (metadata.issuer !== issuer) throw new Error(`${candidate} names issuer ${String(metadata.issuer)}, not ${issuer}`);
      if (typeof metadata.jwks_uri !== 'string') throw new Error(`${candidate} has no jwks_uri`);
      return metadata.jwks_uri;
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  throw new Error(problems.join('; '));
}

function jwtRefusal(error: unknown, log: Logger): TokenCheck {
  const refuse = (reason: string): TokenCheck => ({ ok: false, status: 401, reason });
  if (error instanceof Unreachable) return { ok: false, status: 503, reason: error.message };
  if (error instanceof errors.JWTExpired) return refuse('token expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return refuse('token not issued for this resource (aud)');
    if (error.claim === 'iss') return refuse('token from another issuer');
    if (error.claim === 'nbf' || error.claim === 'iat') return refuse('token not yet valid');
    return refuse(`token claim ${error.claim} invalid`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return refuse('token algorithm not allowed');
  if (error instanceof errors.JOSENotSupported) return refuse('token algorithm not supported');
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSMultipleMatchingKeys) {
    return refuse('token signature not verified by the issuer\'s keys');
  }
  // jose has no class of its own for a JWKS answer that is not 200 or not JSON: only its message says so.
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error instanceof TypeError || (error instanceof errors.JOSEError && /JSON Web Key Set HTTP response/.test(error.message))) {
    log.warn('JWKS fetch failed', { error: (error as Error).message });
    return { ok: false, status: 503, reason: 'authorization server keys unavailable' };
  }
  if (error instanceof errors.JOSEError) return refuse('malformed token');
  throw error;
}

/** RFC 7662: `active`, then the same issuer, audience and expiry checks as a JWT's. */
function introspectionCheck(body: Record<string, unknown>, oauth: OAuthConfig, audience: string[], nowMs: number): TokenCheck {
  const refuse = (reason: string): TokenCheck => ({ ok: false, status: 401, reason });
  if (body.active !== true) return refuse('token not active');
  if (body.iss !== undefined && body.iss !== oauth.issuer) return refuse('token from another issuer');
  const aud = typeof body.aud === 'string' ? [body.aud] : Array.isArray(body.aud) ? body.aud : [];
  if (!aud.some((a) => audience.includes(a as string))) return refuse('token not issued for this resource (aud)');
  if (typeof body.exp === 'number' && body.exp * 1000 + oauth.clockToleranceSec * 1000 <= nowMs) return refuse('token expired');
  const claims = { ...body } as JWTPayload & Record<string, unknown>;
  delete claims.active;
  return { ok: true, claims };
}
