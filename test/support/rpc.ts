// The JSON-RPC error a call must end with, for tests that assert exact codes and messages.
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

export async function rpcError(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof McpError) return error;
    throw error;
  }
  assert.fail('expected a JSON-RPC error');
}
