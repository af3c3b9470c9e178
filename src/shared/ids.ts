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

export function laneWorkflowId(tenant: string, orderingKey: string): string {
  return `switchyard/${tenant}/lane/${encodeURIComponent(orderingKey)}`;
}

/** Correlation ids are UUID-shaped; anything else is rejected before it reaches Temporal. */
export const CORRELATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
