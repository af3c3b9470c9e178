// Delivery semantics (docs/guarantees.md), each against a real dev server, real worker and gateway
// processes, and the fixture MCP server over Streamable HTTP: envelope, deadlines, cancellation
// from every entry point, idempotency across a gateway restart, retries by mutation class, dead
// letters under both policies, MCP tasks and progress.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { callWorkflowId } from '../../src/shared/ids.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';
import { rpcError } from '../support/rpc.js';

type Result = Awaited<ReturnType<McpClient['callTool']>>;

const ORDER = (key: string) => ({ 'switchyard/ordering_key': key });
const ASYNC = { 'switchyard/accept_async': true };

function statusOf(result: object): string | undefined {
  return (result as { _meta?: Record<string, unknown> })._meta?.['switchyard/status'] as string | undefined;
}

describe('delivery semantics', { timeout: 600_000 }, () => {
  let stack: Stack;
  let client: McpClient;

  before(async () => {
    stack = await new Stack({
      withEverything: true,
      syncWaitMs: 8_000,
      retry: { maxAttempts: 5, initialIntervalMs: 100, maxIntervalMs: 500 },
      configure: (config) => {
        // The same fixture twice more, with a 1 s request timeout ("sent, no answer"): once with
        // the default onDeadLetter (continue), once halting the key on a dead letter.
        const url = config.servers.find((server) => server.id === 'fixture')!.url;
        config.servers.push(
          { id: 'short', transport: 'http', url, timeoutMs: 1_000, toolPolicies: { slow: { retry: { maxAttempts: 3 } } } },
          { id: 'halting', transport: 'http', url, timeoutMs: 1_000, policy: { onDeadLetter: 'halt' } },
          // Every tool read-only (safe to repeat, so Temporal runs the retries), a 300 ms request
          // timeout, and a breaker that stays out of the way of the retry counts.
          {
            id: 'readonly',
            transport: 'http',
            url,
            timeoutMs: 300,
            circuitBreaker: { failureThreshold: 1_000 },
            policy: { mutation: 'read_only' },
            toolPolicies: {
              slow: { retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 100, backoffCoefficient: 1 } },
              apply: { retry: { maxAttempts: 10, initialIntervalMs: 1_000, maxIntervalMs: 1_000, backoffCoefficient: 1 } },
            },
          },
        );
      },
    }).start();
    client = await stack.client();
  });

  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  const call = (name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}, c: McpClient = client) =>
    c.callTool({ name, arguments: args, _meta: meta }, CallToolResultSchema, { timeout: 120_000 }) as Promise<Result>;
  const get = async (correlationId: string) => call('switchyard.get_call', { correlation_id: correlationId });
  const untilDone = (correlationId: string, timeoutMs = 30_000) =>
    waitFor(`call ${correlationId} to finish`, async () => {
      const r = await get(correlationId);
      const status = (r.structuredContent as { status: string }).status;
      return ['admitting', 'queued', 'running'].includes(status) ? undefined : r;
    }, timeoutMs, 200);

  describe('the envelope', () => {
    it('refuses bad envelope values with -32602 naming the field, and starts nothing', async () => {
      for (const [meta, field] of [
        [{ 'switchyard/priority': 'urgent' }, 'switchyard/priority'],
        [{ 'switchyard/deadline': 'next tuesday' }, 'switchyard/deadline'],
        [{ 'switchyard/accept_async': 'yes' }, 'switchyard/accept_async'],
        [{ 'switchyard/deadline_ms': -5 }, 'switchyard/deadline_ms'],
      ] as const) {
        const error = await rpcError(call('fixture.record', { key: 'bad', step: 0 }, meta));
        assert.equal(error.code, -32602);
        assert.match(error.message, new RegExp(field.replace('/', '\\/')));
      }
      assert.equal(stack.fixture.executions.filter((e) => e.args.key === 'bad').length, 0);
    });

    it('switchyard.submit sets the envelope from its arguments, naming them in errors', async () => {
      const result = await call('switchyard.submit', { tool: 'fixture.record', arguments: { key: 'submit', step: 1 }, ordering_key: 'submit-key', idempotency_key: 'submit-1', priority: 'high' });
      assert.equal(textOf(result), 'submit#1');
      const execution = stack.fixture.executionsOf('record').find((e) => e.args.key === 'submit')!;
      assert.equal(execution.idempotencyKey, 'submit-1');
      const view = await get(correlationIdOf(result));
      assert.equal((view.structuredContent as { ordering_key: string }).ordering_key, 'submit-key');
      const again = await call('switchyard.submit', { tool: 'fixture.record', arguments: { key: 'submit', step: 1 }, idempotency_key: 'submit-1' });
      assert.equal(correlationIdOf(again), correlationIdOf(result));
      assert.equal(stack.fixture.executionsOf('record').filter((e) => e.args.key === 'submit').length, 1);

      const bad = await rpcError(call('switchyard.submit', { tool: 'fixture.record', arguments: {}, priority: 'urgent' }));
      assert.equal(bad.code, -32602);
      assert.match(bad.message, /argument "priority"/);
      const unknown = await rpcError(call('switchyard.submit', { tool: 'fixture.record', color: 'red' }));
      assert.match(unknown.message, /no argument "color"/);
    });

    it('accept_async: true answers "accepted" at once; the call still runs', async () => {
      const started = Date.now();
      const result = await call('fixture.slow', { ms: 1_500, tag: 'async' }, ASYNC);
      assert.ok(Date.now() - started < 1_400, 'answered before the tool finished');
      assert.equal(statusOf(result), 'accepted');
      const done = await untilDone(correlationIdOf(result));
      assert.equal((done.structuredContent as { status: string }).status, 'completed');
    });

    it('accept_async: false waits past syncWaitMs for the outcome', async () => {
      const result = await call('fixture.slow', { ms: 9_000, tag: 'sync' }, { 'switchyard/accept_async': false });
      assert.equal(statusOf(result), 'completed');
      assert.equal(textOf(result), 'slept 9000 ms (sync)');
    });
  });

  describe('deadlines', () => {
    it('a step whose deadline passes while it is queued never runs and ends deadline_exceeded', async () => {
      const holder = call('fixture.slow', { ms: 2_500, tag: 'holder' }, ORDER('dl-queued'));
      await waitFor('holder running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'holder'));
      const late = await call('fixture.record', { key: 'dl-queued', step: 1 }, { ...ORDER('dl-queued'), 'switchyard/deadline_ms': 500 });
      assert.equal(statusOf(late), 'deadline_exceeded');
      assert.match(textOf(late), /while queued/);
      assert.equal(statusOf(await holder), 'completed');
      const next = await call('fixture.record', { key: 'dl-queued', step: 2 }, ORDER('dl-queued'));
      assert.equal(statusOf(next), 'completed');
      assert.deepEqual(stack.fixture.executionsOf('record').filter((e) => e.args.key === 'dl-queued').map((e) => e.args.step), [2]);
    });

    it('a running step is cancelled at the deadline and the server is told', async () => {
      const started = Date.now();
      const result = await call('fixture.slow', { ms: 10_000, tag: 'dl-running' }, { 'switchyard/deadline': new Date(Date.now() + 1_500).toISOString() });
      assert.equal(statusOf(result), 'deadline_exceeded');
      assert.ok(Date.now() - started < 5_000);
      const execution = await waitFor('downstream cancelled', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === 'dl-running' && e.cancelled));
      assert.ok(execution.finishedAt! - started < 3_000, 'cancelled near the deadline');
      assert.equal(stack.fixture.executionsOf('slow').filter((e) => e.args.tag === 'dl-running').length, 1);
    });
  });

  describe('cancellation from every entry point', () => {
    type Canceller = (correlationId: string, pending: { abort?: AbortController; taskId?: string }) => Promise<void>;
    const entryPoints: Array<[string, Canceller]> = [
      ['switchyard.cancel_call', async (id) => void (await call('switchyard.cancel_call', { correlation_id: id }))],
      ['the Temporal Web UI (RequestCancelWorkflowExecution)', async (id) => void (await stack.temporalClient.workflow.getHandle(callWorkflowId('default', id)).cancel())],
      ['tasks/cancel', async (id) => void (await client.experimental.tasks.cancelTask(id))],
    ];

    for (const [name, cancel] of entryPoints) {
      it(`${name}: a running step is cancelled downstream, a queued one never runs, later steps continue`, async () => {
        const key = `cancel-${name.slice(0, 12)}`;
        const running = await call('fixture.slow', { ms: 20_000, tag: `${key}-running` }, { ...ORDER(key), ...ASYNC });
        const queued = await call('fixture.apply', { key: `${key}-queued` }, { ...ORDER(key), ...ASYNC });
        const later = await call('fixture.record', { key, step: 3 }, { ...ORDER(key), ...ASYNC });
        await waitFor('first step running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === `${key}-running`));
        await cancel(correlationIdOf(queued), {});
        await cancel(correlationIdOf(running), {});
        await waitFor('downstream told', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === `${key}-running` && e.cancelled));
        const laterDone = await untilDone(correlationIdOf(later));
        assert.equal((laterDone.structuredContent as { status: string }).status, 'completed');
        for (const id of [correlationIdOf(running), correlationIdOf(queued)]) {
          assert.equal(((await untilDone(id)).structuredContent as { status: string }).status, 'cancelled');
        }
        assert.equal(stack.fixture.executionsOf('apply').filter((e) => e.args.key === `${key}-queued`).length, 0, 'the queued step never ran');
      });
    }

    it('notifications/cancelled: a queued request the client cancels never runs; later steps continue', async () => {
      const key = 'cancel-notification';
      await call('fixture.slow', { ms: 2_000, tag: `${key}-holder` }, { ...ORDER(key), ...ASYNC });
      await waitFor('holder running', () => stack.fixture.executionsOf('slow').find((e) => e.args.tag === `${key}-holder`));
      const abort = new AbortController();
      const queued = client.callTool({ name: 'fixture.apply', arguments: { key: `${key}-queued` }, _meta: ORDER(key) }, CallToolResultSchema, { signal: abort.signal });
      await new Promise((r) => setTimeout(r, 500)); // accepted and queued behind the holder
      abort.abort('user pressed stop');
      await assert.rejects(queued);
      const later = await call('fixture.record', { key, step: 9 }, ORDER(key));
      assert.equal(statusOf(later), 'completed');
      assert.equal(stack.fixture.executionsOf('apply').filter((e) => e.args.key === `${key}-queued`).length, 0);
    });
  });

  describe('idempotency', () => {
    it('concurrent duplicates and a gateway restart between them run the tool once and share one outcome', async () => {
      const meta = { 'switchyard/idempotency_key': 'idem-concurrent' };
      const doomed = await stack.client();
      const first = Array.from({ length: 6 }, () => call('fixture.apply', { key: 'idem-concurrent', ms: 3_000 }, meta, doomed));
      await waitFor('the tool started', () => stack.fixture.executionsOf('apply').find((e) => e.args.key === 'idem-concurrent'));
      await stack.kill('gateway');
      await doomed.close(); // those requests lost their gateway mid-call
      await Promise.allSettled(first);
      await stack.startGateway();
      const other = await stack.client();
      try {
        const again = await Promise.all(Array.from({ length: 6 }, () => call('fixture.apply', { key: 'idem-concurrent', ms: 3_000 }, meta, other)));
        const ids = new Set(again.map(correlationIdOf));
        assert.equal(ids.size, 1);
        for (const r of again) assert.equal(textOf(r), 'applied idem-concurrent');
      } finally {
        await other.close();
      }
      client = await stack.client();
      const executions = stack.fixture.executionsOf('apply').filter((e) => e.args.key === 'idem-concurrent');
      assert.equal(executions.length, 1, 'ran once');
      assert.equal(executions[0]!.idempotencyKey, 'idem-concurrent');
      assert.ok(executions[0]!.correlationId);
    });
  });

  describe('retries by mutation class and dead letters', () => {
    it('a non-idempotent call that timed out after sending is not repeated: dead-lettered outcome_unknown (continue)', async () => {
      stack.fixture.hangApply = true;
      try {
        const key = 'dlq-continue';
        const stalled = await call('fixture.slow', { ms: 1, tag: 'warm' }); // unrelated: proves the server is fine
        assert.equal(statusOf(stalled), 'completed');
        const first = call('short.apply', { key: `${key}-1` }, { ...ORDER(key), 'switchyard/accept_async': false });
        const result = await first;
        assert.equal(statusOf(result), 'dead_lettered');
        assert.match(textOf(result), /outcome is unknown/);
        assert.equal(stack.fixture.executionsOf('apply').filter((e) => e.args.key === `${key}-1`).length, 1, 'never repeated');
        const second = await call('fixture.record', { key, step: 2 }, ORDER(key));
        assert.equal(statusOf(second), 'completed', 'continue: later steps on the key run');
      } finally {
        stack.fixture.hangApply = false;
      }
    });

    it('an idempotent call is retried on timeouts, then dead-lettered retries_exhausted', async () => {
      const result = await call('short.slow', { ms: 3_000, tag: 'retried' }, { 'switchyard/accept_async': false });
      assert.equal(statusOf(result), 'dead_lettered');
      assert.equal(stack.fixture.executionsOf('slow').filter((e) => e.args.tag === 'retried').length, 3, 'maxAttempts from toolPolicies');
    });

    it('a non-idempotent call is retried while the server provably never got it (connection refused)', async () => {
      await stack.fixture.stop();
      const pending = call('fixture.apply', { key: 'refused' }, { 'switchyard/accept_async': false });
      await new Promise((r) => setTimeout(r, 600));
      await stack.fixture.start();
      const result = await pending;
      assert.equal(statusOf(result), 'completed', textOf(result));
      assert.equal(stack.fixture.executionsOf('apply').filter((e) => e.args.key === 'refused').length, 1);
    });

    it('a worker killed mid-request leaves a non-idempotent call dead-lettered outcome_unknown, not repeated', async () => {
      const pending = call('fixture.apply', { key: 'killed-mid-apply', ms: 4_000 }, { 'switchyard/accept_async': false });
      await waitFor('request reached the server', () => stack.fixture.executionsOf('apply').find((e) => e.args.key === 'killed-mid-apply'));
      await stack.kill('worker');
      await stack.startWorker();
      const result = await pending;
      assert.equal(statusOf(result), 'dead_lettered', textOf(result));
      assert.match(textOf(result), /stopped responding mid-request/);
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(stack.fixture.executionsOf('apply').filter((e) => e.args.key === 'killed-mid-apply').length, 1, 'never repeated');
    });

    it('an isError result is an answer: never retried, even for a read-only tool', async () => {
      const result = await call('fixture.fail', { reason: 'once only' });
      assert.equal(result.isError, true);
      // fixture.fail is non-idempotent (never retried anyway); fail_read is read-only, so Temporal would retry it.
      const read = await call('fixture.fail_read', { reason: 'read once' });
      assert.equal(read.isError, true);
      assert.equal(statusOf(read), 'completed');
      assert.equal(textOf(read), 'lookup failed: read once');
      await new Promise((r) => setTimeout(r, 1_000)); // longer than the retry backoff
      assert.equal(stack.fixture.executionsOf('fail').filter((e) => e.args.reason === 'once only').length, 1);
      assert.equal(stack.fixture.executionsOf('fail_read').filter((e) => e.args.reason === 'read once').length, 1, 'invoked exactly once');
    });

    it('a downstream JSON-RPC error is an answer: never retried, even for a read-only tool', async () => {
      const error = await rpcError(call('readonly.rpc_error', { tag: 'rpc-once' }));
      assert.equal(error.code, -32603);
      assert.match(error.message, /failed on purpose \(JSON-RPC error\)/);
      await new Promise((r) => setTimeout(r, 1_000)); // longer than the retry backoff
      assert.equal(stack.fixture.executionsOf('rpc_error').filter((e) => e.args.tag === 'rpc-once').length, 1, 'the server got exactly one request');
    });

    it('a read-only call that exhausts maxAttempts inside its deadline is dead-lettered retries_exhausted after exactly maxAttempts', async () => {
      const result = await call('readonly.slow', { ms: 5_000, tag: 'exhausted' }, { 'switchyard/accept_async': false });
      assert.equal(statusOf(result), 'dead_lettered', textOf(result));
      assert.equal((result._meta as Record<string, unknown>)['switchyard/dead_letter_reason'], 'retries_exhausted');
      assert.match(textOf(result), /\(3 attempts\)/);
      assert.equal(stack.fixture.executionsOf('slow').filter((e) => e.args.tag === 'exhausted').length, 3, 'maxAttempts from toolPolicies');
      const shown = await call('switchyard.dlq_show', { correlation_id: correlationIdOf(result) });
      assert.equal((shown.structuredContent as { attempts: number }).attempts, 3);
    });

    it('a read-only call whose next retry would cross its deadline ends deadline_exceeded, with the attempts it really made', async () => {
      // Attempts time out after 300 ms, 1 s apart: the second ends about 1.6 s in, and a third
      // would start after the 2.5 s deadline, so Temporal stops retrying there, well before the
      // deadline and far from maxAttempts (10).
      const result = await call('readonly.apply', { key: 'crossing', ms: 5_000 }, { 'switchyard/deadline_ms': 2_500, 'switchyard/accept_async': false });
      assert.equal(statusOf(result), 'deadline_exceeded', textOf(result));
      const made = stack.fixture.executionsOf('apply').filter((e) => e.args.key === 'crossing').length;
      assert.equal(made, 2, 'two attempts fit before the deadline');
      assert.match(textOf(result), new RegExp(`after ${made} attempts?\\.`), `reports the ${made} attempts made`);
      const view = await get(correlationIdOf(result));
      assert.equal((view.structuredContent as { status: string }).status, 'deadline_exceeded');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(stack.fixture.executionsOf('apply').filter((e) => e.args.key === 'crossing').length, made, 'nothing ran after the outcome');
    });

    it('halt: later steps on the key wait for the dead letter, say so, and go on after discard (CLI)', async () => {
      stack.fixture.hangApply = true;
      const key = 'dlq-halt';
      const dead = await call('halting.apply', { key: `${key}-1` }, { ...ORDER(key), 'switchyard/accept_async': false });
      stack.fixture.hangApply = false;
      assert.equal(statusOf(dead), 'dead_lettered');
      const deadId = correlationIdOf(dead);
      const waiting = await call('fixture.record', { key, step: 2 }, { ...ORDER(key), ...ASYNC });
      const view = await waitFor('waiting_for reported', async () => {
        const v = await get(correlationIdOf(waiting));
        return (v.structuredContent as { waiting_for?: string }).waiting_for ? v : undefined;
      });
      assert.match((view.structuredContent as { waiting_for: string }).waiting_for, new RegExp(`dead-letter/${deadId}`));
      assert.match(textOf(view), /an operator must redrive or discard it/);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(stack.fixture.executionsOf('record').filter((e) => e.args.key === key).length, 0, 'halted');

      const listed = await stack.cli('dlq', 'list', '--json');
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok((JSON.parse(listed.stdout) as Array<{ correlationId: string }>).some((e) => e.correlationId === deadId));
      const discarded = await stack.cli('dlq', 'discard', deadId, '--note', 'applied by hand');
      assert.equal(discarded.code, 0, discarded.stderr);
      assert.match(discarded.stdout, /state: discarded/);
      const done = await untilDone(correlationIdOf(waiting));
      assert.equal((done.structuredContent as { status: string }).status, 'completed');
      const twice = await stack.cli('dlq', 'discard', deadId);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /discarded, not pending/);
    });

    it('redrive through the admin broker tool runs the call again; get_call then shows the new outcome', async () => {
      stack.fixture.hangApply = true;
      const dead = await call('short.apply', { key: 'redrive-me' }, { 'switchyard/accept_async': false });
      stack.fixture.hangApply = false;
      const id = correlationIdOf(dead);
      const list = await call('switchyard.dlq_list', {});
      assert.ok((list.structuredContent as { dead_letters: Array<{ correlation_id: string }> }).dead_letters.some((d) => d.correlation_id === id));
      const shown = await call('switchyard.dlq_show', { correlation_id: id });
      assert.equal((shown.structuredContent as { reason: string }).reason, 'outcome_unknown');
      const redriven = await call('switchyard.dlq_redrive', { correlation_id: id });
      assert.equal((redriven.structuredContent as { state: string }).state, 'redriven', textOf(redriven));
      const view = await get(id);
      assert.equal((view.structuredContent as { status: string }).status, 'completed');
      assert.equal(stack.fixture.executionsOf('apply').filter((e) => e.args.key === 'redrive-me').length, 2, 'the original attempt and the redrive');
      const actions = (view.structuredContent as { dead_letter: { actions: Array<{ action: string; by: string }> } }).dead_letter.actions;
      assert.deepEqual(actions.map((a) => a.action), ['redrive']);
      assert.match(actions[0]!.by, /via mcp/);
    });
  });

  describe('MCP tasks and progress', () => {
    it('runs a call as a task: tasks/get, tasks/result, tasks/list, and after a gateway restart', async () => {
      const created = await client.request(
        { method: 'tools/call', params: { name: 'fixture.slow', arguments: { ms: 2_500, tag: 'task' }, task: { ttl: 60_000 } } },
        CreateTaskResultSchema,
      );
      const { taskId } = created.task;
      assert.equal(created.task.status, 'working');
      assert.equal((await client.experimental.tasks.getTask(taskId)).status, 'working');
      const listed = await client.experimental.tasks.listTasks();
      assert.ok(listed.tasks.some((t) => t.taskId === taskId));

      await stack.kill('gateway');
      await stack.startGateway();
      const fresh = await stack.client();
      try {
        const result = await fresh.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, { timeout: 60_000 });
        assert.equal(textOf(result), 'slept 2500 ms (task)');
        assert.deepEqual(result._meta?.['io.modelcontextprotocol/related-task'], { taskId });
        assert.equal((await fresh.experimental.tasks.getTask(taskId)).status, 'completed');
        const cancelDone = await rpcError(fresh.experimental.tasks.cancelTask(taskId));
        assert.equal(cancelDone.code, -32602);
        const unknown = await rpcError(fresh.experimental.tasks.getTask('00000000-0000-4000-8000-000000000000'));
        assert.equal(unknown.code, -32602);
      } finally {
        await fresh.close();
      }
      client = await stack.client();
    });

    it('relays downstream progress as notifications/progress', async () => {
      const progress: number[] = [];
      const result = await client.callTool({ name: 'everything.trigger-long-running-operation', arguments: { duration: 4, steps: 4 } }, CallToolResultSchema, {
        onprogress: (p) => progress.push(p.progress),
        timeout: 60_000,
      });
      assert.match(textOf(result), /Long running operation completed/);
      assert.ok(progress.length >= 1, 'at least one progress notification');
      assert.deepEqual([...progress].sort((a, b) => a - b), progress, 'progress only grows');
    });

    it('relays progress live, while the call runs, not only with the result', async () => {
      // The tool reports 1..12 every 500 ms, then answers (6 s, inside syncWaitMs). Progress also
      // travels with the result (the gateway sends what the poll missed just before it), so what
      // this checks is timing: at least two notifications arrive well before the result, spread
      // over the run, as the gateway's once-a-second poll of the heartbeat details reads them.
      // Without the live poll all of them arrive within a few ms of the result.
      const progress: Array<{ value: number; at: number }> = [];
      const started = Date.now();
      const result = await client.callTool({ name: 'fixture.steps', arguments: { steps: 12, intervalMs: 500 } }, CallToolResultSchema, {
        onprogress: (p) => progress.push({ value: p.progress, at: Date.now() }),
        timeout: 60_000,
      });
      const resultAt = Date.now();
      assert.equal(textOf(result), '12 steps done');
      const timeline = `progress ${JSON.stringify(progress.map((p) => [p.value, p.at - started]))}, result at ${resultAt - started} ms`;
      console.log(`# live progress: ${timeline}`);
      const early = progress.filter((p) => p.at <= resultAt - 250);
      assert.ok(early.length >= 2, `at least two progress notifications arrive 250 ms or more before the result: ${timeline}`);
      assert.ok(early.at(-1)!.at - early[0]!.at >= 1_000, `live notifications are spread over the run, not one burst: ${timeline}`);
      assert.ok(early.at(-1)!.value < 12, `the early notifications are intermediate steps: ${timeline}`);
      assert.deepEqual(progress.map((p) => p.value), [...progress.map((p) => p.value)].sort((a, b) => a - b), 'progress only grows');
    });
  });
});
