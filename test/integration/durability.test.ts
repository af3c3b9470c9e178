// Nothing lost: a call survives SIGKILL of the worker, a gateway restart and a Temporal restart
// in the middle of the call, and the client still gets the downstream result.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { keyWorkflowId } from '../../src/shared/ids.js';
import { keyRoute } from '../../src/shared/route.js';
import type { Execution } from '../support/fixture-server.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';
import { waitFor } from '../support/ports.js';

describe('durability', { timeout: 300_000 }, () => {
  const stack = new Stack({ syncWaitMs: 1_000, heartbeatTimeoutMs: 2_000, withEverything: false, laneHandoffsPerRun: 3, callsPerRun: 3 });

  before(async () => {
    await stack.start();
    await stack.waitForReady();
  });
  after(async () => {
    await stack.stop();
  });

  it('a call survives SIGKILL of the worker mid-call and is retried on a new worker', async () => {
    const client = await stack.client();
    const accepted = await client.callTool({ name: 'fixture.slow', arguments: { ms: 3_000, tag: 'worker-kill' } });
    await client.close();
    const correlationId = correlationIdOf(accepted);
    await waitFor('first attempt running', () => stack.fixture.executions.find((e) => e.correlationId === correlationId));
    await stack.kill('worker');
    await stack.startWorker();

    const done = await stack.finalResult(correlationId);
    assert.equal((done.structuredContent as { status: string }).status, 'completed');
    assert.equal(textOf(done), 'slept 3000 ms (worker-kill)');
    const attempts = stack.fixture.executions.filter((e) => e.correlationId === correlationId);
    assert.ok(attempts.length >= 2, 'the downstream call was retried after the worker died');
    assert.equal(attempts.at(-1)!.attempt, attempts.length, 'every attempt carries its attempt number downstream');
  });

  it('a call survives a gateway restart; the reconnecting client fetches it by correlation id', async () => {
    const client = await stack.client();
    const accepted = await client.callTool({ name: 'fixture.slow', arguments: { ms: 3_000, tag: 'gateway-restart' } });
    const correlationId = correlationIdOf(accepted);
    await stack.kill('gateway');
    await stack.startGateway();
    const done = await stack.finalResult(correlationId);
    assert.equal(textOf(done), 'slept 3000 ms (gateway-restart)');
    assert.equal(stack.fixture.executions.filter((e) => e.correlationId === correlationId).length, 1, 'ran exactly once');
  });

  it('a client waiting synchronously when the gateway dies finds its call again by idempotency key', async () => {
    const client = await stack.client();
    const key = `restart-${Date.now()}`;
    const pending = client.request(
      { method: 'tools/call', params: { name: 'fixture.slow', arguments: { ms: 3_000, tag: 'sync' }, _meta: { 'switchyard/idempotency_key': key } } },
      CallToolResultSchema,
      { timeout: 8_000 },
    );
    const failed = pending.then(() => 'answered', () => 'connection lost');
    await waitFor('call reached the server', () => stack.fixture.executions.find((e) => e.idempotencyKey === key));
    await stack.kill('gateway');
    assert.equal(await failed, 'connection lost');
    await stack.startGateway();

    const again = await stack.client();
    const view = await waitFor('completed', async () => {
      const r = await again.callTool({ name: 'switchyard.get_call', arguments: { idempotency_key: key } });
      return (r.structuredContent as { status: string }).status === 'completed' ? r : undefined;
    }, 30_000, 500);
    assert.equal(textOf(view), 'slept 3000 ms (sync)');
    // Sending the same call again with the same key returns the first outcome; nothing runs twice.
    const repeat = await again.callTool({ name: 'fixture.slow', arguments: { ms: 3_000, tag: 'sync' }, _meta: { 'switchyard/idempotency_key': key } });
    assert.equal(textOf(repeat), 'slept 3000 ms (sync)');
    assert.equal(stack.fixture.executions.filter((e) => e.idempotencyKey === key).length, 1);
    await again.close();
  });

  it('a key workflow continues as new to bound its history, keeping order and losing no queued call', async () => {
    const client = await stack.client();
    const key = `bounded-${Date.now()}`;
    // Half awaited one by one (known acceptance order), half fired together (queued at once).
    for (let step = 0; step < 5; step++) {
      await client.callTool({ name: 'fixture.record', arguments: { key, step }, _meta: { 'switchyard/ordering_key': key } });
    }
    const burst = await Promise.all(
      [5, 6, 7, 8, 9].map((step) => client.callTool({ name: 'fixture.record', arguments: { key, step }, _meta: { 'switchyard/ordering_key': key } })),
    );
    await client.close();
    const runs = await waitFor('all 10 steps to run', () => {
      const seen = stack.fixture.executionsOf('record').filter((e) => e.args.key === key && e.finishedAt !== undefined);
      return seen.length >= 10 ? seen.sort((a, b) => a.startedAt - b.startedAt) : undefined;
    }, 30_000, 200);
    assert.deepEqual(runs.slice(0, 5).map((r) => r.args.step), [0, 1, 2, 3, 4], 'acknowledged calls ran in acceptance order');
    assert.deepEqual(new Set(runs.slice(5).map((r) => r.correlationId)), new Set(burst.map(correlationIdOf)), 'no queued call was lost across runs');
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.startedAt >= runs[i - 1]!.finishedAt!, 'one at a time');

    const keyRuns = await waitFor('key workflow runs in visibility', async () => {
      const seen = [];
      for await (const wf of stack.temporalClient.workflow.list({ query: `WorkflowId = "${keyWorkflowId('default', keyRoute('default', stack.storedKey(key)))}"` })) seen.push(wf.status.name);
      return seen.length >= 3 ? seen : undefined;
    }, 15_000, 500);
    assert.ok(keyRuns.filter((s) => s === 'CONTINUED_AS_NEW').length >= 2, `key workflow continued as new: ${keyRuns.join(', ')}`);
  });

  it('a call survives a Temporal dev server restart (SIGKILL, same database)', async () => {
    const client = await stack.client();
    const accepted = await client.callTool({ name: 'fixture.slow', arguments: { ms: 4_000, tag: 'temporal-restart' } });
    await client.close().catch(() => undefined);
    const correlationId = correlationIdOf(accepted);
    await waitFor('call reached the server', () => stack.fixture.executions.find((e) => e.correlationId === correlationId));
    await stack.restartTemporal();

    const done = await stack.finalResult(correlationId, 90_000);
    assert.equal((done.structuredContent as { status: string }).status, 'completed');
    assert.equal(textOf(done), 'slept 4000 ms (temporal-restart)');
  });

  it('many calls across a Temporal SIGKILL: ordered and unordered, running, queued and waiting; each ends once with its outcome', async () => {
    const tag = `tk-${Date.now()}`;
    const key = `${tag}-lane`;
    const client = await stack.client();
    const accept = (name: string, args: Record<string, unknown>, meta: Record<string, unknown>) =>
      client.callTool({ name, arguments: args, _meta: { 'switchyard/accept_async': true, ...meta } }, CallToolResultSchema, { timeout: 30_000 });
    // One key, four non-idempotent steps of 1.5 s: at the kill one runs, the rest are queued.
    const ordered: string[] = [];
    for (let step = 0; step < 4; step++) {
      ordered.push(correlationIdOf(await accept('fixture.apply', { key: `${key}-${step}`, ms: 1_500 }, { 'switchyard/ordering_key': key, 'switchyard/idempotency_key': `${key}-${step}` })));
    }
    // No key: two non-idempotent and two idempotent calls, all running at the kill.
    const unordered = await Promise.all([
      accept('fixture.apply', { key: `${tag}-free-0`, ms: 3_000 }, {}),
      accept('fixture.apply', { key: `${tag}-free-1`, ms: 3_000 }, {}),
      accept('fixture.slow', { ms: 3_000, tag: `${tag}-slow-0` }, {}),
      accept('fixture.slow', { ms: 3_000, tag: `${tag}-slow-1` }, {}),
    ]).then((results) => results.map(correlationIdOf));
    // And a client waiting synchronously for a non-idempotent call.
    const waiter = await stack.client();
    const waiting = waiter
      .callTool({ name: 'fixture.apply', arguments: { key: `${tag}-sync`, ms: 3_000 }, _meta: { 'switchyard/accept_async': false, 'switchyard/idempotency_key': `${tag}-sync` } }, CallToolResultSchema, { timeout: 120_000 })
      .then((result) => ({ result }), (error: unknown) => ({ error }));

    const started = (match: (e: Execution) => boolean) => stack.fixture.executions.some((e) => match(e) && e.finishedAt === undefined);
    await waitFor('the calls to be running downstream', () =>
      started((e) => String(e.args.key).startsWith(`${key}-`)) && started((e) => e.args.key === `${tag}-free-1`) && started((e) => e.args.tag === `${tag}-slow-1`) && started((e) => e.args.key === `${tag}-sync`),
    );
    const runningAtKill = stack.fixture.executions.filter((e) => e.finishedAt === undefined && String(e.args.key ?? e.args.tag).startsWith(tag)).map((e) => String(e.args.key ?? e.args.tag));
    const laneStartedAtKill = stack.fixture.executions.filter((e) => String(e.args.key).startsWith(`${key}-`)).length;
    await stack.restartTemporal();

    const waited = await waiting;
    const sync = await waitFor('the synchronous call by its idempotency key', async () => {
      const c = await stack.client();
      try {
        const r = await c.callTool({ name: 'switchyard.get_call', arguments: { idempotency_key: `${tag}-sync` } });
        const status = (r.structuredContent as { status: string }).status;
        return status === 'running' || status === 'queued' ? undefined : r;
      } finally {
        await c.close();
      }
    }, 90_000, 500);
    const outcomes = new Map<string, { status: string; text: string }>();
    for (const id of [...ordered, ...unordered]) {
      const done = await stack.finalResult(id, 90_000);
      outcomes.set(id, { status: (done.structuredContent as { status: string }).status, text: textOf(done) });
    }
    const report = JSON.stringify({ runningAtKill, outcomes: [...outcomes.entries()], sync: (sync.structuredContent as { status: string }).status, waited: 'result' in waited ? textOf(waited.result) : String(waited.error) });
    console.log(`# across a Temporal SIGKILL: ${report}`);

    const requests = (match: (e: Execution) => boolean) => stack.fixture.executions.filter(match);
    // What the kill hit: the unordered calls and the waited-for one were running, and the key had
    // one step running and at least two still queued.
    for (const running of [`${tag}-free-0`, `${tag}-free-1`, `${tag}-slow-0`, `${tag}-slow-1`, `${tag}-sync`]) assert.ok(runningAtKill.includes(running), `${running} was running at the kill: ${report}`);
    assert.equal(runningAtKill.filter((k) => k.startsWith(`${key}-`)).length, 1, `one step of the key was running at the kill: ${report}`);
    assert.ok(laneStartedAtKill <= 2, `at least two steps of the key were still queued at the kill (${laneStartedAtKill} had started)`);
    ordered.forEach((id, step) => {
      assert.deepEqual(outcomes.get(id), { status: 'completed', text: `applied ${key}-${step}` }, `ordered step ${step}: ${report}`);
      assert.equal(requests((e) => e.args.key === `${key}-${step}`).length, 1, `ordered step ${step} ran once`);
    });
    const steps = requests((e) => String(e.args.key).startsWith(`${key}-`)).sort((a, b) => a.startedAt - b.startedAt);
    assert.deepEqual(steps.map((e) => e.args.key), [0, 1, 2, 3].map((step) => `${key}-${step}`), 'the key ran in acceptance order');
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i]!.startedAt >= steps[i - 1]!.finishedAt!, 'one at a time');
    for (const [i, expected] of [`applied ${tag}-free-0`, `applied ${tag}-free-1`, `slept 3000 ms (${tag}-slow-0)`, `slept 3000 ms (${tag}-slow-1)`].entries()) {
      assert.deepEqual(outcomes.get(unordered[i]!), { status: 'completed', text: expected }, `unordered call ${i}: ${report}`);
    }
    for (const free of [0, 1]) assert.equal(requests((e) => e.args.key === `${tag}-free-${free}`).length, 1, `non-idempotent ${tag}-free-${free} ran once`);
    for (const slow of [0, 1]) assert.ok(requests((e) => e.args.tag === `${tag}-slow-${slow}` && e.finishedAt !== undefined && !e.cancelled).length >= 1, `idempotent ${tag}-slow-${slow} finished downstream`);
    assert.ok('result' in waited, `the waiting client got its answer across the kill: ${report}`);
    assert.equal(textOf(waited.result), `applied ${tag}-sync`);
    assert.equal((sync.structuredContent as { status: string }).status, 'completed', report);
    assert.equal(textOf(sync), `applied ${tag}-sync`);
    assert.equal(requests((e) => e.args.key === `${tag}-sync`).length, 1, 'the waited-for call ran once');
    // Nothing ran again later (a late retry would show here).
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(requests((e) => String(e.args.key ?? e.args.tag).startsWith(tag)).filter((e) => e.tool === 'apply').length, 4 + 2 + 1, 'each non-idempotent call reached the server once');
    await client.close();
    await waiter.close();
  });
});
