// What the gateway and the CLI record themselves: refusals (a request turned away before anything
// was recorded in Temporal) and operator actions (cancel, redrive, discard, saga abort). Calls are
// not recorded here: their records come from the workflows that ran them (activities/audit.ts).
//
// A refusal is written in the background, batched, so it never delays the answer; a refusal lost
// with a killed gateway was never acknowledged as anything but a refusal. An operator action is
// written before the operator is answered.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/log.js';
import type { AuditActor, AuditRecord, OperatorAction } from '../shared/audit.js';
import type { AuditStore } from './store.js';

/** The chain of refusals that name no tenant (no credential, an unknown key): not a valid tenant id, so it is no tenant's. */
export const NO_TENANT = '_unauthenticated';

export interface Refusal {
  /** Unset when the caller was not authenticated. */
  tenant?: string;
  who?: AuditActor;
  /** Why: `unauthenticated`, `forbidden`, `over_limit`, `policy`, … */
  reason: string;
  message: string;
  /** The MCP method, and the tool when it was a tools/call. */
  method?: string;
  tool?: string;
  correlationId?: string;
}

/** Who acted, and through what (cancel_call, tasks/cancel, notifications/cancelled, dlq_redrive, cli, …). */
export interface OperatorBy {
  who: AuditActor;
  via: string;
}

/** A refusal of the RBAC policy (src/gateway/access.ts), as the audit log records it. */
export function policyRefusal(refusal: { tenant: string; subject: string; method: string; kind: string; name: string; correlationId?: string }): Refusal {
  return {
    tenant: refusal.tenant,
    who: { subject: refusal.subject },
    reason: 'policy',
    message: `${refusal.kind} ${refusal.name} is not allowed by the access policy`,
    method: refusal.method,
    ...(refusal.kind === 'tool' || refusal.kind === 'broker' ? { tool: refusal.name } : {}),
    ...(refusal.correlationId !== undefined ? { correlationId: refusal.correlationId } : {}),
  };
}

export interface OperatorActionRecord {
  tenant: string;
  who: AuditActor;
  action: OperatorAction;
  /** The call or saga acted on. */
  target: string;
  /** What came of it: cancel_requested, redriven, discarded, aborted, … */
  outcome: string;
  detail?: Record<string, unknown>;
}

/** The gateway's and CLI's way into the log. The RBAC policy routes its refusals through recordRefusal. */
export interface AuditSink {
  recordRefusal(refusal: Refusal): void;
  recordOperatorAction(action: OperatorActionRecord): Promise<void>;
}

export class StoreAuditSink implements AuditSink {
  private pending: AuditRecord[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  recordRefusal(refusal: Refusal): void {
    this.pending.push({
      kind: 'refusal',
      tenant: refusal.tenant ?? NO_TENANT,
      key: randomUUID(),
      at: this.now(),
      who: refusal.who ?? { subject: 'unknown' },
      ...(refusal.correlationId !== undefined ? { correlationId: refusal.correlationId } : {}),
      ...(refusal.tool !== undefined ? { tool: refusal.tool } : {}),
      outcome: refusal.reason,
      detail: { message: refusal.message.slice(0, 500), ...(refusal.method !== undefined ? { method: refusal.method } : {}) },
    });
    this.flushing ??= this.flush();
  }

  /** Written before the operator is answered. A store that cannot be written is logged as an error; the action stands. */
  async recordOperatorAction(action: OperatorActionRecord): Promise<void> {
    await this.store
      .append([
      {
        kind: 'operator',
        tenant: action.tenant,
        key: randomUUID(),
        at: this.now(),
        who: action.who,
        // A saga abort names a saga, every other action a call.
        ...(action.action === 'saga_abort' ? {} : { correlationId: action.target }),
        action: action.action,
        outcome: action.outcome,
        detail: { ...action.detail, ...(action.action === 'saga_abort' ? { sagaId: action.target } : {}) },
        },
      ])
      .catch((error: unknown) => this.log.error('could not write an operator action to the audit log', { action: action.action, tenant: action.tenant, target: action.target, error: String(error) }));
  }

  /** Waits for the refusals written in the background (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
  }

  private async flush(): Promise<void> {
    // Let the refusals of this tick join one write.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, 500);
        await this.store.append(batch).catch((error: unknown) => this.log.error('could not write refusals to the audit log', { count: batch.length, error: String(error) }));
      }
    } finally {
      this.flushing = undefined;
    }
  }
}
