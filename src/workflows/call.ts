// One workflow per tool call. Its id is derived from (tenant, correlation id), so any gateway can
// find it, await its result with a long poll, or cancel it. Calls with an ordering key first take
// a place in their key's lane (lane.ts) and run only when the lane says so. A call that exhausts
// its retries or whose outcome is unknown ends `dead_lettered` and leaves a dead-letter workflow
// behind (dead-letter.ts). A call of a saga (a step or a compensation) instead reports how it
// ended to its saga (saga.ts), which decides what happens next.
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { callAuditRecord, type AuditRecord } from '../shared/audit.js';
import type { CallEnvelope, CallOutcome, CallStatus } from '../shared/envelope.js';
import { auditExportWorkflowId, deadLetterWorkflowId, laneWorkflowId, sagaWorkflowId } from '../shared/ids.js';
import { auditExportWorkflow } from './audit-export.js';
import {
  admitUpdate,
  callSearchAttributes,
  goSignal,
  handoverSignal,
  provideInputUpdate,
  releaseSignal,
  SA_OUTCOME,
  statusQuery,
  stepReportSignal,
} from '../shared/messages.js';
import { deadlineExceeded, runAttempts } from './attempts.js';
import { asksInput, InputRounds } from './input.js';
import { deadLetterWorkflow } from './dead-letter.js';
import { reportCallEnded } from './metrics.js';
import type { Activities } from '../activities/index.js';

// Enqueueing is a single signal-with-start: short, and retried until it lands. A local activity:
// no task-queue round trip, and it never waits behind tool calls for an activity slot.
const { enqueueInLane, enqueueInKey } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 ms', maximumInterval: '2 seconds' },
});

/** Call workflows start a child that exports their audit record (an added command: older histories have none). */
const AUDIT_EXPORT = 'audit-export';

/** Ordered calls take their turn in their key workflow (key.ts) rather than in a lane (lane.ts). */
const QUEUE_IN_KEY_WORKFLOW = 'ordered-calls-queue-in-key-workflow';

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
  /** Where this call takes its turn: its key workflow (since the fast call path), or a lane (older histories). */
  let turnsFrom: string | undefined;
  let startedAt: number | undefined;

  const rounds = new InputRounds(status);
  setHandler(statusQuery, () => status);
  // Answers to the input the call waits for (workflows/input.ts); the gateway then waits on the result.
  setHandler(provideInputUpdate, ({ round, responses }) => ({ accepted: rounds.answer(round, responses), ...(status.input !== undefined ? { input: status.input } : {}) }));
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
      const entry = { tenant: envelope.tenant, orderingKey: envelope.orderingKey, callWorkflowId: workflowInfo().workflowId };
      if (patched(QUEUE_IN_KEY_WORKFLOW)) {
        turnsFrom = await enqueueInKey(entry);
      } else {
        await enqueueInLane(entry);
        turnsFrom = laneWorkflowId(envelope.tenant, envelope.orderingKey);
      }
      status.phase = 'queued';
      const turn = await condition(() => mayRun, Math.max(1, envelope.deadlineAt - Date.now()));
      if (!turn) return deadlineExceeded('while queued behind earlier calls on its ordering key');
    }
    if (Date.now() >= envelope.deadlineAt) return deadlineExceeded('before it could start');
    status.phase = 'running';
    startedAt = Date.now();
    const first = await runAttempts(envelope, status);
    return asksInput(first) ? await rounds.follow(first, envelope, status, undefined) : first;
  }

  async function finish(final: CallOutcome): Promise<void> {
    status.phase = 'done';
    reportCallEnded(envelope, final);
    await CancellationScope.nonCancellable(async () => {
      // The record leaves through a child started beside the other last steps: the caller, who
      // waits for this workflow to close, waits for Temporal to start it, never for the store.
      const exported = envelope.audit !== undefined && patched(AUDIT_EXPORT) ? startAuditExport(callAuditRecord(envelope, startedAt, Date.now(), final)) : undefined;
      upsertSearchAttributes([{ key: SA_OUTCOME, value: final.status }]);
      const ownDeadLetter = final.status === 'dead_lettered' && envelope.saga === undefined;
      const halts = ownDeadLetter && envelope.orderingKey !== undefined && envelope.onDeadLetter === 'halt';
      let deadLetterId: string | undefined;
      if (ownDeadLetter && final.status === 'dead_lettered') {
        deadLetterId = deadLetterWorkflowId(envelope.tenant, envelope.correlationId);
        await startChild(deadLetterWorkflow, {
          workflowId: deadLetterId,
          args: [{ envelope, reason: final.reason, message: final.message, attempts: final.attempts, deadLetteredAt: Date.now(), holdsLane: halts, ...(turnsFrom !== undefined && halts ? { releaseTo: turnsFrom } : {}) }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: callSearchAttributes(envelope, 'dead_lettered'),
          staticSummary: `dead letter: ${envelope.publicTool} for tenant ${envelope.tenant} (${final.reason})`,
        });
      }
      if (envelope.orderingKey !== undefined) {
        // Leave the queue even when cancelled: the next call on the key must not wait for us.
        // Under `halt`, a dead letter takes our turn instead, and keeps it until it is resolved.
        const lane = getExternalWorkflowHandle(turnsFrom ?? laneWorkflowId(envelope.tenant, envelope.orderingKey));
        const me = workflowInfo().workflowId;
        try {
          if (halts) await lane.signal(handoverSignal, { from: me, to: deadLetterId! });
          else await lane.signal(releaseSignal, { callWorkflowId: me });
        } catch (error) {
          // The lane closes only when idle, so a missing lane means it never learned of us.
          log.warn('could not release lane', { error: String(error) });
        }
      }
      if (envelope.saga !== undefined) {
        // Any attempt means the request may have reached the server: the saga then compensates.
        const report = { correlationId: envelope.correlationId, outcome: final, mayHaveRun: status.attempt > 0 };
        try {
          await getExternalWorkflowHandle(sagaWorkflowId(envelope.tenant, envelope.saga.id)).signal(stepReportSignal, report);
        } catch (error) {
          log.warn('could not report to the saga', { sagaId: envelope.saga.id, error: String(error) });
        }
      }
      await exported;
      await condition(allHandlersFinished);
    });
  }
}

async function startAuditExport(record: AuditRecord): Promise<void> {
  try {
    await startChild(auditExportWorkflow, {
      workflowId: auditExportWorkflowId(record.tenant, record.key),
      args: [[record]],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `audit record of ${record.tool ?? 'a call'} for tenant ${record.tenant}`,
    });
  } catch (error) {
    // Already started (this workflow's task ran again after a worker died): that child exports it.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
