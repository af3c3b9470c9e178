// What one broker tool is: its listing, the zod schema of its arguments (which is also its listed
// inputSchema), and a handler that gets the parsed arguments.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { CallContext, CallToolAnswer, HandlerDeps } from '../handlers.js';

export interface BrokerTool<S extends z.ZodType = z.ZodType> {
  /** The listing without `inputSchema` (made from `input`); `name` is the short name, e.g. "get_call". */
  definition: Omit<Tool, 'inputSchema'>;
  input: S;
  /** Only an admin API key of the tenant may call it; anyone else gets an isError result, their arguments unread. */
  adminOnly?: boolean;
  /** The client's sentence when Temporal cannot be reached (default: retry later). */
  unavailable?: string;
  // Method syntax: the registry holds tools of different inputs side by side.
  handler(deps: HandlerDeps, input: z.output<S>, context: CallContext): Promise<CallToolAnswer>;
}

/** Declares a broker tool, typing its handler's input from its schema. */
export function brokerTool<S extends z.ZodType>(tool: BrokerTool<S>): BrokerTool<S> {
  return tool;
}
