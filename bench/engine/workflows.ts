// The engine floor's workflows: the least a call can cost in each shape Switchyard could take.
// Each does only what its shape must; nothing here is Switchyard code.
import { condition, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { EngineActivities } from './activities.js';
import { callUpdate, type KeyWorkflowInput } from './shared.js';

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
  const { echo } = input.activity === 'local' ? local : regular;
  let tail: Promise<unknown> = Promise.resolve();
  setHandler(callUpdate, async (message) => {
    const mine = tail.then(() => echo(message));
    tail = mine.catch(() => undefined);
    return await mine;
  });
  await condition(() => false);
}
