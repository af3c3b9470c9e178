// The broker's JSON-RPC error vocabulary: every code Switchyard puts on the wire, one meaning
// each, and the two ways an error leaves the gateway (JsonRpcError from a request handler,
// jsonRpcErrorResponse for answers the MCP transport never sees: auth, Host/Origin, parse,
// unknown session). MCP clients treat non-JSON-RPC bodies as a broken transport.
// Domain errors of the services become these codes in one place: errors.ts.
export type JsonRpcId = string | number | null;

// JSON-RPC 2.0.
/** The body is not valid JSON. */
export const PARSE_ERROR = -32700;
/** Valid JSON, but not an acceptable JSON-RPC message (or batch). */
export const INVALID_REQUEST = -32600;
/** No such method, or a feature the target does not offer. */
export const METHOD_NOT_FOUND = -32601;
/** A bad argument, envelope value, tool name, cursor or id; the message names it. Nothing was started. */
export const INVALID_PARAMS = -32602;
/** A fault of the broker itself; the message never says more than "Internal error". */
export const INTERNAL_ERROR = -32603;

// Implementation-defined (-32000 to -32019; MCP 2026-07-28 reserves -32020 to -32099 for the spec).
/**
 * The HTTP request was refused before any MCP method ran: wrong HTTP method, a missing or bad
 * header, Host/Origin, the session limit. The HTTP status (400, 403, 405, 406, 415, 429) says
 * which. The SDK's transport answers its own refusals with this code too.
 */
export const REQUEST_REFUSED = -32000;
/** Unknown or closed Mcp-Session-Id (HTTP 404): start a new session. The code the SDK's transports use. */
export const SESSION_NOT_FOUND = -32001;
/** MCP's code for resources/read of an unknown URI. */
export const RESOURCE_NOT_FOUND = -32002;
/**
 * The access policy (auth.policy) does not let this caller use the tool, prompt or resource the
 * request names: nothing was started and nothing reached a downstream server. The message names
 * what was asked for, never the rule (docs/security.md, "RBAC policy").
 */
export const ACCESS_DENIED = -32003;
/** No API key, or an unknown one (HTTP 401). Was -32001 before one code got one meaning. */
export const UNAUTHORIZED = -32004;
/** Temporal could not be reached: the call, saga or request was not recorded, nothing ran; retry later. Was -32000. */
export const BROKER_UNAVAILABLE = -32005;
/** A pass-through request (resources, prompts, completion, logging) could not reach its downstream server. Was -32000. */
export const SERVER_UNAVAILABLE = -32006;
/** A pass-through request got no answer from its downstream server within the server's timeoutMs. Was -32001. */
export const SERVER_TIMEOUT = -32007;
/**
 * A refusal under load: too many unfinished calls on a key or in a tenant; nothing was accepted.
 * `data["switchyard/retry_after_ms"]` says when to retry. It sits in the range MCP 2026-07-28
 * reserves; whether to move it is an open question (docs/front-door-design.md).
 */
export const BROKER_BUSY = -32029;
/**
 * MCP 2026-07-28's MissingRequiredClientCapability: the request needs a capability its client did
 * not declare (the Tasks extension, for a task-only tool or a tasks/* method); `data` names it.
 */
export const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;

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

/** A client-supplied name made safe to quote in an error: printable ASCII, at most `max` characters. */
export function printable(text: string, max = 128): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
