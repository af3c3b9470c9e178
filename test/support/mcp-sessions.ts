// Stateful Streamable HTTP sessions for the MCP servers the tests and the bench run (fixture,
// saga, conformance and echo servers): `initialize` without a session id opens a session with a
// new server instance; later requests are routed by Mcp-Session-Id; an unknown id gets 404 with
// JSON-RPC -32001, as the MCP SDK's own examples answer.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport, type StreamableHTTPServerTransportOptions } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

type TransportOptions = Omit<StreamableHTTPServerTransportOptions, 'sessionIdGenerator' | 'onsessioninitialized'>;

export class McpSessions {
  readonly transports = new Map<string, StreamableHTTPServerTransport>();

  /**
   * `connect` attaches a fresh server to the session's transport and may return a clean-up, run
   * when the session closes.
   */
  constructor(
    private readonly connect: (transport: StreamableHTTPServerTransport) => Promise<(() => void) | void>,
    private readonly options: TransportOptions = {},
  ) {}

  async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? this.transports.get(sessionId) : undefined;
    if (existing) return existing.handleRequest(req, res);
    if (typeof sessionId === 'string') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
      return;
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      ...this.options,
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.transports.set(id, transport);
      },
    });
    let cleanUp: (() => void) | void = undefined;
    transport.onclose = () => {
      if (transport.sessionId) this.transports.delete(transport.sessionId);
      cleanUp?.();
    };
    cleanUp = await this.connect(transport);
    await transport.handleRequest(req, res);
  }

  async closeAll(): Promise<void> {
    for (const transport of this.transports.values()) await transport.close().catch(() => undefined);
    this.transports.clear();
  }
}
