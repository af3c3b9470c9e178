// One lane per (tenant, ordering key): a durable FIFO of call workflow ids. It hands the turn to
// one call at a time, in the order the calls entered, and never runs tool code itself, so its
// history grows by a few events per call and is bounded by continue-as-new.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { enqueueSignal, goSignal, handoverSignal, laneStateQuery, releaseSignal } from '../shared/messages.js';

export interface LaneInput {
  tenant: string;
  orderingKey: string;
  queued: string[];
  holder?: string;
  /** Recently finished calls: a late, retried enqueue of one of them is ignored. */
  finished?: string[];
  /** Hand-offs before the lane continues as new (bounds its history). */
  handoffsPerRun?: number;
}

const IDLE_CLOSE_MS = 60_000;
const FINISHED_MEMORY = 256;
const DEFAULT_HANDOFFS_PER_RUN = 500;
const HOLDER_CHECK_MS = 60_000;

const { isCallRunning } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumInterval: '10 seconds' },
});

export async function laneWorkflow(input: LaneInput): Promise<void> {
  const queued = [...input.queued];
  let holder = input.holder;
  const finished = [...(input.finished ?? [])];
  let handoffs = 0;
  const handoffsPerRun = input.handoffsPerRun ?? DEFAULT_HANDOFFS_PER_RUN;

  const known = (id: string) => id === holder || queued.includes(id) || finished.includes(id);
  const remember = (id: string) => {
    finished.push(id);
    if (finished.length > FINISHED_MEMORY) finished.shift();
  };

  setHandler(enqueueSignal, ({ callWorkflowId }) => {
    if (!known(callWorkflowId)) queued.push(callWorkflowId);
  });
  setHandler(releaseSignal, ({ callWorkflowId }) => {
    if (holder === callWorkflowId) holder = undefined;
    const index = queued.indexOf(callWorkflowId);
    if (index >= 0) queued.splice(index, 1);
    remember(callWorkflowId);
  });
  setHandler(handoverSignal, ({ from, to }) => {
    // A dead-lettered call under `halt`: its dead letter keeps the turn until it is resolved.
    if (holder === from) {
      holder = to;
      remember(from);
    }
  });
  setHandler(laneStateQuery, () => ({ holder, queued: [...queued] }));

  for (;;) {
    const rollOver = () => workflowInfo().continueAsNewSuggested || handoffs >= handoffsPerRun;
    if (holder === undefined && queued.length === 0) {
      const woke = await condition(() => queued.length > 0 || rollOver(), IDLE_CLOSE_MS);
      if (!woke) {
        // Nothing queued for a while: close. A signal that races with this completion makes the
        // server reject it and redeliver, so no enqueue is lost.
        await condition(allHandlersFinished);
        return;
      }
    } else if (holder !== undefined) {
      const released = await condition(() => holder === undefined || rollOver(), HOLDER_CHECK_MS);
      if (!released && holder !== undefined && !(await isCallRunning(holder))) {
        // The holder was terminated from outside (it had no chance to release): move on.
        log.warn('lane holder ended without releasing; skipping it', { callWorkflowId: holder });
        remember(holder);
        holder = undefined;
      }
    }
    if (rollOver()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof laneWorkflow>({ ...input, queued, holder, finished });
    }
    if (holder === undefined && queued.length > 0) {
      const next = queued.shift()!;
      holder = next;
      handoffs++;
      try {
        await getExternalWorkflowHandle(next).signal(goSignal);
      } catch (error) {
        // The call already ended (cancelled or past its deadline while queued): skip it.
        log.info('lane skipped a call that is no longer running', { callWorkflowId: next, error: String(error) });
        if (holder === next) holder = undefined;
        remember(next);
      }
    }
  }
}
