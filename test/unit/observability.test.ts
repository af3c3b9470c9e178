// Telemetry's switches and carriers: what the OTEL_* environment turns on, where a caller's trace
// context is read from, and the JSON log format.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { createLogger } from '../../src/observability/log.js';
import { TelemetryConfigError, telemetrySettings } from '../../src/observability/telemetry.js';
import { callerContext } from '../../src/observability/tracing.js';

describe('telemetrySettings', () => {
  it('is off unless an OTEL_* variable asks for traces or metrics', () => {
    assert.deepEqual(telemetrySettings({}, 'svc'), { traces: false, metrics: false, serviceName: 'svc', traceExporter: 'http/protobuf' });
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, 'svc').traces, true);
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, 'svc').traces, true);
    assert.equal(telemetrySettings({ OTEL_TRACES_EXPORTER: 'console' }, 'svc').traceExporter, 'console');
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }, 'svc').traces, false);
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, 'svc').metrics, false, 'metrics need OTEL_METRICS_EXPORTER');
    assert.equal(telemetrySettings({ OTEL_METRICS_EXPORTER: 'otlp,prometheus' }, 'svc').metrics, true);
    assert.equal(telemetrySettings({ OTEL_METRICS_EXPORTER: 'none' }, 'svc').metrics, false);
    const disabled = telemetrySettings({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRICS_EXPORTER: 'prometheus' }, 'svc');
    assert.equal(disabled.traces || disabled.metrics, false);
    assert.equal(telemetrySettings({ OTEL_SERVICE_NAME: 'mine', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'svc').serviceName, 'mine');
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' }, 'svc').traceExporter, 'grpc');
  });

  it('refuses a value it does not know, naming the variable', () => {
    assert.throws(() => telemetrySettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grcp' }, 'svc'), (e: Error) => e instanceof TelemetryConfigError && e.message === 'OTEL_EXPORTER_OTLP_PROTOCOL: "grcp" is not one of grpc, http/protobuf, http/json');
    assert.throws(() => telemetrySettings({ OTEL_METRICS_EXPORTER: 'otlp,prom' }, 'svc'), /OTEL_METRICS_EXPORTER: "prom"/);
    assert.throws(() => telemetrySettings({ OTEL_TRACES_EXPORTER: 'jaeger' }, 'svc'), /OTEL_TRACES_EXPORTER: "jaeger"/);
  });
});

describe('callerContext', () => {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const header = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const meta = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const traceIdOf = (ctx: ReturnType<typeof callerContext>) => trace.getSpanContext(ctx)?.traceId;

  it('reads the traceparent header, and prefers _meta.traceparent over it', () => {
    assert.equal(traceIdOf(callerContext({ traceparent: header }, {})), '0af7651916cd43dd8448eb211c80319c');
    assert.equal(traceIdOf(callerContext({ traceparent: header }, { traceparent: meta })), '4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('starts a new trace for a missing or malformed traceparent', () => {
    assert.equal(traceIdOf(callerContext({}, {})), undefined);
    assert.equal(traceIdOf(callerContext({ traceparent: 'garbage' }, {})), undefined);
    assert.equal(traceIdOf(callerContext({}, { traceparent: 42 })), undefined);
  });
});

describe('createLogger', () => {
  it('writes one JSON object per line with --log-format json', () => {
    const lines: string[] = [];
    createLogger('info', 'switchyard', (l) => lines.push(l), 'json').child('gateway').warn('downstream call failed', { attempt: 2, error: new Error('boom'), skipped: undefined });
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(record.level, 'warn');
    assert.equal(record.component, 'switchyard/gateway');
    assert.equal(record.message, 'downstream call failed');
    assert.equal(record.attempt, 2);
    assert.equal(record.error, 'boom');
    assert.ok(!('skipped' in record));
    assert.ok(!('trace_id' in record), 'no trace id without an active span');
  });
});
