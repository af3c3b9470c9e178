// SEP-2243 (MCP 2026-07-28): a tool whose input schema marks a top-level property with
// `"x-mcp-header": "Name"` has that argument mirrored into the HTTP header `Mcp-Param-Name`, so that
// a load balancer or a gateway can route on it without reading the body. A server MUST refuse a
// request whose header is missing, badly encoded or disagrees with the body: HTTP 400 with
// `-32020` HeaderMismatch. The SDK checks this only for tools registered on its McpServer; the
// broker's tools are the downstream servers' (their schemas are in the catalog), so the front door
// checks here, before the SDK dispatches the request.
//
// A value is the argument as text (`true`/`false` for a boolean, the decimal for a number), sent
// as is or as `=?base64?<UTF-8 in Base64>?=` when it is not plain visible ASCII.

/** The JSON-RPC code of a header that disagrees with the body (2026-07-28). */
export const HEADER_MISMATCH = -32020;

export interface ParamHeaderProblem {
  header: string;
  message: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** The first `Mcp-Param-*` header of a tools/call that is missing or disagrees with its arguments. */
export function paramHeaderProblem(inputSchema: unknown, args: unknown, headers: Headers): ParamHeaderProblem | undefined {
  const properties = (inputSchema as { properties?: Record<string, { type?: unknown; 'x-mcp-header'?: unknown }> } | undefined)?.properties;
  if (properties === undefined || properties === null || typeof properties !== 'object') return undefined;
  const values = args !== null && typeof args === 'object' ? (args as Record<string, unknown>) : {};
  for (const [name, property] of Object.entries(properties)) {
    const suffix = property?.['x-mcp-header'];
    if (typeof suffix !== 'string' || suffix.length === 0) continue;
    const value = values[name];
    if (value === undefined || value === null) continue;
    const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (text === undefined) continue;
    const header = `Mcp-Param-${suffix}`;
    const sent = headers.get(header);
    if (sent === null) return { header, message: `the body carries ${name} but the ${header} header is absent` };
    const decoded = decode(sent);
    if (decoded === undefined) return { header, message: `the ${header} header is not valid Base64 inside =?base64?...?=` };
    const same = typeof value === 'number' && DECIMAL.test(decoded) ? Number(decoded) === value : decoded === text;
    if (!same) return { header, message: `the ${header} header does not match ${name} in the body` };
  }
  return undefined;
}

/** A header's value as text; undefined for a malformed Base64 form. */
function decode(value: string): string | undefined {
  if (!value.startsWith('=?base64?') || !value.endsWith('?=') || value.length < '=?base64??='.length) return value;
  const encoded = value.slice('=?base64?'.length, -'?='.length);
  if (!BASE64.test(encoded)) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  const text = new TextDecoder('utf-8', { fatal: true });
  try {
    return text.decode(bytes);
  } catch {
    return undefined;
  }
}
