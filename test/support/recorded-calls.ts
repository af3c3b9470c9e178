// How many calls Temporal has recorded, whatever their shape: every workflow that is not a key or
// shard workflow (call workflows, records, sagas, dead letters), plus every call a key or shard
// workflow accepted (a `call` update or a `submitCall` signal, over all its runs). Tests that
// check "a bad request recorded nothing" count this: a fast-path call starts no workflow of its own.
import type { Client } from '@temporalio/client';

export async function recordedCalls(client: Client): Promise<number> {
  const others = (await client.workflow.count(`WorkflowType != 'keyWorkflow'`)).count;
  let inKeyWorkflows = 0;
  for await (const run of client.workflow.list({ query: `WorkflowType = 'keyWorkflow'` })) {
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    for (const event of history.events ?? []) {
      if (event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'call') inKeyWorkflows++;
      if (event.workflowExecutionSignaledEventAttributes?.signalName === 'submitCall') inKeyWorkflows++;
    }
  }
  return others + inKeyWorkflows;
}
