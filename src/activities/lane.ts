// Lane bookkeeping that needs a Temporal client: workflows cannot signal-with-start, and cannot
// ask whether another workflow is still running.
import { WorkflowNotFoundError } from '@temporalio/client';
import { laneWorkflowId } from '../shared/ids.js';
import { enqueueSignal, laneStateQuery, SA_ORDERING_KEY, SA_TENANT } from '../shared/messages.js';
import { keyRoute, keyWorkflowStart } from '../shared/route.js';
import type { keyWorkflow } from '../workflows/key.js';
import type { laneWorkflow } from '../workflows/lane.js';
import type { ActivityDeps } from './index.js';

export function createLaneActivities({ client, taskQueue, laneHandoffsPerRun, keySettings }: ActivityDeps) {
  /** Once no lane runs, none ever will: this code starts none (only call workflows older than the key workflows did). */
  let lanesGone = false;
  return {
    /**
     * After an upgrade from the lane-based version, a key workflow starts only once its key's lane
     * has no call left: the calls in flight there were accepted first.
     */
    async laneBusy(input: { tenant: string; orderingKey: string }): Promise<boolean> {
      if (lanesGone) return false;
      if ((await client.workflow.count(`WorkflowType = 'laneWorkflow' AND ExecutionStatus = 'Running'`)).count === 0) {
        lanesGone = true;
        return false;
      }
      const lane = client.workflow.getHandle<typeof laneWorkflow>(laneWorkflowId(input.tenant, input.orderingKey));
      try {
        if ((await lane.describe()).status.name !== 'RUNNING') return false;
        const state = await lane.query(laneStateQuery);
        return state.holder !== undefined || state.queued.length > 0;
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    },

    /**
     * Puts a call workflow (a saga step, an idempotent call) in its key workflow's queue, starting
     * that workflow if it is not running. Returns the key workflow's id, for the release.
     */
    async enqueueInKey(input: { tenant: string; orderingKey: string; callWorkflowId: string }): Promise<string> {
      const start = keyWorkflowStart(input.tenant, keyRoute(input.tenant, input.orderingKey), input.orderingKey, keySettings);
      await client.workflow.signalWithStart<typeof keyWorkflow, [{ callWorkflowId: string }]>('keyWorkflow', {
        ...start,
        taskQueue,
        signal: enqueueSignal,
        signalArgs: [{ callWorkflowId: input.callWorkflowId }],
      });
      return start.workflowId;
    },

    /** Puts a call at the end of its key's lane, starting the lane if it is not running. */
    async enqueueInLane(input: { tenant: string; orderingKey: string; callWorkflowId: string }): Promise<void> {
      await client.workflow.signalWithStart<typeof laneWorkflow, [{ callWorkflowId: string }]>('laneWorkflow', {
        workflowId: laneWorkflowId(input.tenant, input.orderingKey),
        taskQueue,
        args: [{ tenant: input.tenant, orderingKey: input.orderingKey, queued: [], handoffsPerRun: laneHandoffsPerRun }],
        signal: enqueueSignal,
        signalArgs: [{ callWorkflowId: input.callWorkflowId }],
        typedSearchAttributes: [
          { key: SA_TENANT, value: input.tenant },
          { key: SA_ORDERING_KEY, value: input.orderingKey },
        ],
        staticSummary: `lane "${input.orderingKey}" of tenant ${input.tenant}`,
      });
    },

    async isCallRunning(callWorkflowId: string): Promise<boolean> {
      try {
        const description = await client.workflow.getHandle(callWorkflowId).describe();
        return description.status.name === 'RUNNING';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    },
  };
}
