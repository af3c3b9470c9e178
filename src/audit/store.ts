// Where the audit log lives: a SQL database, SQLite embedded (node:sqlite) by default, PostgreSQL
// in production. Both keep the same two tables and share the append and query logic here; each
// dialect only says how to run a statement and a transaction. Appending is per tenant, under a
// lock on the tenant's head row, so gateways, workers and the CLI can append at once and each
// tenant's chain stays one line. A record already stored (same tenant, kind and key: a call
// exported twice) is skipped, which is what makes at-least-once export exactly-once in the log.
import type { AuditEntry, AuditKind, AuditRecord } from '../shared/audit.js';
import { GENESIS, link, verifyChain, type ChainCheck, type StoredRow } from './chain.js';

export interface AuditFilter {
  /** Unset: every tenant (the operator's CLI only; tenant admins always give theirs). */
  tenant?: string;
  kind?: AuditKind;
  subject?: string;
  tool?: string;
  outcome?: string;
  correlationId?: string;
  /** On the record's time (`at`), epoch ms, inclusive. */
  since?: number;
  until?: number;
  /** Paging: records after this one, in (tenant, sequence number) order. */
  after?: { tenant: string; seq: number };
  limit?: number;
}

export interface AuditStore {
  /** Appends the records not stored yet; returns how many were new. */
  append(records: readonly AuditRecord[]): Promise<number>;
  /** Matching records, by tenant then sequence number. */
  list(filter: AuditFilter): Promise<AuditEntry[]>;
  get(tenant: string, seq: number): Promise<AuditEntry | undefined>;
  /** Checks each tenant's chain (or one tenant's). */
  verify(tenant?: string): Promise<ChainCheck[]>;
  close(): Promise<void>;
}

/** What a dialect provides: statements with `?` placeholders, and a transaction that holds a tenant's head. */
export interface SqlRunner {
  query<T extends Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  run(sql: string, params?: readonly unknown[]): Promise<void>;
}

export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  /** Runs `fn` in a transaction that may write; `tenant` is whose head it will lock. */
  transaction<T>(tenant: string, fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  readonly db: SqlRunner;
  /** `FOR UPDATE` where the database locks rows (SQLite's write transaction locks the whole file). */
  readonly lockRow: string;
  close(): Promise<void>;
}

