// Large results (up to the 1.5 MiB durable limit) where many of them meet: a saga's status and a
// page of tasks/list. Temporal refuses any payload above 2 MB, so these keep results by
// reference (the call's correlation id) and fetch them on demand (docs/sagas.md, guarantee 9).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { sagaWorkflowId } from '../../src/shared/ids.js';
import type { SagaStatus } from '../../src/shared/saga.js';
import { waitFor } from '../support/ports.js';
import { Stack, textOf } from '../support/stack.js';

const BYTES = 1_200_000;

interface StepView {
  step: string;
  state: string;
  correlation_id: string;
  outcome?: { status: string; resultBytes?: number; result?: { content: Array<{ text?: string }>; structuredContent?: { tag?: string } } };
}

describe('large results', { timeout: 300_000 }, () => {
  let stack: Stack;
  let client: McpClient;

  before(async () => {
    stack = await new Stack({ withEverything: false, syncWaitMs: 30_000 }).start();
    client = await stack.client();
  });

  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: 120_000 });

  it('a saga of two ~1.2 MB steps completes; get_saga answers, and each step result can still be fetched', async () => {
    const run = await call('switchyard.run_saga', {
      steps: [
        { step: 'first', tool: 'fixture.big', arguments: { bytes: BYTES, tag: 'saga-1' } },
        // A whole-saga template still reads the earlier (large) result inside the saga.
        { step: 'second', tool: 'fixture.big', arguments: { bytes: BYTES, tag: '{{steps.first.result.structuredContent.tag}}-then-2' } },
      ],
      accept_async: true,
    });
    const sagaId = (run.structuredContent as { saga_id: string }).saga_id;
    const handle = stack.temporalClient.workflow.getHandle(sagaWorkflowId('default', sagaId));
    // The saga workflow itself must complete: its result is its status, under the payload limit.
    const status = (await waitFor('the saga workflow to complete', async () => ((await handle.describe()).status.name === 'RUNNING' ? undefined : handle.result()), 120_000, 500)) as SagaStatus;
    assert.equal(status.state, 'completed');
    assert.ok(JSON.stringify(status).length < 64 * 1024, `the saga's status is small (${JSON.stringify(status).length} chars)`);
    assert.deepEqual(status.steps.map((s) => s.outcome?.status === 'completed' && s.outcome.resultBytes > BYTES), [true, true], 'the status keeps each result by size');
    assert.deepEqual(stack.fixture.executionsOf('big').filter((e) => String(e.args.tag).startsWith('saga-1')).map((e) => e.args.tag), ['saga-1', 'saga-1-then-2']);

    const got = await call('switchyard.get_saga', { saga_id: sagaId });
    assert.equal(got.isError, undefined, textOf(got));
    const view = got.structuredContent as { state: string; steps: StepView[] };
    assert.equal(view.state, 'completed');
    assert.deepEqual(view.steps.map((s) => s.state), ['succeeded', 'succeeded']);
    // Both results do not fit in one answer's budget (1 MiB): each stays a reference with its size.
    for (const step of view.steps) {
      assert.equal(step.outcome?.status, 'completed');
      assert.ok(step.outcome!.resultBytes! > BYTES);
      assert.equal(step.outcome!.result, undefined);
    }

    // The step's call workflow holds its result: get_call and tasks/result return it.
    const second = view.steps[1]!;
    const fetched = await call('switchyard.get_call', { correlation_id: second.correlation_id });
    assert.equal((fetched.structuredContent as { status: string }).status, 'completed', textOf(fetched).slice(0, 300));
    const asTask = await client.experimental.tasks.getTaskResult(second.correlation_id, CallToolResultSchema, { timeout: 60_000 });
    assert.equal((asTask.content[0] as { text: string }).text.length, BYTES);
    assert.deepEqual(asTask.structuredContent, { bytes: BYTES, tag: 'saga-1-then-2' });
  });

  it('get_saga puts small step results back into its answer', async () => {
    const run = await call('switchyard.run_saga', {
      steps: [
        { step: 'small', tool: 'fixture.big', arguments: { bytes: 10, tag: 'small' } },
        { step: 'echo', tool: 'fixture.echo', arguments: { message: 'hello' } },
      ],
    });
    const view = run.structuredContent as { state: string; steps: StepView[] };
    assert.equal(view.state, 'completed', textOf(run));
    assert.equal(view.steps[0]!.outcome?.result?.structuredContent?.tag, 'small');
    const got = (await call('switchyard.get_saga', { saga_id: (run.structuredContent as { saga_id: string }).saga_id })).structuredContent as { steps: StepView[] };
    assert.equal(got.steps[1]!.outcome?.result?.content[0]?.text, 'hello');
  });

  it('tasks/list answers with statuses only; tasks/result fetches a result', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await client.request({ method: 'tools/call', params: { name: 'fixture.big', arguments: { bytes: BYTES, tag: `task-${i}` }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
      ids.push(created.task.taskId);
    }
    await waitFor('the three tasks to complete', async () => {
      for (const id of ids) if ((await client.experimental.tasks.getTask(id)).status !== 'completed') return undefined;
      return true;
    }, 60_000, 250);
    const listed = await waitFor('visibility to show them closed', async () => {
      const page = await client.experimental.tasks.listTasks();
      const mine = page.tasks.filter((t) => ids.includes(t.taskId));
      return mine.length === 3 && mine.every((t) => t.status === 'completed') ? mine : undefined;
    }, 30_000, 250);
    for (const task of listed) assert.equal(task.statusMessage, 'fetch the result with tasks/result', 'listed from visibility, without fetching its result');
    const result = await client.experimental.tasks.getTaskResult(ids[0]!, CallToolResultSchema, { timeout: 60_000 });
    assert.equal((result.content[0] as { text: string }).text.length, BYTES);
  });
});
