// OpenTelemetry end to end, against a real receiver: Jaeger all-in-one (OTLP over HTTP in, its
// HTTP query API out) for traces, and the gateway's and worker's Prometheus endpoints for the SLI
// metrics. The worker and gateway are separate processes configured only by OTEL_* variables.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Jaeger, serviceOf, tagOf, type JaegerTrace } from '../support/jaeger.js';
import { freePort, waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';

const traceIdOf = (traceparent: unknown) => (typeof traceparent === 'string' ? traceparent.split('-')[1] : undefined);
const spanIdOf = (traceparent: unknown) => (typeof traceparent === 'string' ? traceparent.split('-')[2] : undefined);
const newTraceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** The sum of a Prometheus series' samples whose labels include `labels` (0 when absent). */
async function scrape(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(match[4]);
  }
  return sum;
}

describe('telemetry', { timeout: 300_000 }, () => {
  const jaeger = new Jaeger();
  let stack: Stack;
  let workerMetrics = '';
  let gatewayMetrics = '';

  before(async () => {
    await jaeger.start();
    const [workerPort, gatewayPort] = [await freePort(), await freePort()];
    workerMetrics = `http://127.0.0.1:${workerPort}/metrics`;
    gatewayMetrics = `http://127.0.0.1:${gatewayPort}/metrics`;
    const otel = (prometheusPort: number) => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(prometheusPort),
    });
    stack = new Stack({
      syncWaitMs: 1_000,
      heartbeatTimeoutMs: 2_000,
      withEverything: false,
      retry: { maxAttempts: 5, initialIntervalMs: 200, maxIntervalMs: 500 },
      env: { worker: otel(workerPort), gateway: otel(gatewayPort) },
      // A hung non-idempotent request times out after 3 s and is dead-lettered (outcome unknown).
      configure: (config) => {
        config.servers.find((s) => s.id === 'fixture')!.timeoutMs = 3_000;
      },
    });
    await stack.start();
    await stack.waitForReady();
  });
  after(async () => {
    await stack?.stop();
    await jaeger.stop();
  });

  const named = (trace: JaegerTrace, name: string) => trace.spans.filter((s) => s.operationName === name);

  it("one trace from the client's traceparent header through gateway, workflow and activity to the downstream server", async () => {
    const traceparent = newTraceparent();
    const traceId = traceIdOf(traceparent)!;
    const client = await stack.client({ traceparent });
    const result = await client.callTool({ name: 'fixture.echo', arguments: { message: 'secret-argument-value' } });
    await client.close();
    assert.equal(textOf(result), 'secret-argument-value');
    const correlationId = correlationIdOf(result);

    const execution = stack.fixture.executions.find((e) => e.correlationId === correlationId)!;
    assert.equal(traceIdOf(execution.meta?.traceparent), traceId, 'the downstream request carries the trace in _meta');
    assert.equal(execution.traceparentHeader, execution.meta?.traceparent, 'and the same traceparent as an HTTP header');

    const trace = await jaeger.trace(traceId, (t) => ['tools/call fixture.echo', 'RunActivity:callTool', 'HandleUpdate:call'].every((n) => t.spans.some((s) => s.operationName === n)) && named(t, 'tools/call fixture.echo').length === 2);
    const [server, downstream] = ['server', 'client'].map((kind) => named(trace, 'tools/call fixture.echo').find((s) => tagOf(s, 'span.kind') === kind)!);
    assert.ok(server && downstream, 'a gateway SERVER span and a downstream CLIENT span');
    assert.equal(serviceOf(trace, server), 'switchyard-gateway');
    assert.equal(server.references[0]?.spanID, spanIdOf(traceparent), "the gateway span's parent is the client's span");
    assert.equal(tagOf(server, 'mcp.method.name'), 'tools/call');
    assert.equal(tagOf(server, 'gen_ai.tool.name'), 'fixture.echo');
    assert.equal(tagOf(server, 'switchyard.tenant'), 'default');
    assert.equal(tagOf(server, 'switchyard.correlation_id'), correlationId);
    assert.equal(tagOf(server, 'switchyard.ordering_key'), 'none');
    assert.ok(tagOf(server, 'mcp.session.id'), 'the MCP session is named');
    const workflow = named(trace, 'HandleUpdate:call')[0]!;
    assert.equal(serviceOf(trace, workflow), 'switchyard-worker', 'the workflow span comes from the worker');
    const activity = named(trace, 'RunActivity:callTool')[0]!;
    assert.equal(serviceOf(trace, activity), 'switchyard-worker');
    assert.equal(downstream.references[0]?.spanID, activity.spanID, 'the downstream request is a child of the activity');
    assert.equal(spanIdOf(execution.meta?.traceparent), downstream.spanID, "the server's parent is the downstream CLIENT span");
    assert.equal(tagOf(downstream, 'switchyard.attempt'), 1);
    assert.ok(!JSON.stringify(trace).includes('secret-argument-value'), 'arguments and results are not recorded');
  });

  it('_meta.traceparent (the 2026-07-28 carrier) wins over the header', async () => {
    const header = newTraceparent();
    const meta = newTraceparent();
    const client = await stack.client({ traceparent: header });
    const result = await client.callTool({ name: 'fixture.add', arguments: { a: 1, b: 2 }, _meta: { traceparent: meta } });
    await client.close();
    const execution = stack.fixture.executions.find((e) => e.correlationId === correlationIdOf(result))!;
    assert.equal(traceIdOf(execution.meta?.traceparent), traceIdOf(meta));
    const trace = await jaeger.trace(traceIdOf(meta)!, (t) => named(t, 'tools/call fixture.add').length === 2);
    assert.equal(named(trace, 'tools/call fixture.add').find((s) => tagOf(s, 'span.kind') === 'server')?.references[0]?.spanID, spanIdOf(meta));
  });

  it('a call retried after a worker SIGKILL stays in its trace', async () => {
    const traceparent = newTraceparent();
    const traceId = traceIdOf(traceparent)!;
    const client = await stack.client();
    const accepted = await client.callTool({ name: 'fixture.slow', arguments: { ms: 2_500, tag: 'otel-kill' }, _meta: { traceparent } });
    await client.close();
    const correlationId = correlationIdOf(accepted);
    await waitFor('first attempt running', () => stack.fixture.executions.find((e) => e.correlationId === correlationId));
    await stack.kill('worker');
    await stack.startWorker();
    const done = await stack.finalResult(correlationId);
    assert.equal(textOf(done), 'slept 2500 ms (otel-kill)');

    const attempts = stack.fixture.executions.filter((e) => e.correlationId === correlationId);
    assert.ok(attempts.length >= 2, 'retried on the new worker');
    for (const attempt of attempts) assert.equal(traceIdOf(attempt.meta?.traceparent), traceId, `attempt ${attempt.attempt} is in the call's trace`);
    // The killed worker never exported its spans; the new worker's activity and request are in the trace.
    const trace = await jaeger.trace(traceId, (t) => named(t, 'tools/call fixture.slow').some((s) => tagOf(s, 'span.kind') === 'client' && Number(tagOf(s, 'switchyard.attempt')) >= 2));
    assert.ok(named(trace, 'RunActivity:callTool').length >= 1);
    assert.ok(named(trace, 'tools/call fixture.slow').some((s) => tagOf(s, 'span.kind') === 'server'), 'with the gateway span it started from');
  });

  it('a dead-lettered call redriven later stays in its trace', async () => {
    const traceparent = newTraceparent();
    const traceId = traceIdOf(traceparent)!;
    const client = await stack.client();
    try {
      // A non-idempotent request that hangs past the server's timeout: outcome unknown, dead-lettered.
      stack.fixture.hangApply = true;
      let id: string;
      try {
        const dead = await client.callTool({ name: 'fixture.apply', arguments: { key: 'otel-redrive' }, _meta: { traceparent, 'switchyard/accept_async': true } });
        id = correlationIdOf(dead);
        const ended = await stack.finalResult(id);
        assert.equal((ended.structuredContent as { status: string }).status, 'dead_lettered', textOf(ended));
      } finally {
        stack.fixture.hangApply = false;
      }
      // The operator redrives it from a session with no trace context of its own.
      const redriven = await client.callTool({ name: 'switchyard.dlq_redrive', arguments: { correlation_id: id } });
      assert.equal((redriven.structuredContent as { state: string }).state, 'redriven', textOf(redriven));
      const attempts = stack.fixture.executionsOf('apply').filter((e) => e.args.key === 'otel-redrive');
      assert.ok(attempts.length >= 2, 'the first attempt and the redrive');
      for (const attempt of attempts) assert.equal(traceIdOf(attempt.meta?.traceparent), traceId, 'every attempt, the redriven one included, is in the caller\'s trace');
      const trace = await jaeger.trace(traceId, (t) => named(t, 'tools/call fixture.apply').filter((s) => tagOf(s, 'span.kind') === 'client').length >= 2);
      assert.ok(named(trace, 'tools/call fixture.apply').some((s) => tagOf(s, 'span.kind') === 'server'), 'with the gateway span it started from');
    } finally {
      await client.close();
    }
  });

  it('a saga run with run_saga is one trace: its steps and its compensation reach the servers with the caller\'s trace', async () => {
    const traceparent = newTraceparent();
    const traceId = traceIdOf(traceparent)!;
    const client = await stack.client({ traceparent });
    try {
      const result = await client.callTool({
        name: 'switchyard.run_saga',
        arguments: {
          steps: [
            { step: 'first', tool: 'fixture.echo', arguments: { message: 'otel-saga-step' }, compensation: { tool: 'fixture.echo', arguments: { message: 'otel-saga-undo' } } },
            { step: 'second', tool: 'fixture.rpc_error', arguments: { tag: 'otel-saga' } },
          ],
        },
      }, CallToolResultSchema, { timeout: 60_000 });
      assert.equal((result.structuredContent as { state: string }).state, 'compensated', textOf(result));
    } finally {
      await client.close();
    }
    const sent = (pick: (e: { tool: string; args: Record<string, unknown> }) => boolean) => stack.fixture.executions.filter(pick);
    const step = sent((e) => e.tool === 'echo' && e.args.message === 'otel-saga-step');
    const failing = sent((e) => e.tool === 'rpc_error' && e.args.tag === 'otel-saga');
    const undo = sent((e) => e.tool === 'echo' && e.args.message === 'otel-saga-undo');
    assert.equal(undo.length, 1, 'the first step was undone');
    for (const execution of [...step, ...failing, ...undo]) assert.equal(traceIdOf(execution.meta?.traceparent), traceId, `${execution.tool} ${JSON.stringify(execution.args)} is in the saga's trace`);
    // The gateway's span, the saga workflow's run, and the downstream requests of the step and its undo.
    const trace = await jaeger.trace(traceId, (t) => named(t, 'tools/call fixture.echo').filter((s) => tagOf(s, 'span.kind') === 'client').length >= 2 && named(t, 'RunWorkflow:sagaWorkflow').length === 1 && named(t, 'tools/call switchyard.run_saga').length === 1);
    assert.equal(serviceOf(trace, named(trace, 'RunWorkflow:sagaWorkflow')[0]!), 'switchyard-worker');
  });

  it('the SLI metrics move as calls complete, time out and dead-letter', async () => {
    const labels = { tenant: 'default', server: 'fixture' };
    const calls = (tool: string, outcome: string) => scrape(workerMetrics, 'switchyard_calls_total', { ...labels, tool, outcome });
    const snapshot = async () => ({
      ok: await calls('fixture.echo', 'ok'),
      latency: await scrape(workerMetrics, 'switchyard_call_duration_count', { ...labels, tool: 'fixture.echo', outcome: 'ok' }),
      timedOut: await calls('fixture.slow', 'deadline_exceeded'),
      violations: await scrape(workerMetrics, 'switchyard_call_deadline_violations_total', { ...labels, tool: 'fixture.slow' }),
      deadLettered: await calls('fixture.apply', 'dead_lettered'),
      requestTimeouts: await scrape(workerMetrics, 'switchyard_downstream_requests_total', { server: 'fixture', tool: 'fixture.apply', outcome: 'timeout' }),
    });
    const before = await snapshot();

    const client = await stack.client();
    await client.callTool({ name: 'fixture.echo', arguments: { message: 'counted' } });
    // In flight: a slow call holds a slot on the fixture server while it runs.
    const slow = client.callTool({ name: 'fixture.slow', arguments: { ms: 1_500 }, _meta: { 'switchyard/accept_async': true } });
    await waitFor('in-flight gauge', async () => (await scrape(workerMetrics, 'switchyard_downstream_in_flight', { server: 'fixture' })) >= 1 || undefined, 10_000, 100);
    assert.ok((await scrape(gatewayMetrics, 'switchyard_sessions', { tenant: 'default' })) >= 1, 'the open session is counted');
    await slow;
    // Times out: the deadline is shorter than the work.
    await client.callTool({ name: 'fixture.slow', arguments: { ms: 5_000 }, _meta: { 'switchyard/deadline_ms': 500 } }, CallToolResultSchema, { timeout: 30_000 });
    // Dead-letters: a non-idempotent request that hangs past the server's timeout has an unknown outcome.
    stack.fixture.hangApply = true;
    try {
      const dead = await client.callTool({ name: 'fixture.apply', arguments: { key: 'otel-dead' }, _meta: { 'switchyard/accept_async': true } });
      await stack.finalResult(correlationIdOf(dead));
    } finally {
      stack.fixture.hangApply = false;
    }
    await client.close();

    await waitFor('metrics to move', async () => {
      const now = await snapshot();
      const moved = now.ok > before.ok && now.latency > before.latency && now.timedOut > before.timedOut && now.violations > before.violations && now.deadLettered > before.deadLettered && now.requestTimeouts > before.requestTimeouts;
      if (!moved) throw new Error(`before ${JSON.stringify(before)}, now ${JSON.stringify(now)}`);
      return true;
    }, 20_000, 500);
    // The retried call of the SIGKILL test (same worker process since) counted its extra attempt.
    assert.ok((await scrape(workerMetrics, 'switchyard_call_retries_total', labels)) >= 1, 'retries are counted');
    assert.equal(await scrape(workerMetrics, 'switchyard_downstream_in_flight', { server: 'fixture' }), 0, 'nothing in flight once calls ended');
    assert.match(await (await fetch(workerMetrics)).text(), /switchyard_downstream_breaker_state\{[^}]*server="fixture"[^}]*\} 0/, 'the breaker is closed');
    const text = await (await fetch(workerMetrics)).text();
    assert.ok(!/correlation|ordering_key/.test(text), 'no correlation ids or keys as labels');
    // The activity's warning about the hung request names its trace.
    assert.match(stack.logs(), /\[worker\].*downstream call failed.*trace_id="[0-9a-f]{32}" span_id="[0-9a-f]{16}"/, 'log lines carry the trace');
  });

  it('the histories recorded with tracing on carry trace headers and replay with and without the tracing interceptor', async () => {
    const client = stack.temporalClient;
    const histories = [];
    for await (const run of client.workflow.list()) histories.push({ workflowId: `${run.workflowId} ${run.runId}`, history: await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory() });
    assert.ok(histories.length >= 3, `histories: ${histories.length}`);
    const scheduled = histories.flatMap((h) => h.history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    assert.ok(scheduled.some((e) => e.activityTaskScheduledEventAttributes?.header?.fields?.['_tracer-data'] !== undefined), 'activities were scheduled with trace headers');
    // The bundle the worker processes ran (npm run build).
    const bundle = resolve(import.meta.dirname, '..', '..', 'dist', 'workflow-bundle.js');
    assert.ok(existsSync(bundle), 'npm run build wrote the workflow bundle');
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: bundle }, replayName: 'telemetry' }, histories)) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    }
    // A build without the interceptor (a rollback) continues them too: it added headers only.
    const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const plain = await bundleWorkflowCode({ workflowsPath: resolve(import.meta.dirname, '..', '..', 'dist', 'workflows', 'index.js'), logger: silent });
    for await (const result of Worker.runReplayHistories({ workflowBundle: plain, replayName: 'telemetry-plain' }, histories)) {
      assert.equal(result.error, undefined, `${result.workflowId} without the interceptor: ${String(result.error)}`);
    }
  });
});
