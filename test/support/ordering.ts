// Helpers for the ordering tests: submit a step of a key, and read back per key what the
// fixture applied and what reached it.
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Stack } from './stack.js';

export function submit(client: McpClient, key: string, step: number, idempotencyKey?: string) {
  return client.callTool(
    {
      name: 'fixture.record',
      arguments: { key, step },
      _meta: { 'switchyard/ordering_key': key, 'switchyard/accept_async': true, ...(idempotencyKey ? { 'switchyard/idempotency_key': idempotencyKey } : {}) },
    },
    CallToolResultSchema,
    { timeout: 120_000 },
  );
}

/** Per key: the steps in the order they took effect, and in the order requests reached the server. */
export function byKey(stack: Stack, prefix: string) {
  const applied = new Map<string, number[]>();
  for (const a of stack.fixture.applied) if (a.key.startsWith(prefix)) applied.set(a.key, [...(applied.get(a.key) ?? []), a.step]);
  const reached = new Map<string, number[]>();
  for (const e of stack.fixture.executionsOf('record')) {
    const key = e.args.key as string;
    if (key.startsWith(prefix)) reached.set(key, [...(reached.get(key) ?? []), e.args.step as number]);
  }
  return { applied, reached };
}
