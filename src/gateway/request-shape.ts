// What a POST body to /mcp must look like before the MCP transport sees it. The SDK transport
// answers a well-formed JSON body that is not a JSON-RPC message with -32700 (parse error), and
// its protocol layer answers params that fail a method's schema with -32603 (internal error);
// JSON-RPC 2.0 says -32600 and -32602. These checks give the right codes, and refuse bodies
// nested so deep that serialising them later (Temporal's payload converter, the MCP client)
// would overflow the stack.
import { ClientRequestSchema, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { INVALID_REQUEST, type JsonRpcId } from './jsonrpc.js';

/**
 * Deepest nesting of arrays and objects accepted in a body. JSON.stringify overflows Node's stack
 * at a few thousand levels; real MCP messages, tool arguments included, stay far below this.
 */
export const MAX_JSON_DEPTH = 128;

export interface BodyProblem {
  code: number;
  message: string;
  id: JsonRpcId;
}

/** The first reason the parsed body is not an acceptable JSON-RPC message or batch, if any. */
export function bodyProblem(body: unknown): BodyProblem | undefined {
  if (nestingExceeds(body, MAX_JSON_DEPTH)) {
    return { code: INVALID_REQUEST, message: `Invalid Request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`, id: idOf(body) };
  }
  if (Array.isArray(body) && body.length === 0) return { code: INVALID_REQUEST, message: 'Invalid Request: empty batch', id: null };
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  for (const [index, message] of messages.entries()) {
    if (!JSONRPCMessageSchema.safeParse(message).success) {
      const where = Array.isArray(body) ? ` (batch item ${index})` : '';
      return { code: INVALID_REQUEST, message: `Invalid Request: not a JSON-RPC 2.0 request, notification or response${where}`, id: idOf(body) };
    }
  }
  return undefined;
}

type RequestSchema = (typeof ClientRequestSchema.options)[number];
const REQUEST_SCHEMAS = new Map<string, RequestSchema>(ClientRequestSchema.options.map((schema) => [schema.shape.method.value, schema]));

/**
 * For a request to a known MCP method, why its params do not fit the method's schema (a message
 * for -32602), or undefined. Names the field and the expectation, never the value sent.
 */
export function paramsProblem(message: { method: string; params?: unknown }): string | undefined {
  const schema = REQUEST_SCHEMAS.get(message.method);
  if (schema === undefined) return undefined;
  const result = schema.safeParse({ method: message.method, ...(message.params !== undefined ? { params: message.params } : {}) });
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? 'params' : issue.path.map(String).join('.');
  return `Invalid params for ${message.method}: ${path}: ${issue?.message ?? 'invalid'}`;
}

/** The id of a single request, echoed in an error when it can be read. */
export function idOf(body: unknown): JsonRpcId {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const id = (body as { id?: unknown }).id;
    if (typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id))) return id;
  }
  return null;
}

/** Iterative, so a hostile depth cannot overflow the stack here either. */
function nestingExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
