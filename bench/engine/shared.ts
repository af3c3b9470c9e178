// What the engine-floor client and worker share: the task queue, the update a keyed call is,
// and the server limit that shapes the keyed client.
import { defineSignal, defineUpdate } from '@temporalio/workflow';

export const ENGINE_TASK_QUEUE = 'switchyard-bench-engine';

/** One call on a key workflow: the handler runs the echo and answers with its result. */
export const callUpdate = defineUpdate<string, [string]>('call');

export interface KeyWorkflowInput {
  /** local-batch: one local activity runs all calls queued when it starts (engine-key-batch). */
  activity: 'local' | 'regular' | 'local-batch';
}

/**
 * Server default `history.maxInFlightUpdates` (1.29): an 11th unfinished update on one workflow
 * is rejected with ResourceExhausted. A gateway built on this shape would have to queue callers
 * of one key beyond this number itself, so the bench client does that (the wait is in the latency).
 */
export const MAX_IN_FLIGHT_UPDATES = 10;

/** Server default `history.maxTotalUpdates`: updates one run of a key workflow accepts. */
export const MAX_UPDATES_PER_RUN = 2_000;

/**
 * engine-key-held-watch*: while fewer than this many `call` handlers are holding, a new call's
 * handler holds until its call ended (docs/call-path-design.md `heldCalls`). With one `watch` per
 * client process this leaves 10 - 5 - 1 = 4 in-flight slots for calls being admitted.
 */
export const HELD_CALLS = 5;

/** A held call's answer carries its result; an overflow call is only acknowledged. */
export type HeldCallAnswer = { result: string } | { accepted: true };

/**
 * One call on a held-watch key workflow, sent as Update-with-Start (USE_EXISTING) with the call id
 * as the update id. The name matches `callUpdate` on purpose: it is the same `call`, answered
 * differently.
 */
export const heldCallUpdate = defineUpdate<HeldCallAnswer, [string]>('call');

/**
 * An overflow caller's wait: names call ids (update ids of earlier `call`s) and returns, as soon as
 * at least one has ended, the results of all that have, by call id.
 */
export const watchUpdate = defineUpdate<Record<string, string>, [string[]]>('watch');

/**
 * engine-key-signal-watch*: the revised "Submitting and waiting" (docs/call-path-design.md). One
 * gateway keeps at most this many updates in flight on one workflow, its held calls and its one
 * watch together (`gateway.updatesPerWorkflow`), so the server never refuses one of its updates.
 */
export const UPDATES_SHARE = 4;

/** A held call on a signal-watch key workflow: Update-with-Start, update id = call id; answers with the result. */
export const signalWatchCallUpdate = defineUpdate<string, [string]>('call');

/** A call over the gateway's share: Signal-with-Start carrying the call id and the message. */
export const enqueueSignal = defineSignal<[string, string]>('enqueue');
