// A 2025 server asks its caller for input on the tool call's open request (elicitation/create,
// sampling/createMessage), and waits on that request for the answer. Such a request cannot wait in
// Temporal the way a 2026-07-28 round does (workflows/input.ts): it is an open exchange with the
// server. So the activity holds it here, in the worker's memory, and ends its round with an
// `input_required` result of its own making, the server's question under a key of the broker's and
// a requestState naming the held request. The call then waits in its workflow like any other call
// that waits for input, and the next round's activity finds the held request by that state,
// answers the server's question, and waits for what comes next: the result, or the next question.
//
// What a held request does not survive: its worker's death, a round that another worker runs
// (several workers: see docs/front-door-design.md section 5), and the server's request timeout
// (`timeoutMs`), which runs while the caller thinks. The next round then fails as lost, and says so.
import { randomUUID } from 'node:crypto';
import type { AskCaller, QuestionMethod } from '../downstream/connection.js';
import type { ToolResult } from '../shared/envelope.js';

/** The prefix of a requestState that names a held request (never a 2026-07-28 server's own). */
export const HELD_STATE_PREFIX = 'switchyard-held:';

interface Question {
  key: string;
  method: QuestionMethod;
  params: Record<string, unknown>;
  answer: (result: Record<string, unknown>) => void;
}

/** What a held request did next. */
export type HeldStep = { result: ToolResult } | { question: { key: string; method: QuestionMethod; params: Record<string, unknown> } };

/** One tool call's open request to a 2025 server, while it may ask questions. */
export class HeldCall {
  /** The call's log and progress sinks: each round's activity sets its own. */
  onProgress: ((progress: { progress: number; total?: number; message?: string }) => void) | undefined;
  readonly scope = {};
  readonly abort = new AbortController();
  private readonly questions: Question[] = [];
  private asked = 0;
  private settled: { result: ToolResult } | { error: unknown } | undefined;
  private wake: (() => void) | undefined;

  constructor(readonly correlationId: string) {}

  /** The `ask` hook of the request (downstream/connection.ts CallOptions). */
  readonly ask: AskCaller = (method, params) =>
    new Promise((answer) => {
      this.questions.push({ key: `q${++this.asked}`, method, params, answer });
      this.wake?.();
    });

  /** Runs the request; its answer or error is kept for whichever round is waiting. */
  start(request: Promise<ToolResult>): void {
    request.then(
      (result) => this.settle({ result }),
      (error: unknown) => this.settle({ error }),
    );
  }

  /** The next step: the server's next question, or its result (thrown, if it failed). */
  async next(signal: AbortSignal): Promise<HeldStep> {
    for (;;) {
      const question = this.questions[0];
      if (question !== undefined) return { question: { key: question.key, method: question.method, params: question.params } };
      const settled = this.settled;
      if (settled !== undefined) {
        if ('error' in settled) throw settled.error;
        return settled;
      }
      if (signal.aborted) throw signal.reason;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Gives the server the caller's answer to the question asked under `key`; false if there is none. */
  answer(key: string, response: unknown): boolean {
    const index = this.questions.findIndex((q) => q.key === key);
    if (index < 0) return false;
    const [question] = this.questions.splice(index, 1);
    question!.answer((response ?? {}) as Record<string, unknown>);
    return true;
  }

  private settle(outcome: { result: ToolResult } | { error: unknown }): void {
    this.settled = outcome;
    this.wake?.();
  }
}

/**
 * The worker's held requests, by token. An entry lives until its round is answered or the call's
 * deadline (then the request is aborted: nothing is left open for a call that stopped waiting).
 */
export class HeldCalls {
  private readonly held = new Map<string, { call: HeldCall; timer: NodeJS.Timeout }>();

  get size(): number {
    return this.held.size;
  }

  /** Parks a call until its next round, and returns the requestState that names it. */
  park(call: HeldCall, deadlineAt: number): string {
    const token = randomUUID();
    const timer = setTimeout(() => {
      this.held.delete(token);
      call.abort.abort(new Error('the call did not get its input before its deadline'));
    }, Math.max(0, deadlineAt - Date.now()));
    timer.unref();
    this.held.set(token, { call, timer });
    return `${HELD_STATE_PREFIX}${token}`;
  }

  /** Takes a parked call back for the next round; undefined if this worker does not hold it. */
  take(state: string, correlationId: string): HeldCall | undefined {
    const token = state.slice(HELD_STATE_PREFIX.length);
    const entry = this.held.get(token);
    if (entry === undefined || entry.call.correlationId !== correlationId) return undefined;
    this.held.delete(token);
    clearTimeout(entry.timer);
    return entry.call;
  }
}

/** The round's answer for a held call's question: an input_required result of the broker's own. */
export function questionResult(question: { key: string; method: string; params: Record<string, unknown> }, requestState: string): ToolResult {
  return { content: [], resultType: 'input_required', inputRequests: { [question.key]: { method: question.method, params: question.params } }, requestState } as ToolResult;
}
