// How a downstream failure is classified decides whether Temporal retries it. Kept in one place
// so the activity, the tests and the docs agree.
import { ProtocolError, ResourceNotFoundError, SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';

/** MCP 2026-07-28's MissingRequiredClientCapability: its data says which capability, which the caller needs to know. */
const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;

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
    /** What of the server's error data a caller may see: a -32021's `requiredCapabilities`, nothing else. */
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** JSON-RPC internal error, for answers the broker cannot use. */
const INTERNAL_ERROR = -32603;
const RESOURCE_NOT_FOUND = -32002;

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
  if (error instanceof ResourceNotFoundError) {
    // SDK v2 turns a 2025 server's -32002 (and a 2026-07-28 server's -32602 with the uri) into this
    // class with the 2026-07-28 code. The front door speaks 2025, where a missing resource is -32002.
    return new DownstreamError('protocol', serverId, error.message, RESOURCE_NOT_FOUND);
  }
  if (error instanceof ProtocolError) {
    // The server's own words; v2 adds no prefix, but a v1 server's text may carry one it relayed.
    const required = error.code === MISSING_REQUIRED_CLIENT_CAPABILITY ? (error.data as { requiredCapabilities?: unknown } | undefined)?.requiredCapabilities : undefined;
    return new DownstreamError('protocol', serverId, error.message, error.code, true, required !== undefined ? { requiredCapabilities: required } : undefined);
  }
  if (error instanceof SdkHttpError) {
    return new DownstreamError('unavailable', serverId, `downstream server "${serverId}" answered HTTP ${error.status}`);
  }
  if (error instanceof SdkError) {
    switch (error.code) {
      case SdkErrorCode.RequestTimeout:
        return new DownstreamError('timeout', serverId, `downstream server "${serverId}" did not answer in time`);
      case SdkErrorCode.ConnectionClosed:
        return new DownstreamError('unavailable', serverId, `connection to downstream server "${serverId}" closed`);
      case SdkErrorCode.NotConnected:
        return new DownstreamError('unavailable', serverId, `downstream server "${serverId}" is unreachable`, undefined, false);
      // An answer came, but one the broker cannot pass on: retrying gets the same answer.
      case SdkErrorCode.UnsupportedResultType:
      case SdkErrorCode.InputRequiredRoundsExceeded:
        return new DownstreamError('protocol', serverId, `downstream server "${serverId}" sent a result the broker cannot pass on (or asked for input in a way it does not relay)`, INTERNAL_ERROR);
      case SdkErrorCode.InvalidResult:
        return new DownstreamError('protocol', serverId, `downstream server "${serverId}" sent an invalid result`, INTERNAL_ERROR);
      case SdkErrorCode.EraNegotiationFailed:
        return new DownstreamError('unavailable', serverId, `downstream server "${serverId}" does not speak the configured protocol version`);
      default:
        break;
    }
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
