// The vocabulary between the gateway and a key workflow (workflows/key.ts): types only, so the
// workflow bundle imports nothing else from here.
import type { CallEnvelope, CallOutcome, CallStatus } from './envelope.js';

/** Gateway → key workflow: run this call; hold the answer for up to `holdMs` (0: answer once it is queued). */
export interface KeyCallRequest {
  envelope: CallEnvelope;
  holdMs: number;
}

/**
 * The answer to a `call` update or a `watch`. `outcome` once the call ended; otherwise the call is
 * still going (`pending`), and `draining` says the workflow is about to continue as new: wait a
 * moment, then watch again.
 */
export interface KeyCallReply {
  outcome?: CallOutcome;
  draining?: boolean;
}

/** Gateway → key workflow: the outcomes of these calls, as soon as any of them ends (or `holdMs` passes). */
export interface WatchRequest {
  ids: string[];
  holdMs: number;
}

export interface WatchReply {
  /** Calls that ended, by correlation id. */
  outcomes: Record<string, CallOutcome>;
  /** Calls this workflow does not know (never arrived, or ended and left: look for their record). */
  unknown: string[];
  draining?: boolean;
}

/** One call as its key workflow sees it (get_call, tasks/get, the CLI): a call workflow's status, and more. */
export interface KeyCallView extends Omit<CallStatus, 'correlationId'> {
  outcome?: CallOutcome;
  /** For a queued call: the call or dead letter that holds its key's turn. */
  waitingFor?: string;
}

export interface KeyState {
  holder?: string;
  queued: string[];
  running: string[];
  draining: boolean;
}
