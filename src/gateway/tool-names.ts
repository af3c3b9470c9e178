// Public tool names: `<serverId><separator><toolName>`, or the bare name when every server is
// unprefixed (then the first server, in config order, that offers a name owns it). The broker's own tools live under the reserved id "switchyard".

/** MCP tool names SHOULD be 1-128 characters of [A-Za-z0-9_.-]. */
const VALID_TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export const BROKER_PREFIX = 'switchyard';

export interface NamingOptions {
  separator: string;
  /** Server ids whose tools keep their bare names. */
  unprefixed: ReadonlySet<string>;
}

export function publicToolName(serverId: string, tool: string, naming: NamingOptions): string {
  return naming.unprefixed.has(serverId) ? tool : `${serverId}${naming.separator}${tool}`;
}

export function brokerToolName(name: string, naming: NamingOptions): string {
  return `${BROKER_PREFIX}${naming.separator}${name}`;
}

export function isValidToolName(name: string): boolean {
  return VALID_TOOL_NAME.test(name);
}

/**
 * Splits a public name into server id and downstream tool name. Server ids never contain the
 * separator (the config refuses that), so the first separator is the boundary.
 */
export function splitToolName(
  name: string,
  serverIds: ReadonlySet<string>,
  naming: NamingOptions,
  /** With several unprefixed servers: whether a server offers this bare name (the first that does owns it). */
  offers?: (serverId: string, name: string) => boolean,
): { serverId: string; tool: string } | undefined {
  const at = name.indexOf(naming.separator);
  if (at > 0) {
    const serverId = name.slice(0, at);
    const tool = name.slice(at + naming.separator.length);
    if (serverIds.has(serverId) && !naming.unprefixed.has(serverId) && tool.length > 0) return { serverId, tool };
  }
  if (naming.unprefixed.size > 1 && offers !== undefined) {
    for (const serverId of naming.unprefixed) if (offers(serverId, name)) return { serverId, tool: name };
  }
  const [first] = naming.unprefixed;
  if (first !== undefined) return { serverId: first, tool: name };
  return undefined;
}
