// A 2025 server's open request held between rounds (src/activities/held-calls.ts): questions come
// before the result, answers reach the server's question, and a held request is found only by its
// own call, once, and aborted at the call's deadline.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HELD_STATE_PREFIX, HeldCall, HeldCalls, questionResult } from '../../src/activities/held-calls.js';
import type { ToolResult } from '../../src/shared/envelope.js';

const never = new AbortController().signal;

describe('HeldCall', () => {
  it('gives the server’s question before its result, and the answer to the question', async () => {
    const call = new HeldCall('c1');
    call.start(
      (async () => {
        const answer = await call.ask('elicitation/create', { message: 'Who?' });
        return { content: [{ type: 'text', text: `hello ${String((answer.content as { name: string }).name)}` }] } as ToolResult;
      })(),
    );
    const step = await call.next(never);
    assert.ok('question' in step);
    assert.deepEqual(step.question, { key: 'q1', method: 'elicitation/create', params: { message: 'Who?' } });
    assert.equal(call.answer('q2', {}), false, 'no such question');
    assert.equal(call.answer('q1', { action: 'accept', content: { name: 'Ada' } }), true);
    const done = await call.next(never);
    assert.ok('result' in done);
    assert.deepEqual(done.result.content, [{ type: 'text', text: 'hello Ada' }]);
  });

  it('throws the request’s failure to the round waiting on it, and stops waiting on abort', async () => {
    const failing = new HeldCall('c2');
    failing.start(Promise.reject(new Error('server gone')));
    await assert.rejects(failing.next(never), /server gone/);

    const idle = new HeldCall('c3');
    idle.start(new Promise<ToolResult>(() => undefined));
    const abort = new AbortController();
    const waiting = idle.next(abort.signal);
    abort.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
  });
});

describe('HeldCalls', () => {
  it('finds a parked call by its state for its own call only, once', () => {
    const held = new HeldCalls();
    const call = new HeldCall('c1');
    const state = held.park(call, Date.now() + 60_000);
    assert.ok(state.startsWith(HELD_STATE_PREFIX));
    assert.equal(held.take(state, 'other-call'), undefined);
    assert.equal(held.take(state, 'c1'), call);
    assert.equal(held.take(state, 'c1'), undefined, 'taken once');
    assert.equal(held.size, 0);
  });

  it('aborts a parked request at its call’s deadline and forgets it', async () => {
    const held = new HeldCalls();
    const call = new HeldCall('c1');
    const state = held.park(call, Date.now() + 20);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(call.abort.signal.aborted, true);
    assert.equal(held.take(state, 'c1'), undefined);
  });

  it('shapes the round’s answer as an input_required result', () => {
    const result = questionResult({ key: 'q1', method: 'sampling/createMessage', params: { maxTokens: 5 } }, `${HELD_STATE_PREFIX}x`) as unknown as Record<string, unknown>;
    assert.equal(result.resultType, 'input_required');
    assert.deepEqual(result.inputRequests, { q1: { method: 'sampling/createMessage', params: { maxTokens: 5 } } });
    assert.equal(result.requestState, `${HELD_STATE_PREFIX}x`);
  });
});
