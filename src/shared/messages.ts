// Signals, updates, queries and search attributes: the one vocabulary shared by the gateway,
// the activities and the workflows.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { CallEnvelope, CallStatus, DeadLetterStatus } from './envelope.js';
import type { AddStepResult, SagaStatus, SagaStepSpec, StepReport } from './saga.js';
import type { InputReply, InputRequest, KeyCallReply, KeyCallRequest, KeyCallView, KeyState, WatchReply, WatchRequest } from './key.js';

/** Ordered calls: completes once the call is durably in its key's queue (the acknowledgement). */
export const admitUpdate = defineUpdate<{ phase: string }>('admit');
/** Lane → call: your turn. */
export const goSignal = defineSignal('go');
export const statusQuery = defineQuery<CallStatus>('status');

export interface LaneEntry {
  callWorkflowId: string;
}
/** Call → lane (through an activity, by signal-with-start). */
export const enqueueSignal = defineSignal<[LaneEntry]>('enqueue');
/** Call → lane when the call ends, whether or not it ran. */
export const releaseSignal = defineSignal<[LaneEntry]>('release');
/** Call → lane: a call dead-lettered under `onDeadLetter: halt` hands its turn to its dead letter. */
export const handoverSignal = defineSignal<[{ from: string; to: string }]>('handover');
export const laneStateQuery = defineQuery<{ holder?: string; queued: string[] }>('laneState');

/**
 * Gateway → key workflow (fast path): a call, sent as Update-with-Start with the correlation id as
 * the update id. Accepted means durably queued, in the key's order.
 */
export const callUpdate = defineUpdate<KeyCallReply, [KeyCallRequest]>('call');
/** Gateway → key workflow, by Signal-with-Start: a call sent while the gateway's share of updates on it is in use. */
export const submitCallSignal = defineSignal<[KeyCallRequest]>('submitCall');
/** Gateway → key workflow: outcomes of the calls it waits for (one watch per gateway and workflow). */
export const watchUpdate = defineUpdate<WatchReply, [WatchRequest]>('watch');
/** Anyone → key workflow: cancel one call. Also works before the call arrived (it then ends cancelled on arrival). */
export const cancelCallSignal = defineSignal<[{ correlationId: string }]>('cancelCall');
/**
 * Gateway → key or call workflow: answers to the input a call waits for (workflows/input.ts). A
 * key workflow then holds the reply like a `call` update: until the call ends, asks again, or
 * `holdMs` passes.
 */
export const provideInputUpdate = defineUpdate<InputReply, [InputRequest]>('provideInput');
export const callViewQuery = defineQuery<KeyCallView | undefined, [string]>('callView');
export const keyStateQuery = defineQuery<KeyState>('keyState');

/** Operator → dead letter: run the call again (same envelope, a fresh deadline of the same length). */
export const redriveUpdate = defineUpdate<DeadLetterStatus, [{ by: string }]>('redrive');
/** The redrive update's failure type when the access policy no longer lets the call's caller use its tool. */
export const ACCESS_REVOKED = 'AccessRevoked';
/** Operator → dead letter: give up on the call; the key's lane (if halted) moves on. */
export const discardUpdate = defineUpdate<DeadLetterStatus, [{ by: string; note?: string }]>('discard');
export const deadLetterStatusQuery = defineQuery<DeadLetterStatus>('deadLetterStatus');

/** Gateway → saga (incremental): record a step and start its call; answers with its correlation id. */
export const addSagaStepUpdate = defineUpdate<AddStepResult, [SagaStepSpec]>('addSagaStep');
/** Gateway → saga (incremental): no more steps; the saga commits once they all succeeded. */
export const commitSagaUpdate = defineUpdate<SagaStatus, [{ by: string }]>('commitSaga');
/** Gateway → saga: stop and compensate every step that may have taken effect. */
export const abortSagaUpdate = defineUpdate<SagaStatus, [{ by: string }]>('abortSaga');
export const sagaStatusQuery = defineQuery<SagaStatus>('sagaStatus');
/** A saga's call → its saga, as the call ends (including when it was cancelled). */
export const stepReportSignal = defineSignal<[StepReport]>('stepReport');

// Custom search attributes (Keyword). The dev server registers them at start-up; on a real
// cluster the worker and gateway register missing ones (ensureSearchAttributes in temporal/client.ts).
export const SA_CORRELATION_ID = defineSearchAttributeKey('SwitchyardCorrelationId', 'KEYWORD');
export const SA_TENANT = defineSearchAttributeKey('SwitchyardTenant', 'KEYWORD');
export const SA_TOOL = defineSearchAttributeKey('SwitchyardTool', 'KEYWORD');
export const SA_ORDERING_KEY = defineSearchAttributeKey('SwitchyardOrderingKey', 'KEYWORD');
export const SA_OUTCOME = defineSearchAttributeKey('SwitchyardOutcome', 'KEYWORD');
/** On a saga and on each of its calls: `SwitchyardSagaId = "…"` finds them all in the Web UI. */
export const SA_SAGA_ID = defineSearchAttributeKey('SwitchyardSagaId', 'KEYWORD');

/** The search attributes of a call's workflows (the call and its dead letter), by outcome. */
export function callSearchAttributes(envelope: Pick<CallEnvelope, 'correlationId' | 'tenant' | 'publicTool' | 'orderingKey' | 'saga'>, outcome: string) {
  return [
    { key: SA_CORRELATION_ID, value: envelope.correlationId },
    { key: SA_TENANT, value: envelope.tenant },
    { key: SA_TOOL, value: envelope.publicTool },
    ...(envelope.orderingKey !== undefined ? [{ key: SA_ORDERING_KEY, value: envelope.orderingKey }] : []),
    ...(envelope.saga !== undefined ? [{ key: SA_SAGA_ID, value: envelope.saga.id }] : []),
    { key: SA_OUTCOME, value: outcome },
  ];
}

export const SEARCH_ATTRIBUTES = [SA_CORRELATION_ID, SA_TENANT, SA_TOOL, SA_ORDERING_KEY, SA_OUTCOME, SA_SAGA_ID] as const;
