// The hash chain that makes the audit log tamper-evident: per tenant, record n carries sequence
// number n and hash_n = SHA-256(hash_{n-1} + "\n" + canonical JSON of the record with its tenant
// and sequence number). Changing, removing or reordering a stored record breaks the chain at that
// record, and verify names its sequence number. Rewriting the whole chain from some record on is
// caught only against a head hash kept elsewhere: `switchyard audit verify` prints each head.
import { createHash } from 'node:crypto';
import type { AuditEntry, AuditRecord } from '../shared/audit.js';

/** The previous hash of a tenant's first record. */
export const GENESIS = '0'.repeat(64);

/** JSON with object keys sorted at every depth and undefined values dropped: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('canonicalJson: not representable in JSON');
    return text;
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The text a record's hash covers, and that the store keeps as the record's body. */
export function entryBody(record: AuditRecord, seq: number): string {
  return canonicalJson({ ...record, seq });
}

export function chainHash(prevHash: string, body: string): string {
  return sha256Hex(`${prevHash}\n${body}`);
}

/** Links a record onto its tenant's chain. */
export function link(record: AuditRecord, head: { seq: number; hash: string }): AuditEntry & { body: string } {
  const seq = head.seq + 1;
  const body = entryBody(record, seq);
  return { ...record, seq, prevHash: head.hash, hash: chainHash(head.hash, body), body };
}

/** A stored row as verify reads it: the body is the truth, the columns must agree with it. */
export interface StoredRow {
  tenant: string;
  seq: number;
  kind: string;
  key: string;
  body: string;
  prevHash: string;
  hash: string;
  /** The columns queries filter on: they must say what the body says. */
  indexed?: { at: number; subject: string | null; tool: string | null; outcome: string | null; correlationId: string | null };
}

export interface ChainCheck {
  tenant: string;
  ok: boolean;
  /** Records checked. */
  records: number;
  /** The last good record: give it to someone else to keep, and compare later. */
  head: { seq: number; hash: string };
  /** The first sequence number where the chain breaks, and why. */
  firstBad?: number;
  problem?: string;
}

/**
 * Checks one tenant's rows, in the store's sequence order. `expectedHead` is the head the store
 * keeps beside the chain (the last sequence number and hash it wrote): a chain that ends early
 * lost its last records.
 */
export function verifyChain(tenant: string, rows: Iterable<StoredRow>, expectedHead?: { seq: number; hash: string }): ChainCheck {
  let prev = { seq: 0, hash: GENESIS };
  let count = 0;
  const bad = (seq: number, problem: string): ChainCheck => ({ tenant, ok: false, records: count, head: prev, firstBad: seq, problem });
  for (const row of rows) {
    const expected = prev.seq + 1;
    if (row.seq !== expected) return bad(expected, row.seq > expected ? `record ${expected} is missing (next is ${row.seq})` : `record ${row.seq} appears again after ${prev.seq}`);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(row.body) as Record<string, unknown>;
    } catch {
      return bad(row.seq, 'the record is not JSON');
    }
    if (parsed.seq !== row.seq || parsed.tenant !== tenant || row.tenant !== tenant || parsed.kind !== row.kind || parsed.key !== row.key) {
      return bad(row.seq, 'the record does not belong at this place (its sequence number, tenant, kind or key differ from its row)');
    }
    if (row.indexed !== undefined && !indexedAgree(row.indexed, parsed)) return bad(row.seq, 'its searchable columns (time, subject, tool, outcome, correlation id) differ from its content');
    if (row.prevHash !== prev.hash) return bad(row.seq, 'its previous hash is not the hash of the record before it (reordered or removed records)');
    if (chainHash(prev.hash, row.body) !== row.hash) return bad(row.seq, 'its hash does not match its content (the record was changed)');
    if (canonicalJson(parsed) !== row.body) return bad(row.seq, 'its content is not in canonical form (the record was changed)');
    prev = { seq: row.seq, hash: row.hash };
    count++;
  }
  if (expectedHead !== undefined && (expectedHead.seq !== prev.seq || expectedHead.hash !== prev.hash)) {
    if (expectedHead.seq > prev.seq) return bad(prev.seq + 1, `the chain ends at ${prev.seq} but the store wrote up to ${expectedHead.seq} (records removed from the end)`);
    return bad(prev.seq, `the chain's head differs from the head the store recorded (${expectedHead.seq}:${expectedHead.hash.slice(0, 12)})`);
  }
  return { tenant, ok: true, records: count, head: prev };
}

function indexedAgree(indexed: NonNullable<StoredRow['indexed']>, body: Record<string, unknown>): boolean {
  const who = body.who as { subject?: unknown } | undefined;
  return (
    indexed.at === body.at &&
    indexed.subject === (who?.subject ?? null) &&
    indexed.tool === (body.tool ?? null) &&
    indexed.outcome === (body.outcome ?? null) &&
    indexed.correlationId === (body.correlationId ?? null)
  );
}
