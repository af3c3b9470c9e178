// A real OAuth 2.1 authorization server for the tests: oidc-provider (OpenID Certified) in this
// process, on a loopback port. It issues JWT access tokens for a resource indicator (RFC 8707),
// registers clients dynamically (RFC 7591), requires PKCE, introspects (RFC 7662), and offers
// client_credentials for service tokens. Its login and consent pages are the provider's own dev
// interactions, which `authorize()` fills in as a user agent would, with a cookie jar and no
// browser. Its signing keys can be rotated: the provider is rebuilt with another key set, and its
// storage (module-global in oidc-provider's memory adapter) keeps the registered clients.
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider, { errors, type Configuration } from 'oidc-provider';

export interface AuthServerOptions {
  /** Resources it issues tokens for, and the scopes each allows. */
  resources: Record<string, string>;
  /** The tenant claim of a token, by account (authorization code) or client id (client credentials). */
  tenantOf: (who: string) => string | undefined;
  /** Static confidential clients, for client_credentials and introspection. */
  clients?: Array<{ clientId: string; secret: string; accessTokenFormat?: 'jwt' | 'opaque'; ttlSec?: number; tokenExchange?: boolean }>;
  /**
   * RFC 8693 token exchange, which oidc-provider lacks, added as a grant of its own
   * (`registerGrantType`): a client marked `tokenExchange` trades a valid access token of this
   * issuer for a JWT of one of these audiences, same subject and tenant, `act` naming the client.
   */
  exchangeAudiences?: string[];
  /** Lifetime of an exchanged token. */
  exchangeTtlSec?: number;
  /** More claims of a token, by account or client id (groups, roles). */
  claimsOf?: (who: string) => Record<string, unknown>;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export class AuthServer {
  private http: HttpServer | undefined;
  private port = 0;
  private provider!: Provider;
  /** Private signing keys, newest first: the provider signs with the first. */
  keys: JWK[] = [];
  /** Every request the provider served, by path (to count JWKS fetches). */
  readonly requests: string[] = [];
  /** Token exchanges granted: which client, for which subject and audience. */
  readonly exchanges: Array<{ clientId: string; subject: string; audience: string }> = [];

  constructor(private readonly options: AuthServerOptions) {}

  get issuer(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.http = createServer((req, res) => {
      this.requests.push(new URL(req.url ?? '/', this.issuer).pathname);
      void this.provider.callback()(req, res);
    });
    await new Promise<void>((resolve) => this.http!.listen(0, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
    this.keys = [await newSigningKey()];
    this.build();
    return this;
  }

  async stop(): Promise<void> {
    const http = this.http;
    this.http = undefined;
    if (!http) return;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  /** A new signing key in front; the old ones stay published, so their tokens stay valid. */
  async rotate(): Promise<void> {
    this.keys = [await newSigningKey(), ...this.keys];
    this.build();
  }

  /** Unpublishes every key but the newest. */
  dropOldKeys(): void {
    this.keys = this.keys.slice(0, 1);
    this.build();
  }

  /** A client_credentials token of a static client, for `resource`. */
  async serviceToken(clientId: string, resource: string, scope?: string): Promise<string> {
    const client = this.options.clients?.find((c) => c.clientId === clientId);
    if (client === undefined) throw new Error(`no static client ${clientId}`);
    const body = new URLSearchParams({ grant_type: 'client_credentials', resource, ...(scope !== undefined ? { scope } : {}) });
    const response = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${client.secret}`).toString('base64')}` },
      body,
    });
    const json = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
    if (json.access_token === undefined) throw new Error(`token request failed: ${json.error}: ${json.error_description}`);
    return json.access_token;
  }

  /**
   * Plays the user agent from an authorization URL to the client's redirect: follows redirects,
   * keeps cookies, logs in as `login` and consents on the provider's own pages. Returns the URL
   * the provider redirected to (carrying `code`, `state` and `iss`).
   */
  async authorize(authorizationUrl: URL, login: string, redirectUri: string): Promise<URL> {
    const jar = new Map<string, string>();
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const remember = (response: Response) => {
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const at = pair!.indexOf('=');
        jar.set(pair!.slice(0, at), pair!.slice(at + 1));
      }
    };
    let next: { url: string; init?: RequestInit } = { url: authorizationUrl.href };
    for (let hop = 0; hop < 20; hop++) {
      const response = await fetch(next.url, { ...next.init, redirect: 'manual', headers: { ...(next.init?.headers as Record<string, string>), cookie: cookie() } });
      remember(response);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        const target = new URL(location, next.url);
        if (target.href.startsWith(redirectUri)) return target;
        next = { url: target.href };
        continue;
      }
      const page = await response.text();
      if (response.status !== 200 || !next.url.includes('/interaction/')) throw new Error(`unexpected page ${response.status} at ${next.url}: ${page.slice(0, 300)}`);
      const form: Record<string, string> = page.includes('name="login"') ? { prompt: 'login', login, password: 'any' } : { prompt: 'consent' };
      next = { url: next.url, init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() } };
    }
    throw new Error('too many redirects');
  }

  /** The RFC 8693 grant: the subject token must be this issuer's, unexpired; the audience one of exchangeAudiences. */
  private async exchange(ctx: GrantContext): Promise<void> {
    const { params, client } = ctx.oidc;
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE || params.subject_token === undefined) throw new errors.InvalidRequest('subject_token and an access_token subject_token_type are required');
    const audience = params.audience ?? params.resource;
    if (audience === undefined || !(this.options.exchangeAudiences ?? []).includes(audience)) throw new errors.InvalidTarget();
    const publicKeys = createLocalJWKSet({ keys: this.keys.map(({ kty, n, e, kid, alg }) => ({ kty, n, e, kid, alg })) as JWK[] });
    let subject: JWTPayload;
    try {
      ({ payload: subject } = await jwtVerify(params.subject_token, publicKeys, { issuer: this.issuer }));
    } catch {
      throw new errors.InvalidGrant('subject_token is not a valid access token of this issuer');
    }
    const ttl = this.options.exchangeTtlSec ?? 300;
    const signing = this.keys[0]!;
    const token = await new SignJWT({ ...(subject.tenant !== undefined ? { tenant: subject.tenant } : {}), act: { sub: client.clientId }, ...(params.scope !== undefined ? { scope: params.scope } : {}) })
      .setProtectedHeader({ alg: 'RS256', kid: signing.kid!, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setSubject(String(subject.sub))
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .setJti(randomUUID())
      .sign(await importJWK(signing, 'RS256'));
    this.exchanges.push({ clientId: client.clientId, subject: String(subject.sub), audience });
    ctx.body = { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: ttl };
  }

  private build(): void {
    const { resources, tenantOf, clients = [] } = this.options;
    const configuration: Configuration = {
      jwks: { keys: this.keys },
      clients: clients.map((c) => ({ client_id: c.clientId, client_secret: c.secret, grant_types: ['client_credentials', ...(c.tokenExchange ? [TOKEN_EXCHANGE] : [])], redirect_uris: [], response_types: [] })),
      findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
      // The claims a real IdP would be told to add: the tenant, and for service tokens a subject
      // (oidc-provider sets `sub` of a JWT to the client id itself, but not in introspection).
      extraTokenClaims: (_ctx, token) => {
        const who = 'accountId' in token && typeof token.accountId === 'string' ? token.accountId : token.clientId!;
        const tenant = tenantOf(who);
        return { ...this.options.claimsOf?.(who), ...(tenant !== undefined ? { tenant } : {}), ...('accountId' in token && token.accountId ? {} : { sub: token.clientId }) };
      },
      ttl: {
        AccessToken: 600,
        ClientCredentials: (_ctx, _token, client) => clients.find((c) => c.clientId === client.clientId)?.ttlSec ?? 600,
        Interaction: 600,
        Session: 600,
        Grant: 600,
      },
      pkce: { required: () => true },
      // The scopes a client may register for and ask: OpenID's, and the resource's.
      scopes: ['openid', 'offline_access', ...new Set(Object.values(resources).flatMap((s) => s.split(' ')))],
      features: {
        devInteractions: { enabled: true },
        registration: { enabled: true },
        introspection: { enabled: true },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx, _client, oneOf) => oneOf ?? Object.keys(resources)[0]!,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource, client) => {
            const scope = resources[resource];
            if (scope === undefined) throw new errors.InvalidTarget();
            const format = clients.find((c) => c.clientId === client.clientId)?.accessTokenFormat ?? 'jwt';
            return { scope, audience: resource, accessTokenFormat: format, ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}) };
          },
        },
      },
    };
    this.provider = new Provider(this.issuer, configuration);
    this.provider.registerGrantType(TOKEN_EXCHANGE, (ctx) => this.exchange(ctx as never), ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope']);
    // Keep the test output quiet: the provider warns about its development defaults.
    this.provider.on('server_error', (_ctx, error) => console.error('oidc-provider error', error));
  }
}

interface GrantContext {
  oidc: { params: Record<string, string | undefined>; client: { clientId: string } };
  body: unknown;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}
