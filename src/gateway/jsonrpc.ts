// JSON-RPC error envelopes for answers the MCP transport never sees (auth, Host/Origin, parse,
// unknown session). MCP clients treat non-JSON-RPC bodies as a broken transport.
export type JsonRpcId = string | number | null;

export function jsonRpcErrorResponse(status: number, id: JsonRpcId, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * A JSON-RPC error raised by a request handler. Unlike the SDK's McpError, its message goes on
 * the wire as written (McpError prefixes "MCP error <code>:"), so clients see one clean sentence.
 */
export class JsonRpcError extends Error {
  override readonly name = 'JsonRpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Broker-defined server error: a dependency (Temporal) is unavailable; nothing was run. */
export const BROKER_UNAVAILABLE = -32000;

/** A client-supplied name made safe to quote in an error: printable ASCII, at most `max` characters. */
export function printable(text: string, max = 128): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
