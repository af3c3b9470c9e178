// How a downstream failure is classified decides whether Temporal retries it. Kept in one place
// so the activity, the tests and the docs agree.
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

export type DownstreamFailureKind =
  /** The server is not connected, refused the connection, or the connection broke: retryable. */
  | 'unavailable'
  /** The request was sent and no answer came in time: retryable for now (issue: mutation classes). */
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
  ) {
    super(message);
  }
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
  const refused = /ECONNREFUSED|fetch failed|ENOTFOUND|EHOSTUNREACH|ECONNRESET|socket hang up|Not connected|EPIPE/i.test(message);
  const http = /HTTP (\d{3})|Error POSTing to endpoint \(HTTP (\d{3})\)/.exec(message);
  if (http) return new DownstreamError('unavailable', serverId, `downstream server "${serverId}" answered HTTP ${http[1] ?? http[2]}`);
  return new DownstreamError('unavailable', serverId, refused ? `downstream server "${serverId}" is unreachable` : `downstream server "${serverId}" failed: ${firstLine(message)}`);
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
