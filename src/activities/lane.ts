// Lane bookkeeping that needs a Temporal client: workflows cannot signal-with-start, and cannot
// ask whether another workflow is still running.
import { WorkflowNotFoundError } from '@temporalio/client';
import { laneWorkflowId } from '../shared/ids.js';
import { enqueueSignal, SA_ORDERING_KEY, SA_TENANT } from '../shared/messages.js';
import type { laneWorkflow } from '../workflows/lane.js';
import type { ActivityDeps } from './index.js';

export function createLaneActivities({ client, taskQueue, laneHandoffsPerRun }: ActivityDeps) {
  return {
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
