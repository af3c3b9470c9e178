// Exports audit records to the audit store (src/audit/store.ts). Key and call workflows schedule
// it as a call ends: a record is exported at least once, because the workflow keeps it until this
// activity completes, and stored once, because the store skips a record it already has (same
// tenant, kind and correlation id).
import type { AuditRecord } from '../shared/audit.js';
import type { ActivityDeps } from './index.js';

export function createAuditActivities({ audit, log }: ActivityDeps) {
  return {
    async exportAudit(records: AuditRecord[]): Promise<number> {
      if (audit === undefined) {
        // The gateway recorded the call for the log, but this worker has the log off (audit.enabled).
        log.warn('dropped audit records: the audit log is off on this worker', { count: records.length });
        return 0;
      }
      return audit.append(records);
    },
  };
}
