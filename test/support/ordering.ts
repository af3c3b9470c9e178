// Helpers for the ordering tests: submit a step of a key, and read back per key what the
// fixture applied and what reached it.
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Stack } from './stack.js';

export function submit(client: McpClient, key: string, step: number, idempotencyKey?: string, meta: Record<string, unknown> = {}, how: { tool?: string; ms?: number } = {}) {
  return client.callTool(
    {
      name: how.tool ?? 'fixture.record',
      arguments: { key, step, ...(how.ms !== undefined ? { ms: how.ms } : {}) },
      _meta: { 'switchyard/ordering_key': key, 'switchyard/accept_async': true, ...(idempotencyKey ? { 'switchyard/idempotency_key': idempotencyKey } : {}), ...meta },
    },
    CallToolResultSchema,
    { timeout: 120_000 },
  );
}

/** Per key: the steps in the order they took effect, and in the order requests reached the server. */
export function byKey(stack: Stack, prefix: string) {
  // Linear: this runs every few hundred ms over up to 10,000 entries, in the process that also
  // serves the fixture, so it must not stall the fixture's event loop.
  const applied = new Map<string, number[]>();
  for (const a of stack.fixture.applied) if (a.key.startsWith(prefix)) listOf(applied, a.key).push(a.step);
  const reached = new Map<string, number[]>();
  for (const e of stack.fixture.executions) {
    const key = e.args.key;
    if (e.tool === 'record' && typeof key === 'string' && key.startsWith(prefix)) listOf(reached, key).push(e.args.step as number);
  }
  return { applied, reached };
}

function listOf(map: Map<string, number[]>, key: string): number[] {
  let list = map.get(key);
  if (list === undefined) map.set(key, (list = []));
  return list;
}
