// The fast call path (docs/architecture.md, "The call path"): calls run inside one workflow per
// ordering key, or a tenant's shard workflow, submitted by held update or, over the gateway's
// share of updates, by signal. These tests pin what that shape must keep: no cap on waiting
// callers, acceptance order across updates, signals, continue-as-new and call workflows, every
// caller answered, cancellation and lookup of a call that is an update inside another workflow.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { keyWorkflowId, routeOf } from '../../src/shared/ids.js';
import { cancelCallSignal } from '../../src/shared/messages.js';
import { keyRoute } from '../../src/shared/route.js';
import { waitFor } from '../support/ports.js';
import { acceptanceOf, acceptedBefore, historiesOf, keyHistories, localActivities } from '../support/key-history.js';
import { Stack } from '../support/stack.js';


const UPDATES_PER_WORKFLOW = 2;
const CALLS_PER_RUN = 8;

describe('the fast call path', { timeout: 600_000 }, () => {
  let stack: Stack;
  let client: McpClient;

  before(async () => {
    stack = await new Stack({
      withEverything: false,
      syncWaitMs: 60_000,
      configure: (config) => {
        config.callPath = { updatesPerWorkflow: UPDATES_PER_WORKFLOW, callsPerRun: CALLS_PER_RUN };
        // The fixture again with a short timeout: `execution: auto` runs its safe tools as local activities.
        const url = config.servers.find((server) => server.id === 'fixture')!.url;
        config.servers.push({ id: 'fast', transport: 'http', url, timeoutMs: 2_000 });
        // And as a local server with a long timeout (batches that outlast a workflow task's heartbeat).
        config.servers.push({ id: 'long', transport: 'http', url, timeoutMs: 20_000, execution: 'local' });
      },
    }).start();
    client = await stack.client();
  });

  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  const meta = (key: string) => ({ 'switchyard/ordering_key': key });
  const textOf = (result: Record<string, unknown>) => (result.content as Array<{ text: string }>)[0]!.text;
  const correlationIdOf = (result: { _meta?: Record<string, unknown> }) => result._meta?.['switchyard/correlation_id'] as string;

  /**
   * The `record` calls on a key ran once each, one at a time, in the key workflow's acceptance
   * order across its runs: a call accepted in an earlier workflow task (or run) never ran after
   * one accepted in a later one.
   */
  async function assertRanInAcceptanceOrder(key: string, calls: number) {
    const ran = stack.fixture.executionsOf('record').filter((e) => e.args.key === key).sort((a, b) => a.startedAt - b.startedAt);
    assert.equal(ran.length, calls, 'each call ran once');
    for (let i = 1; i < ran.length; i++) assert.ok(ran[i]!.startedAt >= ran[i - 1]!.finishedAt!, 'one at a time on a key');
    const runs = await keyHistories(stack, key);
    const { accepted, when } = await acceptanceOf(stack, runs);
    const order = ran.map((e) => when.get(e.correlationId!));
    assert.ok(order.every((w) => w !== undefined), 'every call that ran was accepted by the key workflow');
    for (let i = 1; i < order.length; i++) {
      assert.ok(!acceptedBefore(order[i]!, order[i - 1]!), `call ${i} ran after call ${i - 1} but was accepted earlier`);
    }
    return { runs, accepted };
  }

  /**
   * Sends a call on a key and returns once the key workflow has it queued (so calls are accepted
   * in the order sent), with the call's answer to come (wrapped: an async function would wait for it).
   */
  async function queueBehind(key: string, queuedBefore: number, name: string, args: Record<string, unknown>) {
    const handle = stack.temporalClient.workflow.getHandle(keyWorkflowId('default', keyRoute('default', stack.storedKey(key))));
    const call = client.callTool({ name, arguments: args, _meta: meta(key) }, undefined, { timeout: 60_000 });
    await waitFor(`${name} queued`, async () => ((await handle.query<{ queued: string[] }>('keyState')).queued.length > queuedBefore ? true : undefined));
    return { answer: call };
  }

  it(`has no cap on waiting callers: 50 concurrent callers on one key are all accepted in order and answered (${UPDATES_PER_WORKFLOW} updates per workflow, the rest by signal)`, async () => {
    const key = 'fifty';
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, step) => client.callTool({ name: 'fixture.record', arguments: { key, step }, _meta: meta(key) }, undefined, { timeout: 120_000 })),
    );
    // Every caller got its own answer, not an "accepted".
    assert.deepEqual(results.map((r) => r._meta?.['switchyard/status']), Array(50).fill('completed'));
    assert.deepEqual(results.map(textOf).sort(), Array.from({ length: 50 }, (_, step) => `${key}#${step}`).sort());
    const { runs, accepted } = await assertRanInAcceptanceOrder(key, 50);
    assert.ok(accepted.reduce((n, a) => n + a.bySignal, 0) > 0, 'some calls went by signal: the share of updates was in use');
    assert.ok(runs.length > 1, `the key workflow continued as new (${CALLS_PER_RUN} calls per run) with callers waiting`);
    // Every caller was waiting, by update or by watch: no call needed a record of its own.
    const records = await stack.temporalClient.workflow.count(`WorkflowType = 'callRecordWorkflow' AND SwitchyardOrderingKey = '${stack.storedKey(key)}'`);
    assert.equal(records.count, 0, 'no record for calls whose callers were waiting');
  });

  it('rolls a busy key over to its next run with no workflow task refused: callers that keep calling hold off while it continues as new', async () => {
    // Closed-loop callers (each sends its next call when answered) keep calls arriving at every
    // continue-as-new. One that reaches the workflow while its continue-as-new is being completed
    // makes Temporal refuse it (UnhandledCommand) and the worker replay the whole run: the key
    // workflow rolls over after a quiet moment instead, and the gateway sends nothing to a
    // draining run (workflows/key.ts QUIET_ROLLOVER, services/key-calls.ts).
    const key = 'busy';
    const callers = 16;
    const each = 12;
    const statuses = await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        const seen: unknown[] = [];
        for (let i = 0; i < each; i++) {
          const result = await client.callTool({ name: 'fixture.record', arguments: { key, step: caller * 100 + i }, _meta: meta(key) }, undefined, { timeout: 120_000 });
          seen.push(result._meta?.['switchyard/status']);
        }
        return seen;
      }),
    );
    assert.deepEqual(statuses.flat(), Array(callers * each).fill('completed'));
    const runs = await keyHistories(stack, key);
    assert.ok(runs.length >= (callers * each) / CALLS_PER_RUN / 2, `the key workflow continued as new many times (${runs.length} runs)`);
    const refused = runs.flat().flatMap((e) => (e.workflowTaskFailedEventAttributes ? [e.workflowTaskFailedEventAttributes.failure?.message ?? '?'] : []));
    assert.deepEqual(refused, [], 'no workflow task of the key failed');
  });

  it('answers 200 concurrent unordered calls run as local activities in shards that continue as new, with no workflow task failing', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.callTool({ name: 'fast.echo', arguments: { message: `local-${i}` } }, undefined, { timeout: 120_000 })),
    );
    assert.deepEqual(results.map((r) => r._meta?.['switchyard/status']), Array(200).fill('completed'));
    assert.deepEqual(results.map(textOf), Array.from({ length: 200 }, (_, i) => `local-${i}`));
    // Every shard's every run replays cleanly: several local activities ending in one workflow
    // task must not reorder what the workflow did between them (a nondeterminism error).
    const failures: string[] = [];
    let runs = 0;
    for await (const run of stack.temporalClient.workflow.list({ query: `WorkflowType = 'keyWorkflow' AND WorkflowId STARTS_WITH 'switchyard/default/shard/'` })) {
      runs++;
      const events = (await stack.temporalClient.workflow.getHandle(run.workflowId, run.runId).fetchHistory()).events ?? [];
      for (const event of events) {
        // UnhandledCommand is Temporal refusing a continue-as-new because a call arrived meanwhile: expected.
        const failed = event.workflowTaskFailedEventAttributes;
        if (failed && failed.failure?.message !== 'UnhandledCommand') failures.push(`${run.workflowId}: ${failed.failure?.message ?? ''}`);
      }
    }
    assert.ok(runs > 8, `the shards continued as new (${runs} runs)`);
    assert.deepEqual(failures, []);
  });

  it('keeps one order on a key for fast calls and call workflows (an idempotency key) alike', async () => {
    const key = 'mixed';
    const first = client.callTool({ name: 'fixture.slow', arguments: { ms: 800, tag: 'mixed-1' }, _meta: meta(key) });
    await waitFor('first running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'mixed-1'));
    const second = client.callTool({ name: 'fixture.slow', arguments: { ms: 10, tag: 'mixed-2' }, _meta: { ...meta(key), 'switchyard/idempotency_key': 'mixed-2' } });
    await new Promise((r) => setTimeout(r, 300));
    const third = client.callTool({ name: 'fixture.slow', arguments: { ms: 10, tag: 'mixed-3' }, _meta: meta(key) });
    const texts = (await Promise.all([first, second, third])).map(textOf);
    assert.deepEqual(texts, ['slept 800 ms (mixed-1)', 'slept 10 ms (mixed-2)', 'slept 10 ms (mixed-3)']);
    const ran = ['mixed-1', 'mixed-2', 'mixed-3'].map((tag) => stack.fixture.executionsOf('slow').find((e) => e.args.tag === tag)!);
    assert.ok(ran[1]!.startedAt >= ran[0]!.finishedAt! && ran[2]!.startedAt >= ran[1]!.finishedAt!, 'in acceptance order');
    assert.equal(routeOf(correlationIdOf(await first)), keyRoute('default', stack.storedKey(key)), 'the fast call is routed to its key workflow');
    assert.equal(routeOf(correlationIdOf(await second)), undefined, 'the idempotent call is its own workflow');
  });

  it('cancels a queued call from the Web UI (a cancelCall signal to its key workflow): it never runs, later calls do', async () => {
    const key = 'ui-cancel';
    const blocker = client.callTool({ name: 'fixture.slow', arguments: { ms: 1_500, tag: 'ui-blocker' }, _meta: meta(key) });
    await waitFor('blocker running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'ui-blocker'));
    const queued = client.callTool({ name: 'fixture.slow', arguments: { ms: 10, tag: 'ui-cancelled' }, _meta: meta(key) }, undefined, { timeout: 60_000 });
    const workflowId = keyWorkflowId('default', keyRoute('default', stack.storedKey(key)));
    const queuedId = await waitFor('the second call queued', async () => {
      const state = await stack.temporalClient.workflow.getHandle(workflowId).query<{ queued: string[] }>('keyState');
      return state.queued[0];
    });
    await stack.temporalClient.workflow.getHandle(workflowId).signal(cancelCallSignal, { correlationId: queuedId });
    const after = await client.callTool({ name: 'fixture.slow', arguments: { ms: 10, tag: 'ui-after' }, _meta: meta(key) });
    assert.equal(textOf(await blocker), 'slept 1500 ms (ui-blocker)');
    const cancelled = await queued;
    assert.equal(cancelled._meta?.['switchyard/status'], 'cancelled');
    assert.equal(correlationIdOf(cancelled), queuedId);
    assert.equal(textOf(after), 'slept 10 ms (ui-after)');
    assert.equal(stack.fixture.executionsOf('slow').filter((e) => e.args.tag === 'ui-cancelled').length, 0, 'the cancelled call never reached the server');
  });

  it('runs the local calls queued on a key in batches (one local activity for several), still one at a time in acceptance order', async () => {
    const key = 'batched';
    // A regular activity holds no workflow task open, so each call behind it is accepted in a
    // workflow task of its own: the order checked below is then the order within the batch too.
    const blocker = client.callTool({ name: 'fixture.slow', arguments: { ms: 5_000, tag: 'batch-blocker' }, _meta: meta(key) }, undefined, { timeout: 60_000 });
    await waitFor('blocker running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'batch-blocker'));
    const queued = [];
    for (let step = 0; step < 8; step++) queued.push(await queueBehind(key, step, 'fast.record', { key, step }));
    assert.ok(!stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'batch-blocker')!.finishedAt, 'all 8 were queued while the blocker ran');
    const results = await Promise.all(queued.map((q) => q.answer));
    assert.equal(textOf(await blocker), 'slept 5000 ms (batch-blocker)');
    assert.deepEqual(results.map(textOf), Array.from({ length: 8 }, (_, step) => `${key}#${step}`));
    const { runs, accepted } = await assertRanInAcceptanceOrder(key, 8);
    const tasks = new Set(accepted.flatMap(({ taskOf }, run) => [...taskOf.values()].map((task) => `${run}:${task}`)));
    assert.ok(tasks.size >= 9, 'the blocker and each queued call were accepted in workflow tasks of their own');
    const local = localActivities(runs);
    assert.ok((local.callToolBatch ?? 0) >= 1, `the queued calls ran in batches (${JSON.stringify(local)})`);
    assert.ok((local.callToolBatch ?? 0) + (local.callTool ?? 0) < 8, `fewer local activities than calls (${JSON.stringify(local)})`);
  });

  it('cancels one call of a running batch: it never runs, the others of its batch run again and complete, in order', async () => {
    const key = 'batch-cancel';
    // A regular activity holds no workflow task open: the calls behind it are seen queued.
    const blocker = client.callTool({ name: 'fixture.slow', arguments: { ms: 5_000, tag: 'bc-blocker' }, _meta: meta(key) });
    await waitFor('blocker running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'bc-blocker'));
    // The first stalls (only the first time it runs): the batch is still on it when the cancel
    // arrives, with the workflow task's heartbeat (a running local activity holds the task open).
    const { answer: first } = await queueBehind(key, 0, 'long.flaky', { tag: 'bc-1', stallMs: 12_000 });
    const cancelling = new AbortController();
    const second = client.callTool({ name: 'long.echo', arguments: { message: 'bc-2' }, _meta: meta(key) }, undefined, { timeout: 60_000, signal: cancelling.signal }).catch((error: unknown) => error);
    const handle = stack.temporalClient.workflow.getHandle(keyWorkflowId('default', keyRoute('default', stack.storedKey(key))));
    await waitFor('the second queued', async () => ((await handle.query<{ queued: string[] }>('keyState')).queued.length > 1 ? true : undefined));
    const { answer: third } = await queueBehind(key, 2, 'long.record', { key, step: 3 });
    await waitFor('the batch running', () => stack.fixture.executionsOf('flaky').find((e) => e.args.tag === 'bc-1'));
    cancelling.abort();
    assert.equal(textOf(await first), 'flaky bc-1');
    assert.equal(textOf(await third), `${key}#3`);
    assert.ok((await second) instanceof Error, 'the client cancelled the second call');
    await blocker;
    const firstRuns = stack.fixture.executionsOf('flaky').filter((e) => e.args.tag === 'bc-1');
    assert.deepEqual(firstRuns.map((e) => e.cancelled === true), [true, false], 'the first call was stopped with its batch, then ran again');
    assert.equal(stack.fixture.executionsOf('echo').filter((e) => e.args.message === 'bc-2').length, 0, 'the cancelled call never reached the server');
    const thirdRuns = stack.fixture.executionsOf('record').filter((e) => e.args.key === key);
    assert.equal(thirdRuns.length, 1);
    assert.ok(thirdRuns[0]!.startedAt >= firstRuns[1]!.finishedAt!, 'the third ran after the first had ended');
    const runs = await keyHistories(stack, key);
    assert.ok((localActivities(runs).callToolBatch ?? 0) >= 1, 'the calls ran as a batch');
  });

  it('retries a call that failed inside a batch with its own retry policy, counting that attempt, and runs the calls behind it only after it', async () => {
    const key = 'batch-retry';
    const blocker = client.callTool({ name: 'fixture.slow', arguments: { ms: 5_000, tag: 'br-blocker' }, _meta: meta(key) });
    await waitFor('blocker running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'br-blocker'));
    const { answer: before } = await queueBehind(key, 0, 'fast.record', { key, step: 1 });
    // Its first run outlasts the `fast` server's 2 s request timeout: a retryable failure.
    const { answer: flaky } = await queueBehind(key, 1, 'fast.flaky', { tag: 'br', stallMs: 5_000 });
    const { answer: behind } = await queueBehind(key, 2, 'fast.record', { key, step: 2 });
    assert.equal(textOf(await blocker), 'slept 5000 ms (br-blocker)');
    assert.deepEqual([textOf(await before), textOf(await flaky), textOf(await behind)], [`${key}#1`, 'flaky br', `${key}#2`]);
    const attempts = stack.fixture.executionsOf('flaky').filter((e) => e.args.tag === 'br');
    assert.deepEqual(attempts.map((e) => e.attempt), [1, 2], 'the retry is attempt 2: the batched attempt counts');
    const records = stack.fixture.executionsOf('record').filter((e) => e.args.key === key).sort((a, b) => a.startedAt - b.startedAt);
    assert.deepEqual(records.map((e) => e.args.step), [1, 2], 'each other call ran once');
    assert.ok(records[1]!.startedAt >= attempts[1]!.finishedAt!, 'the call behind ran after the retry had ended');
    const runs = await keyHistories(stack, key);
    assert.ok((localActivities(runs).callToolBatch ?? 0) >= 1, 'the three ran as a batch first');
  });

  it('finds a call answered on the fast path with get_call, while it runs and after it ended', async () => {
    const key = 'lookup';
    const running = client.callTool({ name: 'fixture.slow', arguments: { ms: 1_500, tag: 'lookup-1' }, _meta: meta(key) });
    const workflowId = keyWorkflowId('default', keyRoute('default', stack.storedKey(key)));
    const id = await waitFor('running', async () => (await stack.temporalClient.workflow.getHandle(workflowId).query<{ running: string[] }>('keyState')).running[0]);
    const during = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: id } });
    assert.equal(during._meta?.['switchyard/status'], 'running');
    assert.equal(textOf(await running), 'slept 1500 ms (lookup-1)');
    const later = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: id } });
    assert.equal(later._meta?.['switchyard/status'], 'completed');
    assert.equal(textOf(later), 'slept 1500 ms (lookup-1)');
    // An id whose route names a key workflow that never ran it is not found.
    const stranger = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: id.replace(/^k[0-9a-f]+/, keyRoute('default', stack.storedKey('nothing-here'))) } });
    assert.equal(stranger._meta?.['switchyard/status'], 'not_found');
  });

  it('sends a call to a key workflow that closed since this gateway last reached it (a plain update fails) by starting it again, still as an update', async () => {
    const key = 'reopened';
    const first = await client.callTool({ name: 'fixture.record', arguments: { key, step: 0 }, _meta: meta(key) });
    assert.equal(first._meta?.['switchyard/status'], 'completed');
    const workflowId = keyWorkflowId('default', keyRoute('default', stack.storedKey(key)));
    await stack.temporalClient.workflow.getHandle(workflowId).terminate('test: the workflow closed meanwhile');
    const second = await client.callTool({ name: 'fixture.record', arguments: { key, step: 1 }, _meta: meta(key) });
    assert.equal(textOf(second), `${key}#1`);
    const runs = await waitFor('the second run listed', async () => {
      const found = await historiesOf(stack, workflowId);
      return found.length === 2 ? found : undefined;
    });
    const updateIds = runs[1]!.flatMap((e) => (e.workflowExecutionUpdateAcceptedEventAttributes ? [e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.meta?.updateId] : []));
    assert.deepEqual(updateIds, [correlationIdOf(second)], 'the call reached the new run as an update');
    assert.equal(runs[1]!.filter((e) => e.workflowExecutionSignaledEventAttributes).length, 0, 'not by the signal fallback');
  });

  it('runs key workflows without the SDK\'s per-promise stack capture by default: the stack-trace query says so, calls still run (ordering.test.ts has it on)', async () => {
    const key = 'no-stack-traces';
    const running = client.callTool({ name: 'fixture.slow', arguments: { ms: 800, tag: 'stack-1' }, _meta: meta(key) });
    const handle = stack.temporalClient.workflow.getHandle(keyWorkflowId('default', keyRoute('default', stack.storedKey(key))));
    await waitFor('running', async () => (await handle.query<{ running: string[] }>('keyState')).running[0]);
    await assert.rejects(handle.query<string>('__stack_trace'), /stack traces are not enabled/);
    assert.equal(textOf(await running), 'slept 800 ms (stack-1)');
  });
});
