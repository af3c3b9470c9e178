// The dead-letter list: calls that exhausted their retries or whose outcome is unknown, and saga
// compensations that failed (compensation_failed), each
// parked in a running dead-letter workflow. Used by the admin broker tools and by the
// `switchyard dlq` CLI; every operation is scoped to one tenant.
import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { DeadLetterStatus } from '../shared/envelope.js';
import { deadLetterWorkflowId } from '../shared/ids.js';
import { ACCESS_REVOKED, deadLetterStatusQuery, discardUpdate, redriveUpdate, SA_SAGA_ID } from '../shared/messages.js';
import type { deadLetterWorkflow } from '../workflows/dead-letter.js';
import { quote } from './call-service.js';
import type { AuditSink, OperatorBy } from '../audit/sink.js';

export interface DeadLetterEntry {
  correlationId: string;
  tenant: string;
  tool?: string;
  orderingKey?: string;
  /** Set for a saga's failed compensation. */
  sagaId?: string;
  deadLetteredAt: string;
}

export class DeadLetterNotFound extends Error {}
export class DeadLetterNotPending extends Error {}
/** The worker's access policy stopped a redrive: the call's caller may no longer use its tool. The dead letter stays pending. */
export class RedriveRefused extends Error {}

export class DeadLetterService {
  constructor(
    private readonly client: Client,
    /** Records redrives and discards (operator actions); unset when the audit log is off. */
    private readonly audit?: AuditSink,
  ) {}

  /** Pending dead letters, newest first; all tenants when `tenant` is undefined (CLI only). */
  async list(tenant: string | undefined, limit = 100): Promise<DeadLetterEntry[]> {
    const query = `WorkflowType = 'deadLetterWorkflow' AND ExecutionStatus = 'Running'${tenant === undefined ? '' : ` AND SwitchyardTenant = ${quote(tenant)}`}`;
    const entries: DeadLetterEntry[] = [];
    for await (const execution of this.client.workflow.list({ query, pageSize: Math.min(limit, 1_000) })) {
      const attributes = execution.typedSearchAttributes;
      entries.push({
        correlationId: execution.workflowId.split('/').at(-1)!,
        tenant: execution.workflowId.split('/')[1]!,
        tool: attributes.get({ name: 'SwitchyardTool', type: 'KEYWORD' }),
        orderingKey: attributes.get({ name: 'SwitchyardOrderingKey', type: 'KEYWORD' }),
        sagaId: attributes.get(SA_SAGA_ID),
        deadLetteredAt: execution.startTime.toISOString(),
      });
      if (entries.length >= limit) break;
    }
    return entries;
  }

  async show(tenant: string, correlationId: string): Promise<DeadLetterStatus> {
    const handle = this.handle(tenant, correlationId);
    try {
      const description = await handle.describe();
      return description.status.name === 'RUNNING' ? await handle.query(deadLetterStatusQuery) : await handle.result();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new DeadLetterNotFound(`no dead letter for ${correlationId} in tenant ${tenant}`);
      throw error;
    }
  }

  /** Runs the call again and returns when that attempt finished (it may be dead-lettered again). */
  async redrive(tenant: string, correlationId: string, by: OperatorBy): Promise<DeadLetterStatus> {
    let status: DeadLetterStatus;
    try {
      status = await this.act(tenant, correlationId, () => this.handle(tenant, correlationId).executeUpdate(redriveUpdate, { args: [{ by: byText(by) }] }));
    } catch (error) {
      // The worker's access policy stopped it: an operator action all the same, and audited.
      if (error instanceof RedriveRefused) {
        await this.audit?.recordOperatorAction({ tenant, who: by.who, action: 'redrive', target: correlationId, outcome: 'refused', detail: { via: by.via, reason: error.message.slice(0, 500) } });
      }
      throw error;
    }
    await this.record(tenant, correlationId, by, 'redrive', status);
    return status;
  }

  async discard(tenant: string, correlationId: string, by: OperatorBy, note?: string): Promise<DeadLetterStatus> {
    const status = await this.act(tenant, correlationId, () =>
      this.handle(tenant, correlationId).executeUpdate(discardUpdate, { args: [{ by: byText(by), ...(note !== undefined ? { note } : {}) }] }),
    );
    await this.record(tenant, correlationId, by, 'discard', status, note);
    return status;
  }

  /** The audit record of a redrive or discard: the state it left the dead letter in, and a redrive's outcome. */
  private async record(tenant: string, correlationId: string, by: OperatorBy, action: 'redrive' | 'discard', status: DeadLetterStatus, note?: string): Promise<void> {
    const detail = { via: by.via, tool: status.tool, ...(status.outcome !== undefined ? { callOutcome: status.outcome.status } : {}), ...(note !== undefined ? { note } : {}) };
    await this.audit?.recordOperatorAction({ tenant, who: by.who, action, target: correlationId, outcome: status.state, detail });
  }

  private async act(tenant: string, correlationId: string, fn: () => Promise<DeadLetterStatus>): Promise<DeadLetterStatus> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError || isClosedError(error)) {
        // Closed: already resolved (redriven or discarded) or never existed.
        const status = await this.show(tenant, correlationId);
        throw new DeadLetterNotPending(`dead letter ${correlationId} is ${status.state}, not pending`);
      }
      if (error instanceof WorkflowUpdateFailedError) {
        if (error.cause instanceof ApplicationFailure && error.cause.type === ACCESS_REVOKED) throw new RedriveRefused(error.cause.message);
        throw new DeadLetterNotPending(error.cause?.message ?? error.message);
      }
      throw error;
    }
  }

  private handle(tenant: string, correlationId: string) {
    return this.client.workflow.getHandle<typeof deadLetterWorkflow>(deadLetterWorkflowId(tenant, correlationId));
  }
}

/** How an action's author reads in the dead letter's own trail: "<subject> via <mcp|cli>". */
function byText(by: OperatorBy): string {
  return `${by.who.subject} via ${by.via}`;
}

function isClosedError(error: unknown): boolean {
  return error instanceof Error && /already completed|workflow execution already/i.test(error.message);
}

/** The dead-letter part of get_call and of the dlq tools' answers. */
export function deadLetterSummary(status: DeadLetterStatus): Record<string, unknown> {
  return {
    state: status.state,
    reason: status.reason,
    message: status.message,
    attempts: status.attempts,
    dead_lettered_at: new Date(status.deadLetteredAt).toISOString(),
    holds_lane: status.holdsLane,
    actions: status.actions.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
    ...(status.outcome !== undefined ? { outcome: status.outcome.status } : {}),
  };
}
