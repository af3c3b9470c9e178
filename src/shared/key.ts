// The vocabulary between the gateway and a key workflow (workflows/key.ts): types only, so the
// workflow bundle imports nothing else from here.
import type { CallEnvelope, CallOutcome, CallStatus, PendingInput } from './envelope.js';

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
  /** The call waits for its client's input: what it still needs (workflows/input.ts). */
  input?: PendingInput;
  draining?: boolean;
  /** With `draining`: the run that is draining (its gateways send nothing until another run is current). */
  drainingRun?: string;
}

/** Gateway → workflow: answers for a call's input round (`round` undefined: the current one, as tasks/update sends). */
export interface InputRequest {
  correlationId: string;
  round?: number;
  responses: Record<string, unknown>;
  /** How long to hold the reply for the call's next step (a key workflow only; 0: answer at once). */
  holdMs: number;
}

/** `accepted` false: the call was not waiting for that round (stale, repeated, or the call ended); the rest says where it stands. */
export interface InputReply extends KeyCallReply {
  accepted: boolean;
  /** The call is unknown to this workflow (never arrived, or ended and left). */
  unknown?: boolean;
}

/** Gateway → key workflow: the outcomes of these calls, as soon as any of them ends (or `holdMs` passes). */
export interface WatchRequest {
  ids: string[];
  holdMs: number;
}

export interface WatchReply {
  /** Calls that ended, by correlation id. */
  outcomes: Record<string, CallOutcome>;
  /** Calls that wait for their client's input, by correlation id. */
  inputs?: Record<string, PendingInput>;
  /** Calls this workflow does not know (never arrived, or ended and left: look for their record). */
  unknown: string[];
  draining?: boolean;
  /** With `draining`: the run that is draining. */
  drainingRun?: string;
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
