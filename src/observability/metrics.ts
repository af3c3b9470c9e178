// The SLI metrics (docs/observability.md lists them with their meanings and queries). Labels are
// bounded: tenant, tool, server and outcome only; never a correlation id or a key. Instruments are
// made on first use from the global meter provider, which the CLI installs before anything runs
// (telemetry.ts); without one they are no-ops.
import { metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter, type ObservableResult } from '@opentelemetry/api';
import type { CallEnded } from '../shared/call-metrics.js';
import type { BreakerState } from '../downstream/protection.js';

/** Latency buckets in seconds: tool calls run from milliseconds to minutes. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

interface Instruments {
  callDuration: Histogram;
  calls: Counter;
  deadlineViolations: Counter;
  retries: Counter;
  downstreamRequests: Counter;
  downstreamDuration: Histogram;
}

let made: { meter: Meter; instruments: Instruments } | undefined;

function meter(): Meter {
  return instruments() && made!.meter;
}

function instruments(): Instruments {
  if (made !== undefined) return made.instruments;
  const m = metrics.getMeter('switchyard');
  const instruments: Instruments = {
    callDuration: m.createHistogram('switchyard.call.duration', {
      unit: 's',
      description: 'Time from acceptance to the end of a tool call (queueing, retries and waiting included), by tenant, tool, server and outcome',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
    calls: m.createCounter('switchyard.calls', { description: 'Tool calls ended, by tenant, tool, server and outcome (ok, tool_error, failed, dead_lettered, deadline_exceeded, cancelled)', valueType: ValueType.INT }),
    deadlineViolations: m.createCounter('switchyard.call.deadline_violations', { description: 'Tool calls that ended without an answer inside their deadline, or answered after it', valueType: ValueType.INT }),
    retries: m.createCounter('switchyard.call.retries', { description: 'Downstream attempts beyond the first, by tenant, tool and server (a storm shows as a rate)', valueType: ValueType.INT }),
    downstreamRequests: m.createCounter('switchyard.downstream.requests', { description: 'Downstream tools/call requests (one per attempt), by server, tool and outcome (ok, tool_error, protocol_error, timeout, unavailable, not_sent, circuit_open, deadline, cancelled)', valueType: ValueType.INT }),
    downstreamDuration: m.createHistogram('switchyard.downstream.request.duration', {
      unit: 's',
      description: 'One downstream tools/call request, as the worker saw it, by server, tool and outcome',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
  };
  made = { meter: m, instruments };
  return instruments;
}

/** A call's end, reported by its workflow through a sink (shared/call-metrics.ts). */
export function recordCallEnded(event: CallEnded): void {
  const i = instruments();
  const labels: Attributes = { tenant: event.tenant, tool: event.tool, server: event.server };
  i.calls.add(1, { ...labels, outcome: event.outcome });
  i.callDuration.record(Math.max(0, event.endedAt - event.acceptedAt) / 1000, { ...labels, outcome: event.outcome });
  if (event.outcome === 'deadline_exceeded' || event.endedAt > event.deadlineAt) i.deadlineViolations.add(1, labels);
}

export type DownstreamOutcome = 'ok' | 'tool_error' | 'protocol_error' | 'timeout' | 'unavailable' | 'not_sent' | 'circuit_open' | 'deadline' | 'cancelled';

/**
 * An attempt beyond a call's first, from the callTool activity as it starts (the workflow does not
 * learn how many attempts Temporal ran for a call that then succeeded).
 */
export function recordRetry(tenant: string, tool: string, server: string): void {
  instruments().retries.add(1, { tenant, tool, server });
}

/** One downstream request (an attempt), from the callTool activity. */
export function recordDownstreamRequest(server: string, tool: string, outcome: DownstreamOutcome, seconds: number): void {
  const i = instruments();
  i.downstreamRequests.add(1, { server, tool, outcome });
  i.downstreamDuration.record(seconds, { server, tool, outcome });
}

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** In-flight requests and breaker state of each downstream server of this process, read at each collection. */
export function observeDownstream(servers: () => Array<{ id: string; inFlight: number; breaker: BreakerState }>): void {
  const m = meter();
  const inFlight = m.createObservableGauge('switchyard.downstream.in_flight', { description: 'Requests in flight to a downstream server from this worker', valueType: ValueType.INT });
  const breaker = m.createObservableGauge('switchyard.downstream.breaker.state', { description: 'Circuit breaker of a downstream server in this worker: 0 closed, 1 half-open, 2 open', valueType: ValueType.INT });
  m.addBatchObservableCallback(
    (result) => {
      for (const s of servers()) {
        result.observe(inFlight, s.inFlight, { server: s.id });
        result.observe(breaker, BREAKER_VALUE[s.breaker], { server: s.id });
      }
    },
    [inFlight, breaker],
  );
}

/** Open MCP sessions of this gateway, per tenant. */
export function observeSessions(byTenant: () => Map<string, number>): void {
  meter()
    .createObservableGauge('switchyard.sessions', { description: 'Open MCP sessions (2025 protocol era) at this gateway, by tenant', valueType: ValueType.INT })
    .addCallback((result: ObservableResult) => {
      for (const [tenant, count] of byTenant()) result.observe(count, { tenant });
    });
}

/** Fast-path calls this gateway is waiting for, per tenant (what `limits.maxQueuedPerTenant` counts). */
export function observeWaitingCalls(byTenant: () => Map<string, number>): void {
  meter()
    .createObservableGauge('switchyard.gateway.calls_waiting', { description: 'Calls this gateway is waiting for (accepted, not yet answered), by tenant', valueType: ValueType.INT })
    .addCallback((result: ObservableResult) => {
      for (const [tenant, count] of byTenant()) result.observe(count, { tenant });
    });
}

/**
 * Queue depth: tasks waiting in the Temporal task queue for a worker (workflow and activity
 * tasks), as Temporal approximates its backlog. Asked at most every `minIntervalMs`; the last
 * answer is reported in between, and nothing while Temporal does not answer.
 */
export function observeTaskQueueBacklog(read: () => Promise<{ workflow: number; activity: number }>, minIntervalMs = 10_000): void {
  let last: { workflow: number; activity: number } | undefined;
  let askedAt = 0;
  meter()
    .createObservableGauge('switchyard.queue.depth', { description: 'Tasks waiting in the Temporal task queue for a worker (approximate backlog), by kind (workflow, activity)', valueType: ValueType.INT })
    .addCallback(async (result: ObservableResult) => {
      if (Date.now() - askedAt >= minIntervalMs) {
        askedAt = Date.now();
        last = await read().catch(() => undefined);
      }
      if (last === undefined) return;
      result.observe(last.workflow, { kind: 'workflow' });
      result.observe(last.activity, { kind: 'activity' });
    });
}
