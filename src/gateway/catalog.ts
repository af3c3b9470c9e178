// The aggregated tool list the gateway shows clients: every ready downstream server's tools
// under their public names, then the broker's own tools. Pagination uses an opaque cursor.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { DownstreamPool } from '../downstream/pool.js';
import type { Logger } from '../observability/log.js';
import { BROKER_TOOLS } from './broker-tools/index.js';
import { brokerToolName, isValidToolName, publicToolName, splitToolName, type NamingOptions } from './tool-names.js';

export interface ResolvedTool {
  serverId: string;
  tool: string;
  publicName: string;
  definition: Tool;
}

/** One listed tool: a downstream one (its server and downstream name) or one of the broker's (its short name). */
export type CatalogEntry = { definition: Tool } & ({ serverId: string; tool: string } | { broker: string });

export class InvalidCursorError extends Error {}

export class ToolCatalog {
  private readonly serverIds: ReadonlySet<string>;

  constructor(
    private readonly pool: DownstreamPool,
    readonly naming: NamingOptions,
    private readonly pageSize: number,
    private readonly log: Logger,
  ) {
    this.serverIds = new Set(pool.all().map((c) => c.id));
  }

  /** Every tool a client sees, in a stable order. */
  all(): Tool[] {
    return this.entries().map((e) => e.definition);
  }

  /** Every tool with where it comes from, in listing order. */
  entries(): CatalogEntry[] {
    const tools: CatalogEntry[] = [];
    const names = new Set<string>();
    for (const connection of this.pool.all()) {
      for (const tool of connection.listTools()) {
        const name = publicToolName(connection.id, tool.name, this.naming);
        // Unprefixed servers share one namespace: the first that offers a name owns it.
        if (names.has(name)) continue;
        names.add(name);
        if (!isValidToolName(name)) {
          this.log.warn('skipping a downstream tool whose public name is not a valid MCP tool name', { server: connection.id, tool: tool.name });
          continue;
        }
        // Every downstream tool can run as an MCP task: the broker, not the server, holds the task.
        tools.push({ serverId: connection.id, tool: tool.name, definition: { ...tool, name, execution: { ...tool.execution, taskSupport: 'optional' } } });
      }
    }
    for (const tool of BROKER_TOOLS) tools.push({ broker: tool.name, definition: { ...tool, name: brokerToolName(tool.name, this.naming) } });
    return tools;
  }

  /** One page of the tools `visible` keeps (the caller's access policy): the cursor counts in the filtered list. */
  page(cursor: string | undefined, visible?: (entry: CatalogEntry) => boolean): { tools: Tool[]; nextCursor?: string } {
    const offset = cursor === undefined ? 0 : decodeCursor(cursor);
    const entries = this.entries();
    const tools = (visible === undefined ? entries : entries.filter(visible)).map((e) => e.definition);
    const slice = tools.slice(offset, offset + this.pageSize);
    const next = offset + this.pageSize;
    return next < tools.length ? { tools: slice, nextCursor: encodeCursor(next) } : { tools: slice };
  }

  /** A downstream tool by public name (also while its server is down), or undefined when no server offers it. */
  resolve(name: string): ResolvedTool | undefined {
    // A name the listing would skip is not callable either: clients call only what they were shown.
    if (!isValidToolName(name)) return undefined;
    const split = splitToolName(name, this.serverIds, this.naming, (serverId, tool) => this.pool.get(serverId)?.knownTools().some((t) => t.name === tool) === true);
    if (split === undefined) return undefined;
    const connection = this.pool.get(split.serverId);
    if (connection === undefined || !connection.isToolAllowed(split.tool)) return undefined;
    const definition = connection.knownTools().find((t) => t.name === split.tool);
    if (definition === undefined) return undefined;
    return { serverId: split.serverId, tool: split.tool, publicName: name, definition };
  }

  /** The broker tool's short name ("get_call") if `name` is one of ours. */
  brokerTool(name: string): string | undefined {
    for (const tool of BROKER_TOOLS) if (brokerToolName(tool.name, this.naming) === name) return tool.name;
    return undefined;
  }
}

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof value.o === 'number' && Number.isInteger(value.o) && value.o >= 0) return value.o;
  } catch {
    // fall through
  }
  throw new InvalidCursorError('invalid cursor');
}
