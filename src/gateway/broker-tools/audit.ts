// switchyard.audit_list: a tenant admin reads its own tenant's audit log (docs/security.md, "Audit
// log"). The tenant is the caller's, from authentication: there is no argument to name another.
import { z } from 'zod';
import { brokerTool } from './tool.js';

const MAX = 500;
const Time = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time, e.g. 2026-12-01T10:00:00Z' });

export const auditList = brokerTool({
  definition: {
    name: 'audit_list',
    title: 'List audit records',
    description:
      "This tenant's audit log: calls (who, what, when, outcome), refusals and operator actions, oldest first. " +
      'Each record carries its sequence number and hash in the tenant\'s chain. Needs an admin API key of the tenant.',
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  },
  input: z.strictObject({
    kind: z.enum(['call', 'refusal', 'operator'], { error: 'must be "call", "refusal" or "operator"' }).optional(),
    subject: z.string({ error: 'must be a string' }).max(300).optional(),
    tool: z.string({ error: 'must be a string' }).max(300).optional(),
    outcome: z.string({ error: 'must be a string' }).max(100).optional(),
    correlation_id: z.string({ error: 'must be a string' }).max(100).optional(),
    since: Time.optional(),
    until: Time.optional(),
    after_seq: z.number({ error: 'must be a whole number' }).int().min(0).optional().describe('Records after this sequence number (paging).'),
    limit: z.number({ error: 'must be a whole number' }).int().min(1).max(MAX).default(100),
  }),
  adminOnly: true,
  unavailable: 'Switchyard could not read the audit log; retry later.',
  async handler(deps, input, context) {
    const tenant = context.principal.tenant;
    if (deps.auditStore === undefined) return { content: [{ type: 'text', text: 'The audit log is off (audit.enabled: false).' }], isError: true };
    const records = await deps.auditStore.list({
      tenant,
      ...(input.kind !== undefined ? { kind: input.kind } : {}),
      ...(input.subject !== undefined ? { subject: input.subject } : {}),
      ...(input.tool !== undefined ? { tool: input.tool } : {}),
      ...(input.outcome !== undefined ? { outcome: input.outcome } : {}),
      ...(input.correlation_id !== undefined ? { correlationId: input.correlation_id } : {}),
      ...(input.since !== undefined ? { since: Date.parse(input.since) } : {}),
      ...(input.until !== undefined ? { until: Date.parse(input.until) } : {}),
      ...(input.after_seq !== undefined ? { after: { tenant, seq: input.after_seq } } : {}),
      limit: input.limit,
    });
    const lines = records.map((r) => `#${r.seq} ${new Date(r.at).toISOString()} ${r.kind} ${r.who.subject} ${r.action ?? r.tool ?? ''} ${r.correlationId ?? ''} ${r.outcome}`);
    return {
      content: [{ type: 'text', text: records.length === 0 ? 'No audit records.' : lines.join('\n') }],
      structuredContent: { records, ...(records.length === input.limit ? { next_after_seq: records.at(-1)!.seq } : {}) },
    };
  },
});
