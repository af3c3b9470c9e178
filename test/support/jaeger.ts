// A real Jaeger all-in-one (built by scripts/provision-jaeger.mjs) as the tests' telemetry
// receiver: OTLP over HTTP in, traces out through its HTTP query API. In-memory storage, every
// port free and on loopback, killed with the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from './ports.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  tags: Array<{ key: string; type: string; value: unknown }>;
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

export class Jaeger {
  private child: ChildProcess | undefined;
  private output = '';
  otlpHttpUrl = '';
  private queryUrl = '';

  static binary(): string {
    const path = process.env.JAEGER_BIN || join(ROOT, '.switchyard', 'bin', 'jaeger-all-in-one');
    if (!existsSync(path)) throw new Error(`no Jaeger at ${path}: run \`npm run provision\` first`);
    return path;
  }

  async start(): Promise<this> {
    const ports: number[] = [];
    while (ports.length < 7) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const [otlpHttp, otlpGrpc, query, queryGrpc, admin, collectorGrpc, collectorHttp] = ports as [number, number, number, number, number, number, number];
    const at = (port: number) => `127.0.0.1:${port}`;
    this.otlpHttpUrl = `http://${at(otlpHttp)}`;
    this.queryUrl = `http://${at(query)}`;
    this.child = spawn(
      Jaeger.binary(),
      [
        `--collector.otlp.http.host-port=${at(otlpHttp)}`,
        `--collector.otlp.grpc.host-port=${at(otlpGrpc)}`,
        `--query.http-server.host-port=${at(query)}`,
        `--query.grpc-server.host-port=${at(queryGrpc)}`,
        `--admin.http.host-port=${at(admin)}`,
        `--collector.grpc-server.host-port=${at(collectorGrpc)}`,
        `--collector.http-server.host-port=${at(collectorHttp)}`,
        '--memory.max-traces=10000',
      ],
      { env: { ...process.env, SPAN_STORAGE_TYPE: 'memory' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    this.child.stderr?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    await waitFor('Jaeger query API', async () => (await fetch(`${this.queryUrl}/api/services`)).ok || undefined, 30_000, 200).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${this.output.slice(-2000)}`);
    });
    return this;
  }

  /** The trace with this id, once `ready` says it is complete (its spans arrive in batches, from several processes). */
  async trace(traceId: string, ready: (trace: JaegerTrace) => boolean = () => true, timeoutMs = 30_000): Promise<JaegerTrace> {
    let last: JaegerTrace | undefined;
    try {
      return await waitFor(
        `trace ${traceId} in Jaeger`,
        async () => {
          const response = await fetch(`${this.queryUrl}/api/traces/${traceId}`);
          if (!response.ok) return undefined;
          const body = (await response.json()) as { data?: JaegerTrace[] };
          last = body.data?.[0];
          return last !== undefined && ready(last) ? last : undefined;
        },
        timeoutMs,
        500,
      );
    } catch (error) {
      const seen = last ? last.spans.map((s) => `${last!.processes[s.processID]?.serviceName}: ${s.operationName}`).join(', ') : 'nothing';
      throw new Error(`${(error as Error).message}; spans so far: ${seen}`);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

export function tagOf(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

export function serviceOf(trace: JaegerTrace, span: JaegerSpan): string | undefined {
  return trace.processes[span.processID]?.serviceName;
}
