// The load generator: N concurrent MCP clients (one SDK Client, one session, one keep-alive
// connection each), each calling the tool back to back (a closed loop) until the phase's calls
// are used up. Concurrency N therefore means N sessions with at most one call in flight each,
// which is how agents use a broker; throughput is calls / wall time of the phase.
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export type Mode = 'direct' | 'unordered' | 'one-key' | 'many-keys';
export const MODES: readonly Mode[] = ['direct', 'unordered', 'one-key', 'many-keys'];

export const MODE_LABELS: Record<Mode, string> = {
  direct: '(a) direct to the server',
  unordered: '(b) Switchyard, no ordering key',
  'one-key': '(c) Switchyard, one ordering key',
  'many-keys': '(d) Switchyard, one key per client',
};

export interface PhaseOptions {
  mode: Mode;
  concurrency: number;
  calls: number;
  warmup: number;
  echoUrl: string;
  gatewayUrl: string;
  /** Longest time one call may take before it counts as failed. */
  callTimeoutMs: number;
}

export interface PhaseRun {
  latenciesMs: number[];
  errors: number;
  firstError?: string;
  durationMs: number;
}

export async function runPhase(options: PhaseOptions): Promise<PhaseRun> {
  const { mode, concurrency } = options;
  const url = mode === 'direct' ? options.echoUrl : options.gatewayUrl;
  const tool = mode === 'direct' ? 'echo' : 'bench.echo';
  const clients = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const client = new Client({ name: 'switchyard-bench', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      return client;
    }),
  );
  const run = Math.random().toString(36).slice(2, 8);
  const keyOf = (clientIndex: number): string | undefined =>
    mode === 'one-key' ? `bench-${run}` : mode === 'many-keys' ? `bench-${run}-${clientIndex}` : undefined;

  let errors = 0;
  let firstError: string | undefined;
  const call = async (clientIndex: number, n: number): Promise<number> => {
    const key = keyOf(clientIndex);
    const started = performance.now();
    try {
      const result = await clients[clientIndex]!.callTool(
        { name: tool, arguments: { message: `m${n}` }, ...(key !== undefined ? { _meta: { 'switchyard/ordering_key': key } } : {}) },
        undefined,
        { timeout: options.callTimeoutMs },
      );
      const status = (result._meta as Record<string, unknown> | undefined)?.['switchyard/status'];
      if (result.isError || (mode !== 'direct' && status !== 'completed')) throw new Error(`unexpected result: ${JSON.stringify(result).slice(0, 300)}`);
    } catch (error) {
      errors++;
      firstError ??= String(error);
    }
    return performance.now() - started;
  };

  try {
    // Warm-up (not measured): every session's connection is open and the JIT is warm.
    let warm = 0;
    await Promise.all(clients.map(async (_, i) => {
      while (warm < options.warmup) await call(i, -++warm);
    }));
    errors = 0;
    firstError = undefined;

    const latenciesMs: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      clients.map(async (_, i) => {
        while (next < options.calls) latenciesMs.push(await call(i, next++));
      }),
    );
    return { latenciesMs, errors, ...(firstError !== undefined ? { firstError } : {}), durationMs: performance.now() - started };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}
