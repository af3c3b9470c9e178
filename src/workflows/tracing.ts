// Workflow tracing that leaves a workflow's execution exactly as it was. Bundled as a workflow
// interceptor module into every workflow bundle (observability/workflow-interceptors.ts).
//
// Why not the stock interceptors of @temporalio/interceptors-opentelemetry: they await around
// every handler and outbound command and draw span ids from the workflow's own Math.random. Both
// change a workflow's code path: our recorded saga and key-workflow histories stopped replaying
// with them (test/unit/replay.test.ts). Here nothing is awaited (a span ends in a `then` hung on
// the handler's own promise), no command is added (trace context rides in headers, which replay
// does not compare), and span ids come from a named random stream of their own.
//
// Spans: RunWorkflow:<type> for a run, HandleUpdate:<name> and HandleSignal:<name> for the
// messages that carry calls (each parented by the context its sender put in the headers). The
// activity, child workflow, signal and continue-as-new a workflow issues carry the active context.
// Spans leave the sandbox through the package's exporter sink; Temporal does not call sinks while
// replaying, so a span is exported once.
import '@temporalio/interceptors-opentelemetry/lib/workflow/runtime.js';
import { context, trace, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import { ContextManager } from '@temporalio/interceptors-opentelemetry/lib/workflow/context-manager.js';
import { SpanExporter } from '@temporalio/interceptors-opentelemetry/lib/workflow/span-exporter.js';
import { extractContextFromHeaders, headersWithContext } from '@temporalio/interceptors-opentelemetry/lib/instrumentation.js';
import {
  ContinueAsNew,
  getRandomStream,
  workflowInfo,
  type Next,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** Span ids from a stream of their own: the workflow's Math.random sequence stays untouched. */
const ids: IdGenerator = {
  generateTraceId: () => hex(16),
  generateSpanId: () => hex(8),
};

function hex(bytes: number): string {
  const stream = getRandomStream('switchyard/tracing');
  let out = '';
  for (let i = 0; i < bytes; i++) out += Math.floor(stream.random() * 256).toString(16).padStart(2, '0');
  return out;
}

let tracer: ReturnType<BasicTracerProvider['getTracer']> | undefined;

function getTracer() {
  if (tracer === undefined) {
    const provider = new BasicTracerProvider({ idGenerator: ids });
    provider.addSpanProcessor(new SimpleSpanProcessor(new SpanExporter()));
    provider.register({ contextManager: new ContextManager() });
    tracer = provider.getTracer('switchyard-workflow');
  }
  return tracer;
}

/**
 * The context a message's sender put in its headers. The provider is registered first: until it
 * is, the global propagator is a no-op and every workflow's first span (its RunWorkflow) would
 * start a trace of its own.
 */
function senderContext(headers: Parameters<typeof extractContextFromHeaders>[0]): Context | undefined {
  getTracer();
  return extractContextFromHeaders(headers);
}

/** Runs `run` inside a new span whose parent is `parent`; the span ends when its promise settles, without an await of ours. */
function inSpan<T>(name: string, parent: Context | undefined, attributes: Attributes, run: () => Promise<T>): Promise<T> {
  const from = parent ?? context.active();
  const span = getTracer().startSpan(name, { attributes }, from);
  const running = context.with(trace.setSpan(from, span), run);
  running.then(
    () => span.end(),
    (error: unknown) => end(span, error),
  );
  return running;
}

function end(span: Span, error: unknown): void {
  if (!(error instanceof ContinueAsNew)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    span.setAttribute('error.type', error instanceof Error ? error.name : 'Error');
  }
  span.end();
}

class Inbound implements WorkflowInboundCallsInterceptor {
  execute(input: Parameters<NonNullable<WorkflowInboundCallsInterceptor['execute']>>[0], next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = workflowInfo();
    return inSpan(`RunWorkflow:${info.workflowType}`, senderContext(input.headers), { temporalWorkflowId: info.workflowId, run_id: info.runId }, () => next(input));
  }

  handleUpdate(input: Parameters<NonNullable<WorkflowInboundCallsInterceptor['handleUpdate']>>[0], next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return inSpan(`HandleUpdate:${input.name}`, senderContext(input.headers), { temporalUpdateId: input.updateId, temporalWorkflowId: workflowInfo().workflowId }, () => next(input));
  }

  handleSignal(input: Parameters<NonNullable<WorkflowInboundCallsInterceptor['handleSignal']>>[0], next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    return inSpan(`HandleSignal:${input.signalName}`, senderContext(input.headers), { temporalWorkflowId: workflowInfo().workflowId }, () => next(input));
  }
}

/** Puts the active context in the headers of what the workflow sends; the command itself is unchanged. */
class Outbound implements WorkflowOutboundCallsInterceptor {
  scheduleActivity: WorkflowOutboundCallsInterceptor['scheduleActivity'] = (input, next) => next({ ...input, headers: headersWithContext(input.headers) });
  scheduleLocalActivity: WorkflowOutboundCallsInterceptor['scheduleLocalActivity'] = (input, next) => next({ ...input, headers: headersWithContext(input.headers) });
  startChildWorkflowExecution: WorkflowOutboundCallsInterceptor['startChildWorkflowExecution'] = (input, next) => next({ ...input, headers: headersWithContext(input.headers) });
  signalWorkflow: WorkflowOutboundCallsInterceptor['signalWorkflow'] = (input, next) => next({ ...input, headers: headersWithContext(input.headers) });
  continueAsNew: WorkflowOutboundCallsInterceptor['continueAsNew'] = (input, next) => next({ ...input, headers: headersWithContext(input.headers) });
}

export const interceptors = (): WorkflowInterceptors => ({ inbound: [new Inbound()], outbound: [new Outbound()] });
