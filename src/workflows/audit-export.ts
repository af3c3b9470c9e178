// Exports the audit record of a call that ran in its own call workflow (call.ts). The call
// workflow's caller waits for that workflow to close, so the record leaves through this child,
// started (not awaited) as the call ends: the answer waits for Temporal to start the child, never
// for the audit store. The child retries until the store takes the record.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AuditRecord } from '../shared/audit.js';

const { exportAudit } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function auditExportWorkflow(records: AuditRecord[]): Promise<number> {
  return exportAudit(records);
}
