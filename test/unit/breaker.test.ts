// The circuit breaker of one downstream server (src/downstream/protection.ts) on a fake clock:
// the exact threshold, the one probe after the cool-down, re-opening when the probe fails, and
// that answers (success) and calls cut off by their caller (settle) never count as failures.
// Which downstream outcomes map to which of these is checked end to end in protection.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker, CircuitOpenError } from '../../src/downstream/protection.js';

const THRESHOLD = 3;
const COOLDOWN = 1_000;

function breaker() {
  const clock = { now: 10_000 };
  return { clock, breaker: new CircuitBreaker('srv', THRESHOLD, COOLDOWN, () => clock.now) };
}

/** One call that went out and failed on the transport. */
function fail(b: CircuitBreaker): void {
  b.admit();
  b.failure();
  b.settle();
}

function isOpenError(retryAfterMs: number) {
  return (error: unknown) => error instanceof CircuitOpenError && error.serverId === 'srv' && error.retryAfterMs === retryAfterMs && /circuit open, retry after \d+ s/.test(error.message);
}

describe('circuit breaker', () => {
  it('stays closed after threshold - 1 consecutive failures and opens on the threshold-th', () => {
    const { breaker: b } = breaker();
    for (let i = 1; i < THRESHOLD; i++) fail(b);
    assert.equal(b.state, 'closed');
    assert.doesNotThrow(() => b.admit(), 'a call still goes out');
    b.failure();
    b.settle();
    assert.equal(b.state, 'open');
    assert.throws(() => b.admit(), isOpenError(COOLDOWN));
  });

  it('counts consecutive failures only: an answer in between starts the count again', () => {
    const { breaker: b } = breaker();
    for (let i = 1; i < THRESHOLD; i++) fail(b);
    b.admit();
    b.success(); // an answer: a result, an isError result or a JSON-RPC error
    b.settle();
    for (let i = 1; i < THRESHOLD; i++) fail(b);
    assert.equal(b.state, 'closed');
    fail(b);
    assert.equal(b.state, 'open');
  });

  it('a call cut off by its caller (deadline, cancel) is neither a failure nor a success', () => {
    const { breaker: b } = breaker();
    for (let i = 1; i < THRESHOLD; i++) fail(b);
    for (let i = 0; i < 10; i++) {
      b.admit();
      b.settle();
    }
    assert.equal(b.state, 'closed', 'settles do not count as failures');
    fail(b);
    assert.equal(b.state, 'open', 'nor do they reset the failures before them');
  });

  it('after the cool-down lets exactly one probe through; a failed probe re-opens it for a whole cool-down', () => {
    const { clock, breaker: b } = breaker();
    for (let i = 0; i < THRESHOLD; i++) fail(b);
    clock.now += COOLDOWN - 1;
    assert.equal(b.state, 'open');
    assert.throws(() => b.admit(), isOpenError(1));
    clock.now += 1;
    assert.equal(b.state, 'half_open');
    b.admit(); // the probe
    assert.throws(() => b.admit(), CircuitOpenError, 'one probe at a time');
    b.failure();
    b.settle();
    assert.equal(b.state, 'open');
    assert.throws(() => b.admit(), isOpenError(COOLDOWN));
    clock.now += COOLDOWN - 1;
    assert.throws(() => b.admit(), CircuitOpenError);
    clock.now += 1;
    assert.doesNotThrow(() => b.admit(), 'the next probe after the new cool-down');
  });

  it('a successful probe closes it, and the count starts from zero', () => {
    const { clock, breaker: b } = breaker();
    for (let i = 0; i < THRESHOLD; i++) fail(b);
    clock.now += COOLDOWN;
    b.admit();
    b.success();
    b.settle();
    assert.equal(b.state, 'closed');
    for (let i = 1; i < THRESHOLD; i++) fail(b);
    assert.equal(b.state, 'closed');
    assert.doesNotThrow(() => b.admit());
  });

  it('a probe cut off by its caller lets the next call probe', () => {
    const { clock, breaker: b } = breaker();
    for (let i = 0; i < THRESHOLD; i++) fail(b);
    clock.now += COOLDOWN;
    b.admit();
    b.settle(); // cancelled: no verdict
    assert.equal(b.state, 'half_open');
    assert.doesNotThrow(() => b.admit(), 'another probe');
  });
});
