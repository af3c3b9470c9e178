// A dead-lettered call waits here until an operator redrives or discards it (switchyard dlq …,
// the admin broker tools, or the Web UI: cancelling this workflow discards). It is a running
// workflow, so the dead-letter list is a visibility query and nothing expires on its own.
// Under `onDeadLetter: halt` it holds its key's lane, so later calls on the key wait for it.
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CallEnvelope, CallOutcome, DeadLetterReason, DeadLetterStatus } from '../shared/envelope.js';
import { laneWorkflowId } from '../shared/ids.js';
import { ACCESS_REVOKED, deadLetterStatusQuery, discardUpdate, redriveUpdate, releaseSignal, SA_OUTCOME } from '../shared/messages.js';
import type { Activities } from '../activities/index.js';
import { runAttempts } from './attempts.js';

const { mayRedrive } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 ms', maximumInterval: '2 seconds' },
});

/** Dead letters recorded before RBAC redrove without asking the policy: their histories have no check. */
const ACCESS_CHECK_BEFORE_REDRIVE = 'access-check-before-redrive';

export interface DeadLetterInput {
  envelope: CallEnvelope;
  reason: DeadLetterReason;
  message: string;
  attempts: number;
  deadLetteredAt: number;
  holdsLane: boolean;
  /** The workflow whose turn this dead letter holds (a key workflow); older dead letters held their lane. */
  releaseTo?: string;
  /** False for a saga compensation whose arguments could not be built: there is nothing to rerun. */
  redrivable?: boolean;
}

export async function deadLetterWorkflow(input: DeadLetterInput): Promise<DeadLetterStatus> {
  const { envelope } = input;
  const status: DeadLetterStatus = {
    correlationId: envelope.correlationId,
    tenant: envelope.tenant,
    tool: envelope.publicTool,
    ...(envelope.orderingKey !== undefined ? { orderingKey: envelope.orderingKey } : {}),
    reason: input.reason,
    message: input.message,
    attempts: input.attempts,
    deadLetteredAt: input.deadLetteredAt,
    holdsLane: input.holdsLane,
    state: 'pending',
    actions: [],
  };
  const pending = (_request: { by: string }) => {
    if (status.state !== 'pending') throw new Error(`dead letter ${envelope.correlationId} is ${status.state}, not pending`);
  };

  setHandler(deadLetterStatusQuery, () => status);
  setHandler(
    redriveUpdate,
    async ({ by }) => {
      status.state = 'redriving';
      const action: DeadLetterStatus['actions'][number] = { action: 'redrive', by, at: Date.now() };
      status.actions.push(action);
      // The policy may have changed since the call was accepted: ask the worker's (activities/access.ts).
      if (patched(ACCESS_CHECK_BEFORE_REDRIVE)) {
        const { correlationId, tenant, principal, identity, serverId, tool, publicTool, mutation } = envelope;
        const allowed = await mayRedrive({ correlationId, tenant, principal, ...(identity !== undefined ? { identity } : {}), serverId, tool, publicTool, mutation });
        if (!allowed) {
          status.state = 'pending';
          action.outcome = 'refused';
          throw ApplicationFailure.create({
            type: ACCESS_REVOKED,
            nonRetryable: true,
            message: `${envelope.publicTool} was not run again: the access policy no longer lets the caller that made this call use it. The dead letter stays pending; discard it, or redrive it once the right is restored.`,
          });
        }
      }
      // Same envelope, same budget: the original deadline has usually passed by now.
      const now = Date.now();
      const again: CallEnvelope = { ...envelope, deadlineAt: now + (envelope.deadlineAt - envelope.acceptedAt) };
      const outcome: CallOutcome = await runAttempts(again, { attempt: 0 });
      action.outcome = outcome.status;
      if (outcome.status === 'dead_lettered') {
        Object.assign(status, { state: 'pending', reason: outcome.reason, message: outcome.message, attempts: status.attempts + outcome.attempts });
      } else {
        status.state = 'redriven';
        status.outcome = outcome;
      }
      return status;
    },
    {
      validator: (request) => {
        pending(request);
        if (input.redrivable === false) throw new Error(`dead letter ${envelope.correlationId} cannot be redriven (${input.message}); undo it by hand, then discard it`);
      },
    },
  );
  setHandler(
    discardUpdate,
    ({ by, note }) => {
      status.state = 'discarded';
      status.actions.push({ action: 'discard', by, at: Date.now(), ...(note !== undefined ? { note } : {}) });
      return status;
    },
    { validator: pending },
  );

  try {
    await condition(() => status.state === 'redriven' || status.state === 'discarded');
  } catch (error) {
    if (!isCancellation(error)) throw error;
    status.state = 'discarded';
    status.actions.push({ action: 'discard', by: 'temporal-cancel', at: Date.now() });
  }
  await CancellationScope.nonCancellable(async () => {
    upsertSearchAttributes([{ key: SA_OUTCOME, value: status.state }]);
    if (input.holdsLane && envelope.orderingKey !== undefined) {
      try {
        await getExternalWorkflowHandle(input.releaseTo ?? laneWorkflowId(envelope.tenant, envelope.orderingKey)).signal(releaseSignal, { callWorkflowId: workflowInfo().workflowId });
      } catch (error) {
        log.warn('could not release the lane this dead letter held', { error: String(error) });
      }
    }
    await condition(allHandlersFinished);
  });
  return status;
}
