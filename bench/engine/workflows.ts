// The engine floor's workflows: the least a call can cost in each shape Switchyard could take.
// Each does only what its shape must; nothing here is Switchyard code.
import { condition, currentUpdateInfo, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { EngineActivities } from './activities.js';
import { callUpdate, enqueueSignal, HELD_CALLS, heldCallUpdate, type KeyWorkflowInput, signalWatchCallUpdate, watchUpdate } from './shared.js';

const regular = proxyActivities<EngineActivities>({ startToCloseTimeout: '30 seconds' });
const local = proxyLocalActivities<EngineActivities>({ startToCloseTimeout: '30 seconds' });

/** engine-call: a workflow per call that runs one activity (today's unordered design, bare). */
export async function engineCallWorkflow(message: string): Promise<string> {
  return await regular.echo(message);
}

/** engine-call-local: a workflow per call that runs one local activity. */
export async function engineCallLocalWorkflow(message: string): Promise<string> {
  return await local.echo(message);
}

/**
 * engine-key-update*: one long-lived workflow per key; each call is an update whose handler runs
 * the echo. Handlers run one at a time in the order the updates were accepted (a FIFO chain), as
 * an ordered lane must: without it, updates in flight together would run their echoes at once.
 * It never ends on its own: the bench terminates it once the phase's histories are read.
 */
export async function engineKeyWorkflow(input: KeyWorkflowInput): Promise<void> {
  if (input.activity === 'local-batch') return await batchedKey();
  const { echo } = input.activity === 'local' ? local : regular;
  let tail: Promise<unknown> = Promise.resolve();
  setHandler(callUpdate, async (message) => {
    const mine = tail.then(() => echo(message));
    tail = mine.catch(() => undefined);
    return await mine;
  });
  await condition(() => false);
}

/**
 * engine-key-batch*: as engine-key-update with local activities, but one local activity runs every
 * call queued when it starts, in order, and the handlers of that batch answer together. The calls
 * of one batch share one activation and one local-activity dispatch each way, where
 * engine-key-update pays both per call. (A prototype of a possible call path, docs/performance.md
 * "Batched local activities".)
 */
async function batchedKey(): Promise<void> {
  const queue: { message: string; done: (result: string) => void; fail: (error: unknown) => void }[] = [];
  setHandler(callUpdate, (message) => new Promise<string>((done, fail) => void queue.push({ message, done, fail })));
  for (;;) {
    await condition(() => queue.length > 0);
    const batch = queue.splice(0);
    try {
      const results = await local.echoBatch(batch.map((call) => call.message));
      batch.forEach((call, i) => call.done(results[i]!));
    } catch (error) {
      for (const call of batch) call.fail(error);
    }
  }
}

/**
 * What the two call-path prototypes share: one queue of calls run in order as local activities,
 * results kept until taken, and the `watch` update that hands a caller's ended results back.
 */
function keyMailbox() {
  const queue: { callId: string; message: string }[] = [];
  const ended = new Map<string, string>();
  const take = (callId: string): string => {
    const result = ended.get(callId)!;
    ended.delete(callId);
    return result;
  };
  setHandler(watchUpdate, async (callIds) => {
    await condition(() => callIds.some((id) => ended.has(id)));
    return Object.fromEntries(callIds.filter((id) => ended.has(id)).map((id) => [id, take(id)]));
  });
  async function run(): Promise<never> {
    for (;;) {
      await condition(() => queue.length > 0);
      const call = queue.shift()!;
      ended.set(call.callId, await local.echo(call.message));
    }
  }
  return { queue, ended, take, run };
}

/**
 * engine-key-held-watch*: the call-path design's key workflow, bare (docs/call-path-design.md,
 * "Submitting and waiting"). A `call` handler queues its call; the calls run one at a time in
 * acceptance order as local activities. While fewer than HELD_CALLS handlers hold, the handler
 * holds until its call ended and returns the result; otherwise it acknowledges at once and the
 * caller's client collects the result with `watch`. Results are kept only until returned, so the
 * state stays as small as the queue. It never ends on its own, like engineKeyWorkflow.
 */
export async function engineHeldWatchWorkflow(): Promise<void> {
  const { queue, ended, take, run } = keyMailbox();
  let holding = 0;

  setHandler(heldCallUpdate, async (message) => {
    // The update id is the call id (the client sets it), so a re-sent call is the same update.
    const callId = currentUpdateInfo()!.id;
    queue.push({ callId, message });
    if (holding >= HELD_CALLS) return { accepted: true };
    holding++;
    try {
      await condition(() => ended.has(callId));
      return { result: take(callId) };
    } finally {
      holding--;
    }
  });
  await run();
}

/**
 * engine-key-signal-watch*: the revised key workflow (docs/call-path-design.md, "Submitting and
 * waiting"). A call arrives as a `call` update, which holds until its call ended, or as an
 * `enqueue` signal, whose result the caller's gateway collects with `watch`. Both handlers push onto
 * the one queue synchronously (no validator, no await before the push), so the queue's order is
 * the order in which the SDK delivers the accepted updates and the signals. It never ends on its
 * own, like engineKeyWorkflow.
 */
export async function engineSignalWatchWorkflow(): Promise<void> {
  const { queue, ended, take, run } = keyMailbox();

  setHandler(signalWatchCallUpdate, async (message) => {
    const callId = currentUpdateInfo()!.id;
    queue.push({ callId, message });
    await condition(() => ended.has(callId));
    return take(callId);
  });
  setHandler(enqueueSignal, (callId, message) => {
    queue.push({ callId, message });
  });
  await run();
}
