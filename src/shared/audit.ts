// The audit log's records (docs/security.md, "Audit log"): what a call, a refusal or an operator
// action leaves behind. Types and pure code only: the key and call workflows build a call's record
// from its envelope and outcome, and an activity exports it (activities/audit.ts).
import type { CallEnvelope, CallOutcome } from './envelope.js';

export type AuditKind = 'call' | 'refusal' | 'operator';
export type OperatorAction = 'cancel' | 'redrive' | 'discard' | 'saga_abort';
export type AuditArgumentsMode = 'digest' | 'redacted' | 'full';

/** Who: from authentication only (a CLI operator: the OS user, via "cli"). Nothing secret. */
export interface AuditActor {
  subject: string;
  clientId?: string;
  /** An API key's fingerprint: the first 12 hex digits of its SHA-256, never the key. */
  keyFingerprint?: string;
  /** How the caller proved who it is (apikey, oauth, local), or where an operator acted (mcp, cli). */
  via?: string;
}

/** What the gateway adds to a call's envelope (config `audit`): the parts of "who" and "what" the envelope lacks. */
export interface EnvelopeAudit {
  clientId?: string;
  keyFingerprint?: string;
  via?: string;
  /** SHA-256 of the arguments' canonical JSON. */
  argumentsDigest: string;
  /** How the arguments go into the record: `full` takes the envelope's own; `redacted` this copy. */
  mode: AuditArgumentsMode;
  redacted?: Record<string, unknown>;
}

/** One record as appended; the store adds its place in the tenant's chain (AuditEntry). */
export interface AuditRecord {
  kind: AuditKind;
  tenant: string;
  /** Deduplication key within (tenant, kind): the correlation id for a call, a fresh id otherwise. */
  key: string;
  /** When it happened, epoch ms (a call: when it ended). */
  at: number;
  who: AuditActor;
  correlationId?: string;
  tool?: string;
  /** A call's arguments: always the digest; redacted or in full when configured. */
  arguments?: { digest: string; redacted?: Record<string, unknown>; full?: Record<string, unknown> };
  /** A call's times, epoch ms. `startedAt` is absent for a call that never started (cancelled or expired while queued). */
  times?: { acceptedAt: number; startedAt?: number; endedAt: number };
  /** A call's status, a refusal's reason, or an operator action's result. */
  outcome: string;
  action?: OperatorAction;
  /** Small, non-secret facts: a failure's reason and message, attempts, isError, the ordering key. */
  detail?: Record<string, unknown>;
}

/** A record in its tenant's hash chain. */
export interface AuditEntry extends AuditRecord {
  seq: number;
  prevHash: string;
  hash: string;
}

const MESSAGE_CHARS = 500;

/** The record of a call that ended, built in the workflow that ran it. */
export function callAuditRecord(envelope: CallEnvelope, startedAt: number | undefined, endedAt: number, outcome: CallOutcome): AuditRecord {
  const audit = envelope.audit!;
  const detail: Record<string, unknown> = {};
  if (outcome.status === 'completed') detail.isError = outcome.result.isError === true;
  else {
    if ('reason' in outcome) detail.reason = outcome.reason;
    if ('attempts' in outcome) detail.attempts = outcome.attempts;
    if ('code' in outcome && outcome.code !== undefined) detail.code = outcome.code;
    detail.message = outcome.message.slice(0, MESSAGE_CHARS);
  }
  if (envelope.orderingKey !== undefined) detail.orderingKey = envelope.orderingKey;
  if (envelope.idempotencyKey !== undefined) detail.idempotencyKey = envelope.idempotencyKey;
  if (envelope.saga !== undefined) detail.saga = envelope.saga;
  return {
    kind: 'call',
    tenant: envelope.tenant,
    key: envelope.correlationId,
    at: endedAt,
    who: {
      subject: envelope.principal,
      ...(audit.clientId !== undefined ? { clientId: audit.clientId } : {}),
      ...(audit.keyFingerprint !== undefined ? { keyFingerprint: audit.keyFingerprint } : {}),
      ...(audit.via !== undefined ? { via: audit.via } : {}),
    },
    correlationId: envelope.correlationId,
    tool: envelope.publicTool,
    arguments: {
      digest: audit.argumentsDigest,
      ...(audit.mode === 'redacted' && audit.redacted !== undefined ? { redacted: audit.redacted } : {}),
      ...(audit.mode === 'full' ? { full: envelope.arguments } : {}),
    },
    times: { acceptedAt: envelope.acceptedAt, ...(startedAt !== undefined ? { startedAt } : {}), endedAt },
    outcome: outcome.status,
    detail,
  };
}

/** Records for one export activity, in order, under `maxBytes` of JSON (always at least one). */
export function takeAuditBatch(queue: AuditRecord[], maxBytes: number): AuditRecord[] {
  let bytes = 0;
  let count = 0;
  while (count < queue.length) {
    bytes += JSON.stringify(queue[count]).length;
    if (count > 0 && bytes > maxBytes) break;
    count++;
  }
  return queue.splice(0, count);
}
