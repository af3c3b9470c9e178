// A downstream MCP server that speaks the 2026-07-28 revision only, built with SDK v2's
// `createMcpHandler(factory, {legacy: 'reject'})` and served over real HTTP: a 2025 client's
// `initialize` is refused, so the broker reaches its tools only if it negotiated the modern era.
// It records what ran (and what was cancelled) and counts the era probes it answered.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createMcpHandler, McpServer, type McpHttpHandler } from '@modelcontextprotocol/server';
import { z } from 'zod';

export interface ModernExecution {
  tool: string;
  args: Record<string, unknown>;
  correlationId?: string;
  finished: boolean;
  cancelled: boolean;
}

export class ModernServer {
  readonly executions: ModernExecution[] = [];
  /** `server/discover` requests answered: the connect probe and the health checks. */
  discovers = 0;
  /** `initialize` requests refused (a client that did not negotiate the modern era). */
  refusedInitializes = 0;
  /** The `extra` tool is listed only while this is true; `toolsChanged()` tells listeners. */
  extraTool = false;
  private http: HttpServer | undefined;
  private handler: McpHttpHandler | undefined;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async start(port = 0): Promise<void> {
    this.handler = createMcpHandler(() => this.build(), { legacy: 'reject' });
    const handler = this.handler;
    const listener = getRequestListener(async (request) => {
      if (new URL(request.url).pathname !== '/mcp') return new Response(null, { status: 404 });
      if (request.method === 'POST') {
        const body = (await request.clone().json().catch(() => undefined)) as { method?: string } | undefined;
        if (body?.method === 'server/discover') this.discovers++;
        if (body?.method === 'initialize') this.refusedInitializes++;
      }
      return handler.fetch(request);
    });
    this.http = createServer(listener);
    await new Promise<void>((resolve) => this.http!.listen(port || this.port, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  /** notifications/tools/list_changed to every listen stream that asked for it. */
  toolsChanged(): void {
    this.handler?.notify.toolsChanged();
  }

  /** notifications/resources/updated to every listen stream subscribed to the URI. */
  resourceUpdated(uri: string): void {
    this.handler?.notify.resourceUpdated(uri);
  }

  async stop(): Promise<void> {
    await this.handler?.close().catch(() => undefined);
    const http = this.http;
    this.http = undefined;
    if (!http) return;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  /** Called by the SDK once per HTTP request: the server holds no state of its own between them. */
  private build(): McpServer {
    const server = new McpServer({ name: 'modern-fixture', version: '1.0.0' }, { capabilities: { logging: {}, resources: { subscribe: true } } });
    const record = (tool: string, args: Record<string, unknown>, meta: Record<string, unknown> | undefined): ModernExecution => {
      const execution: ModernExecution = {
        tool,
        args,
        ...(typeof meta?.['switchyard/correlation_id'] === 'string' ? { correlationId: meta['switchyard/correlation_id'] } : {}),
        finished: false,
        cancelled: false,
      };
      this.executions.push(execution);
      return execution;
    };

    server.registerTool('add', { description: 'Adds two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) }, async ({ a, b }, ctx) => {
      const execution = record('add', { a, b }, ctx.mcpReq._meta);
      execution.finished = true;
      return { content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } };
    });

    server.registerTool('fail', { description: 'Always fails as a tool error', inputSchema: z.object({ reason: z.string() }) }, async ({ reason }, ctx) => {
      record('fail', { reason }, ctx.mcpReq._meta).finished = true;
      return { content: [{ type: 'text', text: `failed: ${reason}` }], isError: true };
    });

    server.registerTool(
      'steps',
      { description: 'Reports progress and a log message per step, then answers; stops when cancelled', inputSchema: z.object({ steps: z.number().int().min(1), intervalMs: z.number().int().min(0) }) },
      async ({ steps, intervalMs }, ctx) => {
        const execution = record('steps', { steps, intervalMs }, ctx.mcpReq._meta);
        const progressToken = ctx.mcpReq._meta?.progressToken;
        for (let step = 1; step <= steps; step++) {
          try {
            await sleep(intervalMs, ctx.mcpReq.signal);
          } catch {
            execution.cancelled = true;
            throw new Error('cancelled');
          }
          await ctx.mcpReq.log('info', `step ${step}`, 'modern-fixture');
          if (progressToken !== undefined) {
            await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress: step, total: steps } });
          }
        }
        execution.finished = true;
        return { content: [{ type: 'text', text: `${steps} steps done` }] };
      },
    );

    if (this.extraTool) {
      server.registerTool('extra', { description: 'Listed only while extraTool is set' }, async () => ({ content: [{ type: 'text', text: 'extra' }] }));
    }

    server.registerResource('greeting', 'modern://greeting', { mimeType: 'text/plain' }, async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'hello from 2026-07-28' }],
    }));

    server.registerPrompt('greet', { description: 'A greeting', argsSchema: z.object({ name: z.string() }) }, ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${name}` } }],
    }));
    return server;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
