// OpenTelemetry for one process (gateway, worker, or both in `dev`): the Node SDK with the
// exporters the standard OTEL_* environment variables name. Off unless they name one, so a
// process without them pays nothing but no-op calls. The CLI passes the environment in; nothing
// else reads it (the SDK's own exporters read their OTEL_EXPORTER_* settings, which is the
// standard's contract).
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResourcesSync, envDetectorSync, Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from './log.js';

export class TelemetryConfigError extends Error {
  override readonly name = 'TelemetryConfigError';
}

export interface TelemetrySettings {
  traces: boolean;
  metrics: boolean;
  serviceName: string;
  /** The trace exporter: OTEL_TRACES_EXPORTER=console, else OTLP over OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL. */
  traceExporter: 'console' | 'grpc' | 'http/json' | 'http/protobuf';
}

export interface Telemetry {
  readonly traces: boolean;
  readonly metrics: boolean;
  /** Where workflow spans go (they are made inside the workflow sandbox and leave it through a sink). */
  readonly spanProcessor?: SpanProcessor;
  readonly resource: Resource;
  shutdown(): Promise<void>;
}

const OFF: Telemetry = { traces: false, metrics: false, resource: Resource.empty(), shutdown: async () => undefined };

/**
 * What the environment turns on. Traces: OTEL_TRACES_EXPORTER (otlp or console), or an OTLP
 * endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or its _TRACES_ variant). Metrics: OTEL_METRICS_EXPORTER
 * (otlp, prometheus, or both, comma-separated). OTEL_SDK_DISABLED=true turns everything off.
 * A value it does not know throws TelemetryConfigError naming the variable (the SDK would only
 * warn, and run without what was asked for).
 */
export function telemetrySettings(env: NodeJS.ProcessEnv, defaultServiceName: string): TelemetrySettings {
  const list = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const check = (name: string, values: string[], allowed: string[]) => {
    const wrong = values.find((v) => !allowed.includes(v));
    if (wrong !== undefined) throw new TelemetryConfigError(`${name}: "${wrong}" is not one of ${allowed.join(', ')}`);
  };
  check('OTEL_TRACES_EXPORTER', list(env.OTEL_TRACES_EXPORTER), ['otlp', 'console', 'none']);
  check('OTEL_METRICS_EXPORTER', list(env.OTEL_METRICS_EXPORTER), ['otlp', 'prometheus', 'console', 'none']);
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL']) {
    check(name, list(env[name]), ['grpc', 'http/protobuf', 'http/json']);
  }
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const traceExporters = list(env.OTEL_TRACES_EXPORTER);
  const endpoint = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const traces = !disabled && !traceExporters.includes('none') && (traceExporters.length > 0 || endpoint);
  const metricExporters = list(env.OTEL_METRICS_EXPORTER);
  const metrics = !disabled && metricExporters.length > 0 && !metricExporters.includes('none');
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  const traceExporter = traceExporters.includes('console') ? 'console' : protocol === 'grpc' || protocol === 'http/json' ? protocol : 'http/protobuf';
  return { traces, metrics, serviceName: env.OTEL_SERVICE_NAME || defaultServiceName, traceExporter };
}

/** Starts the SDK when the settings ask for anything; registers the global tracer and meter providers. */
export function startTelemetry(settings: TelemetrySettings, log: Logger): Telemetry {
  if (!settings.traces && !settings.metrics) return OFF;
  // The SDK's own complaints (an unreachable collector) go to our log, once each, not to stdout.
  diag.setLogger({ error: (m) => log.warn(`opentelemetry: ${m}`), warn: (m) => log.debug(`opentelemetry: ${m}`), info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
  const resource = detectResourcesSync({ detectors: [envDetectorSync] }).merge(new Resource({ 'service.name': settings.serviceName }));
  const spanProcessor = settings.traces ? new BatchSpanProcessor(traceExporter(settings.traceExporter)) : undefined;
  const sdk = new NodeSDK({
    resource,
    // No automatic instrumentation: the spans are the broker's own (tracing.ts) and Temporal's.
    instrumentations: [],
    // Always given, so the SDK never falls back to a default OTLP exporter of its own.
    spanProcessors: spanProcessor !== undefined ? [spanProcessor] : [],
    // Metric readers come from OTEL_METRICS_EXPORTER (the Prometheus reader listens on
    // OTEL_EXPORTER_PROMETHEUS_HOST:OTEL_EXPORTER_PROMETHEUS_PORT, default 0.0.0.0:9464, /metrics).
  });
  sdk.start();
  log.info('OpenTelemetry on', { service: settings.serviceName, traces: settings.traces, metrics: settings.metrics });
  return {
    traces: settings.traces,
    metrics: settings.metrics,
    ...(spanProcessor !== undefined ? { spanProcessor } : {}),
    resource,
    shutdown: () => sdk.shutdown().catch((error: unknown) => log.warn('OpenTelemetry shutdown failed', { error: String(error) })),
  };
}

/** Each OTLP exporter reads its own endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*. */
function traceExporter(kind: TelemetrySettings['traceExporter']): SpanExporter {
  if (kind === 'console') return new ConsoleSpanExporter();
  if (kind === 'grpc') return new OtlpGrpcTraceExporter();
  if (kind === 'http/json') return new OtlpJsonTraceExporter();
  return new OtlpProtoTraceExporter();
}
