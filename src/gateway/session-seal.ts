// Sealed MCP session ids (2025 clients): the id itself says which tenant and which principal
// (a digest of its subject, so no email address travels in the id) opened the session and when,
// signed with HMAC-SHA256 under `gateway.sessions.key`. Any gateway that shares the key can
// serve a request of a session it did not open, with no shared store and no sticky routing
// (sessions.ts). A session cannot be revoked everywhere, since nothing is stored: it is valid
// until `gateway.sessions.maxAgeMs` after it opened, and a session that ends (DELETE, idle) is
// refused by the gateway that held it. The id is visible ASCII (base64url and dots), as the
// Streamable HTTP transport requires.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 's1';

export interface SealedSession {
  tenant: string;
  /** Epoch milliseconds when the session opened. */
  openedAt: number;
  /** ownerDigest() of the subject that opened it; absent in ids sealed before sessions had owners. */
  owner?: string;
}

/** What a sealed id records of the principal that opened a session: only another request of it may use the session. */
export function ownerDigest(subject: string): string {
  return createHash('sha256').update(subject, 'utf8').digest('base64url').slice(0, 22);
}

export class SessionSeal {
  constructor(
    private readonly key: Buffer,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (key.length < 32) throw new Error('a session key needs at least 32 bytes');
  }

  /** A new session id for a tenant and its opener (a subject); unguessable (96 random bits) and unforgeable without the key. */
  issue(tenant: string, subject?: string): string {
    const owner = subject !== undefined ? { u: ownerDigest(subject) } : {};
    const payload = Buffer.from(JSON.stringify({ t: tenant, ...owner, o: this.now(), n: randomBytes(12).toString('base64url') }), 'utf8').toString('base64url');
    return `${VERSION}.${payload}.${this.mac(payload)}`;
  }

  /** What a session id says, or undefined when it is not one of ours, was altered, or has expired. */
  open(id: string): SealedSession | undefined {
    const [version, payload, mac, ...rest] = id.split('.');
    if (version !== VERSION || payload === undefined || mac === undefined || rest.length > 0) return undefined;
    const expected = Buffer.from(this.mac(payload), 'utf8');
    const given = Buffer.from(mac, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const { t, o, u } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { t?: unknown; o?: unknown; u?: unknown };
      if (typeof t !== 'string' || typeof o !== 'number') return undefined;
      if (this.now() - o > this.maxAgeMs) return undefined;
      return { tenant: t, openedAt: o, ...(typeof u === 'string' ? { owner: u } : {}) };
    } catch {
      return undefined;
    }
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(`${VERSION}.${payload}`, 'utf8').digest('base64url');
  }
}
