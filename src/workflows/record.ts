// The record of a call that ran in a key workflow and must be found later: nobody was waiting when
// it ended (its caller had gone past syncWaitMs), or it was dead-lettered. Its id
// is the one a call workflow would have had, so get_call, tasks/* and the CLI read it the same
// way, for the namespace's retention. It completes at once with the outcome it was given.
import type { CallOutcome } from '../shared/envelope.js';

export interface CallRecordInput {
  outcome: CallOutcome;
  /** The key or shard workflow that ran the call. */
  ranIn: string;
}

export async function callRecordWorkflow(input: CallRecordInput): Promise<CallOutcome> {
  return input.outcome;
}
