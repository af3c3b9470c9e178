// `switchyard audit list|show|export|verify`: the operator's side of the audit log. It reads the
// store the config names (audit.store) directly; neither Temporal nor the gateway need run.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { openAuditStore } from '../audit/open.js';
import type { AuditFilter, AuditStore } from '../audit/store.js';
import type { Config } from '../config/schema.js';
import type { AuditEntry, AuditKind } from '../shared/audit.js';

export const AUDIT_USAGE = `Usage: switchyard audit <list|show|export|verify> [filters] [--json]

  list                 records, oldest first per tenant (at most --limit, default 100)
  show SEQ             one record in full (needs --tenant); or show CORRELATION_ID: a call's records
  export               every matching record as JSON lines, to stdout or --output FILE
  verify               checks each tenant's hash chain (or --tenant's); exits 1 naming the first bad
                       sequence number, and prints each head (sequence number and hash) to keep elsewhere

Filters: --tenant ID --subject S --tool NAME --outcome O --kind call|refusal|operator
         --since TIME --until TIME (ISO 8601, or epoch milliseconds) --limit N`;

export interface AuditArgs {
  action: string | undefined;
  id: string | undefined;
  tenant?: string | undefined;
  subject?: string | undefined;
  tool?: string | undefined;
  outcome?: string | undefined;
  kind?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: string | undefined;
  output?: string | undefined;
  json: boolean;
}

const KINDS: readonly AuditKind[] = ['call', 'refusal', 'operator'];

export async function runAudit(args: AuditArgs, config: Config, out: (text: string) => void, err: (text: string) => void, cwd: string): Promise<number> {
  const { action } = args;
  if (action === undefined || !['list', 'show', 'export', 'verify'].includes(action)) {
    err(`switchyard audit: expected list, show, export or verify\n\n${AUDIT_USAGE}\n`);
    return 2;
  }
  let filter: AuditFilter;
  try {
    filter = filterOf(args);
  } catch (error) {
    err(`switchyard audit ${action}: ${(error as Error).message}\n`);
    return 2;
  }
  if (action === 'show' && args.id === undefined) {
    err('switchyard audit show: expected a sequence number (with --tenant) or a correlation id\n');
    return 2;
  }
  if (action === 'show' && /^\d+$/.test(args.id!) && args.tenant === undefined) {
    err('switchyard audit show: a sequence number is per tenant: give --tenant\n');
    return 2;
  }
  const store = await openAuditStore(config, cwd);
  if (store === undefined) {
    err('switchyard audit: the audit log is off (audit.enabled: false)\n');
    return 2;
  }
  try {
    switch (action) {
      case 'verify':
        return await verify(store, args.tenant, out, args.json);
      case 'show':
        return await show(store, args, out, err);
      case 'export':
        return await exportLines(store, filter, args.output, out);
      default: {
        const entries = await store.list({ ...filter, limit: filter.limit ?? 100 });
        if (args.json) out(`${JSON.stringify(entries, null, 2)}\n`);
        else if (entries.length === 0) out('No audit records.\n');
        else for (const entry of entries) out(`${line(entry)}\n`);
        return 0;
      }
    }
  } finally {
    await store.close();
  }
}

async function verify(store: AuditStore, tenant: string | undefined, out: (text: string) => void, json: boolean): Promise<number> {
  const checks = await store.verify(tenant);
  if (json) out(`${JSON.stringify(checks, null, 2)}\n`);
  else if (checks.length === 0) out(`No audit records${tenant !== undefined ? ` for tenant ${tenant}` : ''}.\n`);
  else {
    for (const c of checks) {
      out(
        c.ok
          ? `ok      tenant ${c.tenant}: ${c.records} records, head ${c.head.seq}:${c.head.hash}\n`
          : `BROKEN  tenant ${c.tenant}: first bad sequence number ${c.firstBad}: ${c.problem} (${c.records} good records before it)\n`,
      );
    }
  }
  return checks.every((c) => c.ok) ? 0 : 1;
}

async function show(store: AuditStore, args: AuditArgs, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const id = args.id!;
  const entries = /^\d+$/.test(id)
    ? [await store.get(args.tenant!, Number(id))].filter((e): e is AuditEntry => e !== undefined)
    : await store.list({ correlationId: id, ...(args.tenant !== undefined ? { tenant: args.tenant } : {}) });
  if (entries.length === 0) {
    err(`switchyard audit show: no record ${id}${args.tenant !== undefined ? ` in tenant ${args.tenant}` : ''}\n`);
    return 1;
  }
  out(`${entries.map((e) => JSON.stringify(e, null, 2)).join('\n')}\n`);
  return 0;
}

async function exportLines(store: AuditStore, filter: AuditFilter, output: string | undefined, out: (text: string) => void): Promise<number> {
  const file = output !== undefined ? createWriteStream(output, { flags: 'w' }) : undefined;
  const write = async (text: string) => {
    if (file === undefined) return out(text);
    if (!file.write(text)) await once(file, 'drain');
  };
  // Page by (tenant, sequence number), so an export of any size holds one page at a time.
  const PAGE = 1_000;
  let written = 0;
  let after: { tenant: string; seq: number } | undefined;
  for (;;) {
    const want = filter.limit !== undefined ? Math.min(PAGE, filter.limit - written) : PAGE;
    if (want <= 0) break;
    const page = await store.list({ ...filter, ...(after !== undefined ? { after } : {}), limit: want });
    for (const entry of page) await write(`${JSON.stringify(entry)}\n`);
    written += page.length;
    if (page.length < want) break;
    const last = page.at(-1)!;
    after = { tenant: last.tenant, seq: last.seq };
  }
  if (file !== undefined) {
    file.end();
    await once(file, 'finish');
  }
  return 0;
}

function filterOf(args: AuditArgs): AuditFilter {
  const time = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(ms)) throw new Error(`--${name} must be an ISO 8601 time or epoch milliseconds, not "${text}"`);
    return ms;
  };
  if (args.kind !== undefined && !KINDS.includes(args.kind as AuditKind)) throw new Error(`--kind must be one of ${KINDS.join(', ')}`);
  if (args.limit !== undefined && !/^[1-9]\d{0,8}$/.test(args.limit)) throw new Error('--limit must be a positive whole number');
  const since = time('since', args.since);
  const until = time('until', args.until);
  return {
    ...(args.tenant !== undefined ? { tenant: args.tenant } : {}),
    ...(args.subject !== undefined ? { subject: args.subject } : {}),
    ...(args.tool !== undefined ? { tool: args.tool } : {}),
    ...(args.outcome !== undefined ? { outcome: args.outcome } : {}),
    ...(args.kind !== undefined ? { kind: args.kind as AuditKind } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(args.limit !== undefined ? { limit: Number(args.limit) } : {}),
  };
}

function line(e: AuditEntry): string {
  const what = e.kind === 'operator' ? `${e.action} ${e.correlationId ?? (e.detail?.sagaId as string | undefined) ?? ''}` : e.kind === 'refusal' ? `refused ${e.tool ?? (e.detail?.method as string | undefined) ?? ''}` : `${e.tool} ${e.correlationId}`;
  return `${e.tenant}#${e.seq}  ${new Date(e.at).toISOString()}  ${e.kind.padEnd(8)}  ${e.who.subject}  ${what}  ${e.outcome}`;
}
