// Input rounds: a downstream server that needs its caller's input mid-call (MCP 2026-07-28 answers
// `tools/call` with `resultType: "input_required"`, its `inputRequests` and an opaque
// `requestState`) gets it through the durable call. The call waits in phase `input_required`
// until every request is answered (`provideInput`, from any gateway) or its deadline passes, then
// calls the server again with the answers and the server's `requestState`: a new round, not a
// retry (the retry policy starts afresh; the deadline does not). Nothing is open while it waits,
// so the wait survives the client leaving, any gateway and any worker.
//
// The server's `requestState` stays in this workflow's history and never reaches the client: the
// gateway gives the client a state of its own, naming the call and the round
// (docs/front-door-design.md, section 5).
import { condition } from '@temporalio/workflow';
import type { CallEnvelope, CallOutcome, CallStatus, PendingInput } from '../shared/envelope.js';
import { deadlineExceeded, runAttempts, type AttemptOptions } from './attempts.js';

/** A server that keeps asking is stopped here: the call fails rather than loop until its deadline. */
const MAX_ROUNDS = 32;

/** The rounds of one call: what the server asked, and the answers collected so far. */
export class InputRounds {
  round = 1;
  private asked: { requests: Record<string, unknown>; answers: Record<string, unknown>; requestState?: string } | undefined;

  constructor(private readonly status: Pick<CallStatus, 'phase' | 'input'>) {}

  get waiting(): boolean {
    return this.asked !== undefined;
  }

  /**
   * Takes answers for the current round (`round` undefined: whatever round is current, as
   * tasks/update does). Keys the server did not ask for are ignored, as the spec says. False when
   * the call is not waiting for that round (a stale or repeated answer).
   */
  answer(round: number | undefined, responses: Record<string, unknown>): boolean {
    const asked = this.asked;
    if (asked === undefined || (round !== undefined && round !== this.round)) return false;
    for (const [key, response] of Object.entries(responses)) {
      if (key in asked.requests && !(key in asked.answers)) asked.answers[key] = response;
    }
    this.publish();
    return true;
  }

  /** What is still unanswered, for views and callers. */
  pending(): PendingInput | undefined {
    const asked = this.asked;
    if (asked === undefined) return undefined;
    const requests: Record<string, unknown> = {};
    for (const [key, request] of Object.entries(asked.requests)) if (!(key in asked.answers)) requests[key] = request;
    return { round: this.round, requests };
  }

  /**
   * Goes on from a call's first answer (the caller runs the first round itself, with
   * `runAttempts`, so that a call nobody asks input of replays exactly as before this class
   * existed): while the server asks for input, waits for the answers and calls it again.
   * `onWait` is told when the call starts and stops waiting.
   */
  async follow(first: CallOutcome, envelope: CallEnvelope, status: Pick<CallStatus, 'attempt' | 'lastFailure'>, how: AttemptOptions | undefined, onWait?: (waiting: boolean) => void): Promise<CallOutcome> {
    let outcome = first;
    for (;;) {
      const asked = inputAsked(outcome);
      if (asked === undefined) return outcome;
      if (this.round >= MAX_ROUNDS) {
        return { status: 'failed', reason: 'downstream_error', message: `the server asked for input ${MAX_ROUNDS} times in a row; the call was stopped`, attempts: status.attempt };
      }
      let answers: Record<string, unknown> = {};
      if (Object.keys(asked.requests).length > 0) {
        // A round with only a requestState asks nothing of the client: the server is called again at once.
        this.asked = { requests: asked.requests, answers: {}, ...(asked.requestState !== undefined ? { requestState: asked.requestState } : {}) };
        this.status.phase = 'input_required';
        this.publish();
        onWait?.(true);
        const left = envelope.deadlineAt - Date.now();
        const answered = left > 0 && (await condition(() => Object.keys(this.pending()?.requests ?? {}).length === 0, left));
        onWait?.(false);
        answers = this.asked.answers;
        this.asked = undefined;
        this.status.input = undefined;
        this.status.phase = 'running';
        if (!answered) return deadlineExceeded('while waiting for input from the client');
      }
      this.round++;
      const sent = { ...envelope, input: { responses: answers, ...(asked.requestState !== undefined ? { requestState: asked.requestState } : {}) } };
      outcome = await runAttempts(sent, status, roundOptions(how, this.round));
    }
  }

  /** The view's `input`: set while something is unanswered (not once every answer is in and the call goes on). */
  private publish(): void {
    const pending = this.pending();
    this.status.input = pending !== undefined && Object.keys(pending.requests).length > 0 ? pending : undefined;
  }
}

/** Whether a call's answer asks its client for input (then `follow` takes it on). */
export function asksInput(outcome: CallOutcome): boolean {
  return inputAsked(outcome) !== undefined;
}

/** The server's input request, when the call's answer is one. */
function inputAsked(outcome: CallOutcome): { requests: Record<string, unknown>; requestState?: string } | undefined {
  if (outcome.status !== 'completed' || outcome.result.resultType !== 'input_required') return undefined;
  const { inputRequests, requestState } = outcome.result as { inputRequests?: unknown; requestState?: unknown };
  const requests = inputRequests !== null && typeof inputRequests === 'object' && !Array.isArray(inputRequests) ? (inputRequests as Record<string, unknown>) : {};
  return { requests, ...(typeof requestState === 'string' ? { requestState } : {}) };
}

/** Later rounds are regular activities with ids of their own (a local activity cannot wait between rounds anyway). */
function roundOptions(how: AttemptOptions | undefined, round: number): AttemptOptions | undefined {
  if (how === undefined || round === 1) return how;
  return { ...how, local: false, activityId: `${how.activityId}.r${round}` };
}
