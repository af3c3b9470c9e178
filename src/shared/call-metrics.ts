// How a workflow tells its worker that a call ended, for the SLI metrics (observability/metrics.ts).
// A sink, not an activity: it adds no command to the history, and Temporal does not call it while
// replaying, so a call is counted once, by the worker that ran its end.
import type { Sinks } from '@temporalio/workflow';

/** Bounded labels only: tenant, tool, server and outcome; times are workflow time (epoch ms). */
export interface CallEnded {
  tenant: string;
  /** The tool name as clients see it (`<server>.<tool>`). */
  tool: string;
  server: string;
  outcome: CallOutcomeLabel;
  acceptedAt: number;
  endedAt: number;
  deadlineAt: number;
}

export type CallOutcomeLabel = 'ok' | 'tool_error' | 'failed' | 'dead_lettered' | 'deadline_exceeded' | 'cancelled';

export interface CallMetricsSinks extends Sinks {
  callMetrics: {
    callEnded(event: CallEnded): void;
  };
}
