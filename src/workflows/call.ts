// One workflow per tool call. Its id is derived from (tenant, correlation id), so any gateway can
// find it, await its result with a long poll, or cancel it. Calls with an ordering key first take
// a place in their key's lane (lane.ts) and run only when the lane says so.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CallEnvelope, CallOutcome, CallStatus } from '../shared/envelope.js';
import { admitUpdate, goSignal, releaseSignal, SA_OUTCOME, statusQuery } from '../shared/messages.js';
import { laneWorkflowId } from '../shared/ids.js';

// Enqueueing is a single signal-with-start: short, and retried until it lands.
const { enqueueInLane } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 ms', maximumInterval: '2 seconds' },
});

export async function callWorkflow(envelope: CallEnvelope): Promise<CallOutcome> {
  const status: CallStatus = {
    correlationId: envelope.correlationId,
    phase: envelope.orderingKey === undefined ? 'running' : 'admitting',
    publicTool: envelope.publicTool,
    orderingKey: envelope.orderingKey,
    acceptedAt: envelope.acceptedAt,
    deadlineAt: envelope.deadlineAt,
    attempt: 0,
  };
  let mayRun = envelope.orderingKey === undefined;

  setHandler(statusQuery, () => status);
  setHandler(goSignal, () => {
    mayRun = true;
  });
  // The gateway acknowledges an ordered call only when this update returns: by then the call
  // is durably in its lane, which is what makes acknowledgement order equal execution order.
  setHandler(admitUpdate, async () => {
    await condition(() => status.phase !== 'admitting');
    return { phase: status.phase };
  });

  let outcome: CallOutcome;
  try {
    outcome = await run();
  } catch (error) {
    if (isCancellation(error)) {
      await finish({ status: 'cancelled', message: 'cancelled' });
      throw error; // the execution shows as Canceled in the Web UI
    }
    throw error;
  }
  await finish(outcome);
  return outcome;

  async function run(): Promise<CallOutcome> {
    if (envelope.orderingKey !== undefined) {
      await enqueueInLane({
        tenant: envelope.tenant,
        orderingKey: envelope.orderingKey,
        callWorkflowId: workflowInfo().workflowId,
      });
      status.phase = 'queued';
      const turn = await condition(() => mayRun, Math.max(1, envelope.deadlineAt - Date.now()));
      if (!turn) return deadlineExceeded('while queued behind earlier calls on its ordering key');
    }
    if (Date.now() >= envelope.deadlineAt) return deadlineExceeded('before it could start');
    status.phase = 'running';
    return await callDownstream();
  }

  async function callDownstream(): Promise<CallOutcome> {
    const remainingMs = envelope.deadlineAt - Date.now();
    const { callTool } = proxyActivities<Activities>({
      // All attempts together must finish inside the deadline; one attempt also gets the
      // per-server request timeout. The heartbeat carries cancellation and detects dead workers.
      scheduleToCloseTimeout: remainingMs,
      startToCloseTimeout: Math.min(remainingMs, envelope.requestTimeoutMs + 5_000),
      heartbeatTimeout: envelope.heartbeatTimeoutMs,
      summary: `${envelope.publicTool} for tenant ${envelope.tenant}`,
      retry: {
        maximumAttempts: envelope.retry.maxAttempts,
        initialInterval: envelope.retry.initialIntervalMs,
        maximumInterval: envelope.retry.maxIntervalMs,
        backoffCoefficient: envelope.retry.backoffCoefficient,
        nonRetryableErrorTypes: ['DownstreamProtocolError', 'UnknownTool', 'ResultTooLarge'],
      },
    });
    try {
      const result = await callTool(envelope);
      return { status: 'completed', result };
    } catch (error) {
      if (isCancellation(error)) throw error;
      if (error instanceof ActivityFailure) {
        if (error.cause instanceof TimeoutFailure && Date.now() >= envelope.deadlineAt - 50) {
          return deadlineExceeded('while the downstream server was working');
        }
        if (error.cause instanceof ApplicationFailure) {
          const cause = error.cause;
          if (cause.type === 'DeadlineExceeded') return deadlineExceeded('before the call could be sent');
          if (cause.type === 'DownstreamProtocolError') {
            const code = typeof cause.details?.[0] === 'number' ? cause.details[0] : undefined;
            return { status: 'failed', reason: 'downstream_error', code, message: cause.message, attempts: 1 };
          }
          const retried = cause.nonRetryable ? '' : ` (after ${envelope.retry.maxAttempts} attempts or the deadline)`;
          return { status: 'failed', reason: 'transport', message: `${cause.message}${retried}`, attempts: envelope.retry.maxAttempts };
        }
        const message = error.cause?.message ?? error.message;
        return { status: 'failed', reason: 'transport', message, attempts: envelope.retry.maxAttempts };
      }
      throw error;
    }
  }

  function deadlineExceeded(when: string): CallOutcome {
    return { status: 'deadline_exceeded', message: `deadline passed ${when}` };
  }

  async function finish(final: CallOutcome): Promise<void> {
    status.phase = 'done';
    upsertSearchAttributes([{ key: SA_OUTCOME, value: final.status }]);
    if (envelope.orderingKey !== undefined) {
      // Leave the lane even when cancelled: the next call on the key must not wait for us.
      await CancellationScope.nonCancellable(async () => {
        try {
          await getExternalWorkflowHandle(laneWorkflowId(envelope.tenant, envelope.orderingKey!)).signal(releaseSignal, {
            callWorkflowId: workflowInfo().workflowId,
          });
        } catch (error) {
          // The lane closes only when idle, so a missing lane means it never learned of us.
          log.warn('could not release lane', { error: String(error) });
        }
      });
    }
    await condition(allHandlersFinished);
  }
}
