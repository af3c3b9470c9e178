// The MCP load generator: N concurrent MCP clients (one SDK Client, one session, one keep-alive
// connection each; a 2026-07-28 client has no session), in the closed loop of closed-loop.ts. Concurrency N therefore means N sessions
// with at most one call in flight each, which is how agents use a broker.
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { closedLoop, type PhaseRun } from './closed-loop.js';
import type { SwitchyardMode } from './modes.js';

export interface PhaseOptions {
  mode: SwitchyardMode;
  concurrency: number;
  calls: number;
  warmup: number;
  echoUrl: string;
  gatewayUrl: string;
  /** Longest time one call may take before it counts as failed. */
  callTimeoutMs: number;
  /** Each client's ordering key, in place of the mode's (the soak mixes keyed and unkeyed clients). */
  keyOf?: (clientIndex: number) => string | undefined;
  /** Called after every call, measured or not, with whether it failed (the soak's progress). */
  onCall?: (failed: boolean) => void;
}

export async function runPhase(options: PhaseOptions): Promise<PhaseRun> {
  const { mode, concurrency } = options;
  const url = mode === 'direct' ? options.echoUrl : options.gatewayUrl;
  const tool = mode === 'direct' ? 'echo' : 'bench.echo';
  const clients = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      if (mode === 'unordered-2026') {
        // No session: the probe at connect (server/discover) is not timed.
        const client = new ModernClient({ name: 'switchyard-bench', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
        await client.connect(new ModernTransport(new URL(url)));
        return client as unknown as Client;
      }
      const client = new Client({ name: 'switchyard-bench', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      return client;
    }),
  );
  const run = Math.random().toString(36).slice(2, 8);
  const keyOf = options.keyOf ?? ((clientIndex: number): string | undefined =>
    mode === 'one-key' ? `bench-${run}` : mode === 'many-keys' ? `bench-${run}-${clientIndex}` : undefined);

  try {
    return await closedLoop(options, async (clientIndex, n) => {
      const key = keyOf(clientIndex);
      let failed = true;
      try {
        const result = await clients[clientIndex]!.callTool(
          { name: tool, arguments: { message: `m${n}` }, ...(key !== undefined ? { _meta: { 'switchyard/ordering_key': key } } : {}) },
          undefined,
          { timeout: options.callTimeoutMs },
        );
        const status = (result._meta as Record<string, unknown> | undefined)?.['switchyard/status'];
        if (result.isError || (mode !== 'direct' && status !== 'completed')) throw new Error(`unexpected result: ${JSON.stringify(result).slice(0, 300)}`);
        failed = false;
      } finally {
        options.onCall?.(failed);
      }
    });
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}
