// The caller's access token, sealed by the gateway for the one use the worker may make of it: an
// RFC 8693 exchange for a token of a downstream server's audience (credentials.ts). AES-256-GCM
// under `auth.credentialKey`, with the tenant and subject as associated data, so a sealed token
// copied into another tenant's call does not open. Only ciphertext enters Temporal's history; the
// token is never forwarded anywhere.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'st1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CallerToken {
  token: string;
  /** Epoch milliseconds: the token's own expiry. */
  expiresAt: number;
}

/** Why a sealed token cannot be used. Fixed words: no part of the token is ever in them. */
export class SealedTokenError extends Error {
  override readonly name = 'SealedTokenError';
  constructor(readonly reason: 'credentials_expired' | 'credentials_unreadable') {
    super(reason);
  }
}

/** `auth.credentialKey`: 32 bytes, base64. The config schema checks the length. */
export function credentialKeyBytes(base64: string): Buffer {
  return Buffer.from(base64, 'base64');
}

function associatedData(tenant: string, subject: string): Buffer {
  return Buffer.from(`${VERSION}\n${tenant}\n${subject}`, 'utf8');
}

export function sealToken(key: Buffer, tenant: string, subject: string, token: CallerToken): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(tenant, subject));
  const body = Buffer.concat([cipher.update(JSON.stringify({ t: token.token, e: token.expiresAt }), 'utf8'), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
}

/** Opens a sealed token of this tenant and subject, or throws SealedTokenError (expired, or not ours). */
export function openToken(key: Buffer, tenant: string, subject: string, sealed: string, nowMs: number): CallerToken {
  const [version, encoded] = sealed.split('.', 2);
  if (version !== VERSION || encoded === undefined) throw new SealedTokenError('credentials_unreadable');
  const raw = Buffer.from(encoded, 'base64url');
  if (raw.length <= IV_BYTES + TAG_BYTES) throw new SealedTokenError('credentials_unreadable');
  let opened: { t?: unknown; e?: unknown };
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(associatedData(tenant, subject));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    opened = JSON.parse(plain.toString('utf8')) as { t?: unknown; e?: unknown };
  } catch {
    throw new SealedTokenError('credentials_unreadable');
  }
  if (typeof opened.t !== 'string' || typeof opened.e !== 'number') throw new SealedTokenError('credentials_unreadable');
  if (opened.e <= nowMs) throw new SealedTokenError('credentials_expired');
  return { token: opened.t, expiresAt: opened.e };
}
