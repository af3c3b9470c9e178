// All I/O of the broker's durable work lives in activities, built from injected dependencies
// (the downstream pool and a Temporal client). Workflows import the *type* only.
import type { Client } from '@temporalio/client';
import type { AuditStore } from '../audit/store.js';
import type { DownstreamPool } from '../downstream/pool.js';
import type { Logger } from '../observability/log.js';
import type { AccessPolicy } from '../shared/policy.js';
import type { KeyWorkflowSettings } from '../shared/route.js';
import { createAccessActivities } from './access.js';
import { createAuditActivities } from './audit.js';
import { createCallToolActivity, createCallToolBatchActivity } from './call-tool.js';
import { createLaneActivities } from './lane.js';
import { createRolloverActivities } from './rollover.js';

export interface ActivityDeps {
  pool: DownstreamPool;
  client: Client;
  taskQueue: string;
  log: Logger;
  /** How key workflows are started (a call workflow on an ordering key queues in one). */
  keySettings: KeyWorkflowSettings;
  /** Hand-offs before a lane continues as new. */
  laneHandoffsPerRun?: number;
  /** Largest result that is stored in history; Temporal rejects payloads above 2 MB. */
  maxResultBytes?: number;
  /** The RBAC policy (auth.policy) a redrive is checked against; unset: everything allowed. */
  policy?: AccessPolicy;
  /** Where calls' audit records go; unset when the audit log is off. */
  audit?: AuditStore;
}

export function createActivities(deps: ActivityDeps) {
  const callTool = createCallToolActivity(deps);
  return {
    callTool,
    callToolBatch: createCallToolBatchActivity(callTool),
    ...createLaneActivities(deps),
    ...createAccessActivities(deps),
    ...createAuditActivities(deps),
    ...createRolloverActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
