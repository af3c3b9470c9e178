// What a downstream HTTP server is shown as the caller's credential (config `servers[].credentials`,
// docs/security.md "Per-user downstream credentials"):
//   static         the server's `headers`, for every request (the default);
//   tenantSecret   a header from the calling tenant's own secret, on its tool calls;
//   tokenExchange  an RFC 8693 exchange of the caller's token (sealed by the gateway,
//                  sealed-token.ts) for a token of the server's audience, done here, in the worker,
//                  at call time, and cached per (server, tenant, subject) until shortly before it
//                  expires. The broker's own requests (discovery, tools/list, health) carry a
//                  client_credentials token of the same audience when `connectionAuth` says so.
// Tokens never leave this file except as a request header: errors carry fixed reasons only.
import type { Config, ServerConfig } from '../config/schema.js';
import { credentialKeyBytes, openToken, SealedTokenError } from './sealed-token.js';

type HttpServer = Extract<ServerConfig, { transport: 'http' }>;
type ExchangeConfig = Extract<HttpServer['credentials'], { mode: 'tokenExchange' }>;

/** The caller of one tool call, as its envelope names it. */
export interface Caller {
  tenant: string;
  subject: string;
  /** The gateway's sealed copy of the caller's access token (tokenExchange servers only). */
  credential?: string;
}

/**
 * Why no credential could be had. `retryable`: the authorization server could not be reached or
 * failed (the tool request was not sent, so a retry is safe). Otherwise a fixed reason such as
 * `credentials_expired` or `token_exchange_failed: invalid_grant`.
 */
export class CredentialError extends Error {
  override readonly name = 'CredentialError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface CredentialsOptions {
  /** `auth.credentialKey`: opens the gateway's sealed tokens. */
  credentialKey?: string;
  now?: () => number;
  fetch?: typeof fetch;
}

export class DownstreamCredentials {
  private readonly key: Buffer | undefined;
  private readonly now: () => number;
  private readonly fetch: typeof fetch;
  private readonly cache = new Map<string, CachedToken>();
  /** One exchange in flight per cache key: a burst of calls by one user costs one exchange. */
  private readonly pending = new Map<string, Promise<CachedToken>>();
  /** Exchanges actually sent to the authorization server (the tests read it). */
  exchanges = 0;

  constructor(options: CredentialsOptions = {}) {
    this.key = options.credentialKey !== undefined ? credentialKeyBytes(options.credentialKey) : undefined;
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetch;
  }

  static fromConfig(config: Pick<Config, 'auth'>): DownstreamCredentials {
    return new DownstreamCredentials(config.auth.credentialKey !== undefined ? { credentialKey: config.auth.credentialKey } : {});
  }

  /** Headers for the broker's own requests to this server (connect, lists, health, pass-through). */
  async connectionHeaders(server: ServerConfig): Promise<Record<string, string>> {
    if (server.transport !== 'http') return {};
    const credentials = server.credentials;
    if (credentials.mode !== 'tokenExchange' || credentials.connectionAuth !== 'clientCredentials') return {};
    const token = await this.cached(`${server.id}\n#broker`, credentials, () => this.request(credentials, { grant_type: 'client_credentials' }));
    return { authorization: `Bearer ${token.token}` };
  }

  /** Headers for one tool call of this caller; {} when the server's credentials are static. */
  async callHeaders(server: ServerConfig, caller: Caller): Promise<Record<string, string>> {
    if (server.transport !== 'http') return {};
    const credentials = server.credentials;
    if (credentials.mode === 'static') return {};
    if (credentials.mode === 'tenantSecret') {
      const value = credentials.tenants[caller.tenant];
      if (value === undefined) throw new CredentialError(`server "${server.id}" has no credential for tenant "${caller.tenant}"`, false);
      return { [credentials.header]: value };
    }
    if (caller.credential === undefined) throw new CredentialError(`server "${server.id}" needs the caller's OAuth token, and this call carries none`, false);
    if (this.key === undefined) throw new CredentialError('auth.credentialKey is not configured on this worker', false);
    let subjectToken: string;
    try {
      subjectToken = openToken(this.key, caller.tenant, caller.subject, caller.credential, this.now()).token;
    } catch (error) {
      const reason = error instanceof SealedTokenError ? error.reason : 'credentials_unreadable';
      throw new CredentialError(
        reason === 'credentials_expired' ? "credentials_expired: the caller's token expired before the call ran; call again after signing in" : 'credentials_unreadable: the sealed token does not open with this worker\'s auth.credentialKey',
        false,
      );
    }
    const token = await this.cached(`${server.id}\n${caller.tenant}\n${caller.subject}`, credentials, () =>
      this.request(credentials, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, requested_token_type: ACCESS_TOKEN_TYPE }),
    );
    return { authorization: `Bearer ${token.token}` };
  }

  private async cached(cacheKey: string, credentials: ExchangeConfig, fetchToken: () => Promise<CachedToken>): Promise<CachedToken> {
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined && hit.expiresAt - credentials.refreshBeforeExpiryMs > this.now()) return hit;
    let pending = this.pending.get(cacheKey);
    if (pending === undefined) {
      pending = fetchToken().finally(() => this.pending.delete(cacheKey));
      this.pending.set(cacheKey, pending);
    }
    const token = await pending;
    this.cache.set(cacheKey, token);
    return token;
  }

  private async request(credentials: ExchangeConfig, grant: Record<string, string>): Promise<CachedToken> {
    const form = new URLSearchParams(grant);
    if (credentials.audience !== undefined) form.set('audience', credentials.audience);
    if (credentials.resource !== undefined) form.set('resource', credentials.resource);
    if (credentials.scope !== undefined) form.set('scope', credentials.scope);
    // RFC 6749 section 2.3.1: client id and secret form-urlencoded, then Basic.
    const basic = Buffer.from(`${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`).toString('base64');
    this.exchanges += 1;
    let response: Response;
    try {
      response = await this.fetch(credentials.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
        body: form,
        signal: AbortSignal.timeout(credentials.timeoutMs),
      });
    } catch {
      throw new CredentialError('token_exchange_failed: the authorization server did not answer', true);
    }
    const body = (await response.json().catch(() => undefined)) as { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    if (!response.ok || typeof body?.access_token !== 'string') {
      // Only the RFC 6749 error code, and only if it looks like one: an AS may echo input.
      const code = typeof body?.error === 'string' && /^[a-z_]{1,64}$/.test(body.error) ? body.error : `HTTP ${response.status}`;
      throw new CredentialError(`token_exchange_failed: ${code}`, response.status >= 500);
    }
    const lifetimeMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 300_000;
    return { token: body.access_token, expiresAt: this.now() + lifetimeMs };
  }
}
