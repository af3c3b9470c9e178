// What the gateway puts in a call's envelope for its audit record (config `audit`): the parts of
// "who" that the envelope's subject does not say, and the arguments as the config wants them
// recorded. The digest is computed here, once, because workflow code cannot hash.
import { createHmac } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Principal } from '../gateway/auth/principal.js';
import type { AuditActor, EnvelopeAudit } from '../shared/audit.js';
import { canonicalJson, sha256Hex } from './chain.js';

export const REDACTED = '[redacted]';

export function envelopeAudit(principal: Principal, args: Record<string, unknown>, audit: Config['audit']): EnvelopeAudit {
  const actor = actorOf(principal);
  return {
    ...(actor.clientId !== undefined ? { clientId: actor.clientId } : {}),
    ...(actor.keyFingerprint !== undefined ? { keyFingerprint: actor.keyFingerprint } : {}),
    ...(actor.via !== undefined ? { via: actor.via } : {}),
    argumentsDigest: argumentsDigest(args, audit.digestKey),
    mode: audit.arguments,
    ...(audit.arguments === 'redacted' ? { redacted: redact(args, new Set(audit.redactKeys.map((k) => k.toLowerCase()))) as Record<string, unknown> } : {}),
  };
}

/**
 * The digest of the arguments' canonical JSON: the same arguments give the same digest, whatever
 * their key order. HMAC-SHA-256 under `audit.digestKey` when set (a reader cannot test guesses),
 * else SHA-256.
 */
export function argumentsDigest(args: Record<string, unknown>, key?: string): string {
  const text = canonicalJson(args);
  return key === undefined ? sha256Hex(text) : createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** Who a principal is, for the log. An API key's principal carries its fingerprint in its subject (`apikey:<12 hex>`). */
export function actorOf(principal: Principal, via?: string): AuditActor {
  const fingerprint = principal.subject.startsWith('apikey:') ? principal.subject.slice('apikey:'.length) : undefined;
  return {
    subject: principal.subject,
    ...(principal.clientId !== undefined ? { clientId: principal.clientId } : {}),
    ...(fingerprint !== undefined ? { keyFingerprint: fingerprint } : {}),
    via: via ?? principal.via ?? 'apikey',
  };
}

function redact(value: unknown, keys: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, keys));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, keys.has(k.toLowerCase()) ? REDACTED : redact(v, keys)]));
}
