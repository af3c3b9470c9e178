// Caps the size of a request body. Unlike hono/body-limit, a body that turns out too large while
// it is read (chunked, or a lying Content-Length) is read to its end and discarded before the 413
// goes out: answering while the client is still sending made the socket close under it, and the
// client saw ECONNRESET instead of the 413. Past maxBytes + drainBytes the connection is cut.
import type { MiddlewareHandler } from 'hono';
import { INVALID_REQUEST, jsonRpcErrorResponse } from '../jsonrpc.js';

export interface BodyLimitOptions {
  maxBytes: number;
  /** How much of an oversized body is read and thrown away so the client can read the 413. */
  drainBytes?: number;
}

export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler {
  const { maxBytes, drainBytes = 8 * 1024 * 1024 } = options;
  const tooLarge = () => jsonRpcErrorResponse(413, null, INVALID_REQUEST, `Request body larger than ${maxBytes} bytes`, { connection: 'close' });
  return async function bodyLimitCheck(c, next) {
    const body = c.req.raw.body;
    if (body === null) return next();
    const declared = Number(c.req.header('content-length') ?? Number.NaN);
    if (declared > maxBytes + drainBytes) return tooLarge();
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size <= maxBytes) chunks.push(value);
      else if (size > maxBytes + drainBytes) {
        await reader.cancel().catch(() => undefined);
        break;
      }
    }
    if (size > maxBytes) return tooLarge();
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  };
}