export const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS audit_records (
    tenant TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    record_key TEXT NOT NULL,
    at BIGINT NOT NULL,
    subject TEXT,
    tool TEXT,
    outcome TEXT,
    correlation_id TEXT,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
  )`,
  // The deduplication key. A record whose seq was changed still keeps it, so a tampered row cannot
  // make room for a second copy.
  'CREATE UNIQUE INDEX IF NOT EXISTS audit_records_key ON audit_records (tenant, kind, record_key)',
  'CREATE INDEX IF NOT EXISTS audit_records_at ON audit_records (tenant, at)',
  'CREATE INDEX IF NOT EXISTS audit_records_correlation ON audit_records (correlation_id)',
  // The last sequence number and hash written per tenant: the row appends lock, and what verify
  // compares the chain's end with (records removed from the end).
  'CREATE TABLE IF NOT EXISTS audit_heads (tenant TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)',
];

export class SqlAuditStore implements AuditStore {
  constructor(private readonly dialect: SqlDialect) {}

  async append(records: readonly AuditRecord[]): Promise<number> {
    const byTenant = new Map<string, AuditRecord[]>();
    for (const record of records) byTenant.set(record.tenant, [...(byTenant.get(record.tenant) ?? []), record]);
    let added = 0;
    for (const [tenant, batch] of byTenant) added += await this.dialect.transaction(tenant, (tx) => this.appendTenant(tx, tenant, batch));
    return added;
  }

  private async appendTenant(tx: SqlRunner, tenant: string, records: AuditRecord[]): Promise<number> {
    await tx.run('INSERT INTO audit_heads (tenant, seq, hash) VALUES (?, 0, ?) ON CONFLICT (tenant) DO NOTHING', [tenant, GENESIS]);
    const [row] = await tx.query<{ seq: number | string; hash: string }>(`SELECT seq, hash FROM audit_heads WHERE tenant = ? ${this.dialect.lockRow}`, [tenant]);
    let head = { seq: Number(row!.seq), hash: row!.hash };
    let added = 0;
    for (const record of records) {
      const seen = await tx.query('SELECT 1 AS one FROM audit_records WHERE tenant = ? AND kind = ? AND record_key = ?', [tenant, record.kind, record.key]);
      if (seen.length > 0) continue;
      const entry = link(record, head);
      await tx.run(
        'INSERT INTO audit_records (tenant, seq, kind, record_key, at, subject, tool, outcome, correlation_id, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [tenant, entry.seq, record.kind, record.key, record.at, record.who.subject, record.tool ?? null, record.outcome, record.correlationId ?? null, entry.body, entry.prevHash, entry.hash],
      );
      head = { seq: entry.seq, hash: entry.hash };
      added++;
    }
    if (added > 0) await tx.run('UPDATE audit_heads SET seq = ?, hash = ? WHERE tenant = ?', [head.seq, head.hash, tenant]);
    return added;
  }

  async list(filter: AuditFilter): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      params.push(value);
    };
    if (filter.tenant !== undefined) add('tenant = ?', filter.tenant);
    if (filter.kind !== undefined) add('kind = ?', filter.kind);
    if (filter.subject !== undefined) add('subject = ?', filter.subject);
    if (filter.tool !== undefined) add('tool = ?', filter.tool);
    if (filter.outcome !== undefined) add('outcome = ?', filter.outcome);
    if (filter.correlationId !== undefined) add('correlation_id = ?', filter.correlationId);
    if (filter.since !== undefined) add('at >= ?', filter.since);
    if (filter.until !== undefined) add('at <= ?', filter.until);
    if (filter.after !== undefined) {
      where.push('(tenant > ? OR (tenant = ? AND seq > ?))');
      params.push(filter.after.tenant, filter.after.tenant, filter.after.seq);
    }
    const limit = filter.limit !== undefined ? ` LIMIT ${Math.max(1, Math.floor(filter.limit))}` : '';
    const rows = await this.dialect.db.query<RowShape>(`SELECT ${COLUMNS} FROM audit_records${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY tenant, seq${limit}`, params);
    return rows.map(toEntry);
  }

  async get(tenant: string, seq: number): Promise<AuditEntry | undefined> {
    const [row] = await this.dialect.db.query<RowShape>(`SELECT ${COLUMNS} FROM audit_records WHERE tenant = ? AND seq = ?`, [tenant, seq]);
    return row === undefined ? undefined : toEntry(row);
  }

  async verify(tenant?: string): Promise<ChainCheck[]> {
    const heads = await this.dialect.db.query<{ tenant: string; seq: number | string; hash: string }>(
      `SELECT tenant, seq, hash FROM audit_heads${tenant !== undefined ? ' WHERE tenant = ?' : ''} ORDER BY tenant`,
      tenant !== undefined ? [tenant] : [],
    );
    const tenants = new Map(heads.map((h) => [h.tenant, { seq: Number(h.seq), hash: h.hash }]));
    // Tenants with records but no head (the head row was deleted) are checked too.
    const more = await this.dialect.db.query<{ tenant: string }>(`SELECT DISTINCT tenant FROM audit_records${tenant !== undefined ? ' WHERE tenant = ?' : ''}`, tenant !== undefined ? [tenant] : []);
    for (const { tenant: t } of more) if (!tenants.has(t)) tenants.set(t, { seq: -1, hash: '' });
    const checks: ChainCheck[] = [];
    for (const [t, head] of [...tenants].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const rows = await this.dialect.db.query<RowShape>(`SELECT ${COLUMNS} FROM audit_records WHERE tenant = ? ORDER BY seq`, [t]);
      const stored: StoredRow[] = rows.map((r) => ({ tenant: r.tenant, seq: Number(r.seq), kind: r.kind, key: r.record_key,
        body: r.body,
        prevHash: r.prev_hash,
        hash: r.hash,
        indexed: { at: Number(r.at), subject: r.subject, tool: r.tool, outcome: r.outcome, correlationId: r.correlation_id },
      }));
      const check = verifyChain(t, stored, head.seq < 0 ? undefined : head);
      checks.push(head.seq < 0 && check.ok ? { ...check, ok: false, firstBad: check.head.seq, problem: 'the store has no head for this tenant (its head row was removed)' } : check);
    }
    return checks;
  }

  close(): Promise<void> {
    return this.dialect.close();
  }
}

const COLUMNS = 'tenant, seq, kind, record_key, at, subject, tool, outcome, correlation_id, body, prev_hash, hash';

interface RowShape extends Record<string, unknown> {
  tenant: string;
  seq: number | string;
  kind: string;
  record_key: string;
  at: number | string;
  subject: string | null;
  tool: string | null;
  outcome: string | null;
  correlation_id: string | null;
  body: string;
  prev_hash: string;
  hash: string;
}

function toEntry(row: RowShape): AuditEntry {
  const body = JSON.parse(row.body) as AuditRecord & { seq: number };
  return { ...body, seq: Number(row.seq), prevHash: row.prev_hash, hash: row.hash };
}
