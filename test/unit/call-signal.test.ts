// The tool call's abort signal in the gateway (src/gateway/call-signal.ts): it follows the MCP
// request's signal and the gateway's own stop, and it is a plain signal. Temporal's client leaves
// an 'abort' listener on it for every gRPC call, and Node keeps a composite (AbortSignal.any) or
// timeout signal that has 'abort' listeners in a set of its own until it aborts; the composite this
// replaced held 8,596 answered requests' gRPC calls in a soak's gateway after 20,000 calls
// (docs/performance.md, "Soak"). Whether Node holds a signal that way shows in its internal
// kComposite and kTimeout fields; the control checks that this test still reads them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callSignal } from '../../src/gateway/call-signal.js';

/** Whether Node keeps this signal alive while it has 'abort' listeners (lib/internal/abort_controller.js). */
function heldWhileListened(signal: AbortSignal): boolean {
  const field = (name: string) => {
    const key = Object.getOwnPropertySymbols(signal).find((symbol) => symbol.description === name);
    return key !== undefined && (signal as unknown as Record<symbol, unknown>)[key] === true;
  };
  return field('kComposite') || field('kTimeout');
}

describe('the tool call signal', () => {
  it('aborts with the request, with its reason, or when the gateway stops the call', () => {
    const request = new AbortController();
    const fromRequest = callSignal(request.signal);
    request.abort(new Error('client cancelled'));
    assert.equal(fromRequest.signal.aborted, true);
    assert.equal((fromRequest.signal.reason as Error).message, 'client cancelled');

    const stopped = callSignal(new AbortController().signal);
    stopped.abort();
    assert.equal(stopped.signal.aborted, true);

    assert.equal(callSignal(AbortSignal.abort('already')).signal.reason, 'already');
  });

  it('no longer follows its request once disposed', () => {
    const request = new AbortController();
    const call = callSignal(request.signal);
    call.dispose();
    request.abort();
    assert.equal(call.signal.aborted, false);
  });

  it('is a plain signal, which Node does not keep alive for the listeners Temporal\'s client leaves on it', () => {
    assert.equal(heldWhileListened(callSignal(new AbortController().signal, new AbortController().signal).signal), false);
  });

  it('(control) the check above sees the signals Node does keep: AbortSignal.any and AbortSignal.timeout', () => {
    assert.equal(heldWhileListened(AbortSignal.any([new AbortController().signal, new AbortController().signal])), true);
    const timeout = AbortSignal.timeout(60_000);
    assert.equal(heldWhileListened(timeout), true);
    assert.equal(heldWhileListened(new AbortController().signal), false);
  });
});
