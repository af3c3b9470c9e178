// How a downstream failure is classified decides whether Temporal retries it. Kept in one place
// so the activity, the tests and the docs agree.
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

export type DownstreamFailureKind =
  /** The server is not connected, refused the connection, or the connection broke: retryable. */
  | 'unavailable'
  /** The request was sent and no answer came in time: the tool may or may not have run. */
  | 'timeout'
  /** The server answered with a JSON-RPC error: an answer, never retried. */
  | 'protocol';

export class DownstreamError extends Error {
  override readonly name = 'DownstreamError';
  constructor(
    readonly kind: DownstreamFailureKind,
    readonly serverId: string,
    message: string,
    readonly code?: number,
    /**
     * False only when the request provably never left the broker (not connected, connection
     * refused, name not resolved): then even a non-idempotent tool can be retried safely.
     */
    readonly sent: boolean = true,
  ) {
    super(message);
  }
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Error codes along the `cause` chain (fetch wraps the socket error). */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

/** Turns whatever the MCP client threw into a DownstreamError with a message safe to show a caller. */
export function classifyDownstreamError(serverId: string, error: unknown): DownstreamError {
  if (error instanceof DownstreamError) return error;
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout) {
      return new DownstreamError('timeout', serverId, `downstream server "${serverId}" did not answer in time`);
    }
    if (error.code === ErrorCode.ConnectionClosed) {
      return new DownstreamError('unavailable', serverId, `connection to downstream server "${serverId}" closed`);
    }
    // The SDK prefixes "MCP error <code>: "; keep the server's own words only.
    const text = error.message.replace(/^MCP error -?\d+: /, '');
    return new DownstreamError('protocol', serverId, text, error.code);
  }
  const message = error instanceof Error ? error.message : String(error);
  const notSent = causeCodes(error).some((code) => NOT_SENT_CODES.has(code)) || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|Not connected/.test(message);
  if (notSent) return new DownstreamError('unavailable', serverId, `downstream server "${serverId}" is unreachable`, undefined, false);
  const broken = /fetch failed|ECONNRESET|socket hang up|EPIPE/i.test(message);
  const http = /HTTP (\d{3})|Error POSTing to endpoint \(HTTP (\d{3})\)/.exec(message);
  if (http) return new DownstreamError('unavailable', serverId, `downstream server "${serverId}" answered HTTP ${http[1] ?? http[2]}`);
  return new DownstreamError('unavailable', serverId, broken ? `connection to downstream server "${serverId}" broke` : `downstream server "${serverId}" failed: ${firstLine(message)}`);
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
