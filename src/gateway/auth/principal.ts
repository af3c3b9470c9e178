// Who is calling: the one identity the gateway hands to handlers, whichever credential proved it.
// It holds nothing secret: never the token or the key, only names derived from them (and, for
// token exchange, the token sealed under a key that only gateways and workers hold).

export interface Principal {
  tenant: string;
  /**
   * A stable, non-secret name for the caller: "apikey:<hash prefix>", "oauth:<sub>" or
   * "anonymous". Sessions are bound to it (sessions.ts), and it appears in logs.
   */
  subject: string;
  /** May use the dead-letter tools of its tenant. The keyless local mode is its own operator. */
  admin: boolean;
  /** Which credential proved it. Absent means an API key (the only kind before OAuth). */
  via?: 'apikey' | 'oauth' | 'local';
  /** OAuth only: the token's issuer and client. */
  issuer?: string;
  clientId?: string;
  /** OAuth only: the token's scopes, and the caller's groups and roles (from the configured claims). */
  scopes?: string[];
  groups?: string[];
  roles?: string[];
  /** API keys only: the key's name, when the config gives it one (tenants[].apiKeys[].name). */
  keyName?: string;
  /**
   * OAuth only, and only when a server exchanges callers' tokens: the token sealed for the worker
   * (downstream/sealed-token.ts). Ciphertext bound to this tenant and subject; the one trace of
   * the token past the middleware.
   */
  credential?: string;
}
