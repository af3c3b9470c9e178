// One trace per tools/call, end to end (docs/observability.md has the picture):
//   gateway     a SERVER span `tools/call <tool>` whose parent is the client's W3C trace context
//   Temporal    @temporalio/interceptors-opentelemetry: client spans for start/update/signal, the
//               workflow's spans, and the activity's span, carried in Temporal headers
//   activity    a CLIENT span `tools/call <tool>` around the downstream request, which carries
//               `traceparent` in `_meta` and (over HTTP) as a header
// A fast-path call runs inside a long-lived key workflow that many calls share, so the workflow's
// own context is not the call's. The call's trace context therefore also travels in its envelope
// (`traceparent`), and the callTool activity is parented by it: a retry, a wait, or a redrive days
// later still lands in the caller's trace.
//
// With tracing off the global tracer is a no-op: spans cost nothing, nothing is injected.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { defaultPayloadConverter } from '@temporalio/common';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation.js';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions.js';
import type { Telemetry } from './telemetry.js';

const tracer = () => trace.getTracer('switchyard');

/** Carrier keys in `_meta` (MCP's semantic conventions propagate trace context there). */
const TRACE_KEYS = ['traceparent', 'tracestate'] as const;

/**
 * The caller's trace context: `_meta.traceparent` (the MCP semantic conventions' carrier, and what
 * the 2026-07-28 revision allows) wins over the HTTP `traceparent` header, which covers only the
 * HTTP exchange.
 */
