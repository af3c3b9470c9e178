// A 2026-07-28 downstream MCP server that demands a credential on every HTTP request, as a
// company's internal tool server behind its IdP would: `check` turns the request's Authorization
// (or another header) into an identity, or refuses it with 401. Its `whoami` tool answers with the
// identity its request carried, so a test sees which user the downstream server believed it served.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createMcpHandler, McpServer, type McpHttpHandler } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** Who a request came from, or undefined: refused with 401. */
export type CredentialCheck = (headers: Headers) => Promise<Record<string, unknown> | undefined>;

export class ProtectedServer {
  /** Every credential it was shown, verbatim (the test checks none reached Temporal). */
  readonly credentials: string[] = [];
  /** The identity of each whoami call, in order. */
  readonly calls: Array<Record<string, unknown>> = [];
  refused = 0;
  private http: HttpServer | undefined;
  private handler: McpHttpHandler | undefined;
  private port = 0;

  constructor(
    private readonly check: CredentialCheck,
    private readonly header = 'authorization',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async start(): Promise<this> {
    const handler = createMcpHandler(() => this.build(), { legacy: 'reject' });
    this.handler = handler;
    const listener = getRequestListener(async (request) => {
      if (new URL(request.url).pathname !== '/mcp') return new Response(null, { status: 404 });
      const presented = request.headers.get(this.header);
      if (presented !== null) this.credentials.push(presented);
      const identity = await this.check(request.headers);
      if (identity === undefined) {
        this.refused++;
        return new Response(JSON.stringify({ error: 'invalid_token' }), { status: 401, headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' } });
      }
      return handler.fetch(request, { authInfo: { token: '', clientId: String(identity.sub ?? ''), scopes: [], extra: identity } });
    });
    this.http = createServer(listener);
    await new Promise<void>((resolve) => this.http!.listen(0, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await this.handler?.close().catch(() => undefined);
    const http = this.http;
    this.http = undefined;
    if (!http) return;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  private build(): McpServer {
    const server = new McpServer({ name: 'protected-fixture', version: '1.0.0' });
    server.registerTool(
      'whoami',
      { description: 'Answers with the identity its request carried', inputSchema: z.object({ note: z.string().optional() }), annotations: { readOnlyHint: true } },
      async (_args, ctx) => {
        const identity = (ctx.http?.authInfo?.extra ?? {}) as Record<string, unknown>;
        this.calls.push(identity);
        return { content: [{ type: 'text', text: JSON.stringify(identity) }], structuredContent: identity };
      },
    );
    return server;
  }
}
