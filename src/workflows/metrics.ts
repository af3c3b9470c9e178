// Reports a call's end to the worker's metrics (shared/call-metrics.ts). Deterministic: a sink
// call is not a command, and it is skipped while replaying.
import { proxySinks } from '@temporalio/workflow';
import type { CallEnded, CallMetricsSinks, CallOutcomeLabel } from '../shared/call-metrics.js';
import type { CallEnvelope, CallOutcome } from '../shared/envelope.js';

const { callMetrics } = proxySinks<CallMetricsSinks>();

export function reportCallEnded(envelope: CallEnvelope, outcome: CallOutcome): void {
  const event: CallEnded = {
    tenant: envelope.tenant,
    tool: envelope.publicTool,
    server: envelope.serverId,
    outcome: outcomeLabel(outcome),
    acceptedAt: envelope.acceptedAt,
    endedAt: Date.now(),
    deadlineAt: envelope.deadlineAt,
  };
  callMetrics.callEnded(event);
}

function outcomeLabel(outcome: CallOutcome): CallOutcomeLabel {
  if (outcome.status === 'completed') return outcome.result.isError === true ? 'tool_error' : 'ok';
  return outcome.status;
}
