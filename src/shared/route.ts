// Where a call answered on the fast path runs: the route of its key workflow, computed from the
// tenant and ordering key (or a shard for calls without one). Gateway and activities only: it
// hashes with node:crypto, which workflow code cannot import.
import { createHash, randomInt } from 'node:crypto';
import type { KeyInput } from '../workflows/key.js';
import { keyWorkflowId } from './ids.js';
import { SA_ORDERING_KEY, SA_TENANT } from './messages.js';

/** The route of a (tenant, ordering key): `k` and 16 hex digits of a SHA-256 of both. */
export function keyRoute(tenant: string, orderingKey: string): string {
  return `k${createHash('sha256').update(tenant).update('\0').update(orderingKey).digest('hex').slice(0, 16)}`;
}

/** A shard for a call without an ordering key: spreads a tenant's unordered calls over `shards` workflows. */
export function shardRoute(shards: number): string {
  return `s${randomInt(shards)}`;
}

export function routedCorrelationId(route: string, uuid: string): string {
  return `${route}.${uuid}`;
}

/** What starting a key or shard workflow needs, from config (callPath and limits). */
export interface KeyWorkflowSettings {
  shardsPerTenant: number;
  shardConcurrency: number;
  recentOutcomesMs: number;
  callsPerRun: number;
  maxQueuedPerKey: number;
  maxQueuedPerTenant: number;
  /** audit.maxPending: audit records a key workflow holds before it refuses new calls. */
  auditMaxPending?: number;
  /** audit.flushMs: how long a call's audit record may wait to leave with others. */
  auditFlushMs?: number;
}

/** The start options of the key or shard workflow for a route: the gateway's Update-with-Start and the activities' Signal-with-Start agree on them. */
export function keyWorkflowStart(tenant: string, route: string, orderingKey: string | undefined, settings: KeyWorkflowSettings) {
  const input: KeyInput = {
    tenant,
    ...(orderingKey !== undefined ? { orderingKey } : {}),
    concurrency: orderingKey === undefined ? settings.shardConcurrency : 1,
    maxQueued: orderingKey === undefined ? Math.max(1, Math.ceil(settings.maxQueuedPerTenant / settings.shardsPerTenant)) : settings.maxQueuedPerKey,
    recentOutcomesMs: settings.recentOutcomesMs,
    callsPerRun: settings.callsPerRun,
    ...(settings.auditMaxPending !== undefined ? { auditMaxPending: settings.auditMaxPending } : {}),
    ...(settings.auditFlushMs !== undefined ? { auditFlushMs: settings.auditFlushMs } : {}),
  };
  return {
    workflowId: keyWorkflowId(tenant, route),
    args: [input] as [KeyInput],
    typedSearchAttributes: [{ key: SA_TENANT, value: tenant }, ...(orderingKey !== undefined ? [{ key: SA_ORDERING_KEY, value: orderingKey }] : [])],
    staticSummary: orderingKey !== undefined ? `ordering key "${orderingKey}" of tenant ${tenant}` : `shard ${route.slice(1)} of tenant ${tenant}`,
  };
}
