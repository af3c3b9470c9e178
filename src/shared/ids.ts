// Workflow ids are the namespace-wide keys of the broker. Every id starts with the tenant, so
// every lookup is tenant-scoped: a caller can only ever address its own tenant's workflows.

export function callWorkflowId(tenant: string, correlationId: string): string {
  return `switchyard/${tenant}/call/${correlationId}`;
}

/** A dead-lettered call's parking place: it waits there for an operator to redrive or discard it. */
export function deadLetterWorkflowId(tenant: string, correlationId: string): string {
  return `switchyard/${tenant}/dead-letter/${correlationId}`;
}

/** A saga: its steps and compensations are its child calls. */
export function sagaWorkflowId(tenant: string, sagaId: string): string {
  return `switchyard/${tenant}/saga/${encodeURIComponent(sagaId)}`;
}

/** The child that exports a call workflow's audit record (workflows/audit-export.ts). */
export function auditExportWorkflowId(tenant: string, correlationId: string): string {
  return `switchyard/${tenant}/audit/${correlationId}`;
}

export function laneWorkflowId(tenant: string, orderingKey: string): string {
  return `switchyard/${tenant}/lane/${encodeURIComponent(orderingKey)}`;
}

/**
 * The workflow that runs a call answered on the fast path (workflows/key.ts): one per (tenant,
 * ordering key), or one of the tenant's shards for calls without a key. The route is the part of
 * the correlation id before its dot: `k<16 hex digits of the key's hash>` or `s<shard number>`.
 */
export function keyWorkflowId(tenant: string, route: string): string {
  return route.startsWith('s') ? `switchyard/${tenant}/shard/${route.slice(1)}` : `switchyard/${tenant}/key/${route.slice(1)}`;
}

/** The route a correlation id carries, if it has one (calls recorded as their own workflow have none). */
export function routeOf(correlationId: string): string | undefined {
  const dot = correlationId.indexOf('.');
  return dot < 0 ? undefined : correlationId.slice(0, dot);
}

/**
 * Correlation ids are UUID-shaped, optionally prefixed by the route of the workflow that runs the
 * call; anything else is rejected before it reaches Temporal.
 */
export const CORRELATION_ID = /^(?:(?:k[0-9a-f]{16}|s[0-9]{1,3})\.)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