export function callerContext(headers: Record<string, string | string[] | undefined>, meta: Record<string, unknown>): Context {
  const carrier: Record<string, string> = {};
  const fromMeta = typeof meta.traceparent === 'string';
  for (const key of TRACE_KEYS) {
    const value = fromMeta ? meta[key] : headers[key];
    const text = Array.isArray(value) ? value[0] : value;
    if (typeof text === 'string') carrier[key] = text;
  }
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The active span's context as W3C headers (empty when nothing is traced). */
export function currentTraceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The active span's `traceparent` and `tracestate`, for a call's envelope (nothing when untraced). */
export function callTraceContext(): { traceparent?: string; tracestate?: string } {
  const { traceparent, tracestate } = currentTraceHeaders();
  return { ...(traceparent !== undefined ? { traceparent } : {}), ...(tracestate !== undefined ? { tracestate } : {}) };
}

export interface ToolCallSpan {
  /** The tool name as the client sent it. */
  tool: string;
  tenant: string;
  sessionId?: string;
  protocolVersion?: string;
}

/**
 * The gateway's SERVER span for one tools/call, named and attributed as the MCP and GenAI
 * semantic conventions say. Arguments and results are never recorded.
 */
export async function traceToolCall<T>(call: ToolCallSpan, parent: Context, run: () => Promise<T>): Promise<T> {
  const attributes: Attributes = {
    'mcp.method.name': 'tools/call',
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': call.tool,
    'switchyard.tenant': call.tenant,
    ...(call.sessionId !== undefined ? { 'mcp.session.id': call.sessionId } : {}),
    ...(call.protocolVersion !== undefined ? { 'mcp.protocol.version': call.protocolVersion } : {}),
  };
  return tracer().startActiveSpan(`tools/call ${call.tool}`, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
    try {
      const answer = await run();
      if ((answer as { isError?: unknown }).isError === true) markError(span, 'tool_error');
      return answer;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'number') span.setAttribute('rpc.response.status_code', String(code));
      markError(span, typeof code === 'number' ? String(code) : errorName(error));
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * What the gateway learns once the call has its envelope: its correlation id and how it is
 * ordered. An ordering key may hold a caller's data (an `arg:` key holds an argument's value), so
 * only its kind is recorded; the correlation id's route names the key's hash.
 */
export function annotateCall(call: { correlationId: string; serverId: string; orderingKey?: string; idempotencyKey?: string }): void {
  const span = trace.getActiveSpan();
  if (span === undefined) return;
  span.setAttributes({
    'switchyard.correlation_id': call.correlationId,
    'switchyard.server': call.serverId,
    'switchyard.ordering_key': call.orderingKey === undefined ? 'none' : orderingKind(call.orderingKey),
    'switchyard.idempotent': call.idempotencyKey !== undefined,
  });
}

function orderingKind(key: string): string {
  const prefix = /^(principal|session|arg):/.exec(key)?.[1];
  return prefix ?? 'client';
}

/**
 * The activity's CLIENT span around one downstream tools/call, with the W3C headers to send:
 * the span is active while `run` runs, so the HTTP transport's fetch (downstream/connection.ts)
 * injects the same `traceparent`.
 */
export async function traceDownstreamCall<T>(call: { tool: string; serverId: string; correlationId: string; attempt: number }, run: (traceContext: { traceparent?: string; tracestate?: string }) => Promise<T>): Promise<T> {
  const attributes: Attributes = {
    'mcp.method.name': 'tools/call',
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': call.tool,
    'switchyard.server': call.serverId,
    'switchyard.correlation_id': call.correlationId,
    'switchyard.attempt': call.attempt,
  };
  return tracer().startActiveSpan(`tools/call ${call.tool}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await run(callTraceContext());
      if ((result as { isError?: unknown }).isError === true) markError(span, 'tool_error');
      return result;
    } catch (error) {
      markError(span, errorName(error));
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A fetch for the downstream HTTP transport that sends the active span's `traceparent` (and
 * `tracestate`) as headers: the SDK's transport makes its request inside the caller's async
 * context, so a tools/call carries its CLIENT span's context.
 */
export function tracedFetch(base: (url: string | URL, init?: RequestInit) => Promise<Response> = fetch): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return (input, init) => {
    const traceContext = callTraceContext();
    if (traceContext.traceparent === undefined) return base(input, init);
    const headers = new Headers(init?.headers);
    for (const [key, value] of Object.entries(traceContext)) headers.set(key, value);
    return base(input, { ...init, headers });
  };
}

function markError(span: Span, type: string): void {
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR });
}

function errorName(error: unknown): string {
  if (!(error instanceof Error)) return 'Error';
  const kind = (error as Error & { kind?: unknown }).kind;
  return kind !== undefined ? `${error.name}:${String(kind)}` : error.name;
}

/** The Temporal client's interceptors: start, update, signal and their with-start forms carry the active context. */
export function temporalClientInterceptors(telemetry: Pick<Telemetry, 'traces'>): WorkflowClientInterceptor[] {
  return telemetry.traces ? [new OpenTelemetryWorkflowClientInterceptor()] : [];
}

/**
 * The worker's part: activity interceptors (when tracing is on) and the sink the workflow
 * interceptor exports its spans through (always registered: the module is always bundled).
 */
export function workerTracing(telemetry: Pick<Telemetry, 'traces' | 'spanProcessor' | 'resource'> | undefined): { activityInterceptors: ActivityInterceptorsFactory[]; sinks: InjectedSinks<OpenTelemetrySinks> } {
  const sinks: InjectedSinks<OpenTelemetrySinks> =
    telemetry?.traces === true && telemetry.spanProcessor !== undefined
      ? { exporter: makeWorkflowExporter(telemetry.spanProcessor, telemetry.resource) }
      : { exporter: { export: { fn: () => undefined } } };
  if (telemetry?.traces !== true) return { activityInterceptors: [], sinks };
  return {
    activityInterceptors: [
      // The first factory's interceptor runs first: it fixes the headers the second one reads.
      (ctx) => ({ inbound: new CallTraceInbound(ctx.info.activityType) }),
      (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
    ],
    sinks,
  };
}

/**
 * Puts a callTool activity in its call's trace: the envelope's `traceparent` replaces the
 * workflow's context in the activity's headers when they belong to another trace (a key
 * workflow's, shared by many calls). A call workflow's own context is in the call's trace already
 * and is kept, so its activity stays under the workflow's spans.
 */
class CallTraceInbound implements ActivityInboundCallsInterceptor {
  constructor(private readonly activityType: string) {}

  async execute(input: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>[0], next: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>[1]): Promise<unknown> {
    const envelope = input.args[0] as { traceparent?: unknown; tracestate?: unknown } | undefined;
    if (this.activityType !== 'callTool' || typeof envelope?.traceparent !== 'string') return next(input);
    const callTrace = envelope.traceparent.split('-')[1];
    const header = input.headers[TRACE_HEADER];
    const carried = header !== undefined ? (defaultPayloadConverter.fromPayload(header) as Record<string, string>) : {};
    if (carried.traceparent?.split('-')[1] === callTrace) return next(input);
    const carrier = { traceparent: envelope.traceparent, ...(typeof envelope.tracestate === 'string' ? { tracestate: envelope.tracestate } : {}) };
    return next({ ...input, headers: { ...input.headers, [TRACE_HEADER]: defaultPayloadConverter.toPayload(carrier) } });
  }
}
