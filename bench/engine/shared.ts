// What the engine-floor client and worker share: the task queue, the update a keyed call is,
// and the server limit that shapes the keyed client.
import { defineUpdate } from '@temporalio/workflow';

export const ENGINE_TASK_QUEUE = 'switchyard-bench-engine';

/** One call on a key workflow: the handler runs the echo and answers with its result. */
export const callUpdate = defineUpdate<string, [string]>('call');

export interface KeyWorkflowInput {
  activity: 'local' | 'regular';
}

/**
 * Server default `history.maxInFlightUpdates` (1.29): an 11th unfinished update on one workflow
 * is rejected with ResourceExhausted. A gateway built on this shape would have to queue callers
 * of one key beyond this number itself, so the bench client does that (the wait is in the latency).
 */
export const MAX_IN_FLIGHT_UPDATES = 10;

/** Server default `history.maxTotalUpdates`: updates one run of a key workflow accepts. */
export const MAX_UPDATES_PER_RUN = 2_000;
