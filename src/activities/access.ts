// The RBAC policy's second look, on the worker (src/shared/policy.ts): before a dead letter's
// redrive runs the call again, the policy the worker was started with is asked whether the call's
// original caller may still use its tool. A right revoked since the call was accepted (a rule
// removed, a deny added) stops the redrive. It is an activity because the policy is config: a
// workflow reading it would not replay.
import { rightsOf } from '../shared/policy.js';
import type { CallEnvelope } from '../shared/envelope.js';
import type { ActivityDeps } from './index.js';

/** What the check needs of the envelope: who called, and which tool (never the arguments). */
export type AccessCheck = Pick<CallEnvelope, 'correlationId' | 'tenant' | 'principal' | 'identity' | 'serverId' | 'tool' | 'publicTool' | 'mutation'>;

export function createAccessActivities({ policy, log }: ActivityDeps) {
  return {
    /** Whether the call's caller may still use its tool; a refusal is logged here (the worker's refusal path). */
    async mayRedrive(call: AccessCheck): Promise<boolean> {
      const identity = { tenant: call.tenant, subject: call.principal, ...call.identity };
      const allowed = rightsOf(policy, identity).allows({ kind: 'tool', server: call.serverId, name: call.tool, mutation: call.mutation });
      if (!allowed) {
        log.warn('redrive refused by the access policy', { tenant: call.tenant, subject: call.principal, method: 'redrive', kind: 'tool', name: call.publicTool, correlationId: call.correlationId });
      }
      return allowed;
    },
  };
}
