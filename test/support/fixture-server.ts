// A real MCP server over Streamable HTTP, written for the tests: it records every execution so
// tests can check what ran, how often and in which order, and it can be stopped and restarted on
// the same port to play a downstream outage. It is outside the product, so it is ours to control.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { McpSessions } from './mcp-sessions.js';

export interface Execution {
  tool: string;
  args: Record<string, unknown>;
  correlationId?: string;
  idempotencyKey?: string;
  attempt?: number;
  /** The call's whole `_meta` as received (to prove no client token is passed through). */
  meta?: Record<string, unknown>;
  /** The W3C `traceparent` HTTP header of the request that carried the call (tracing). */
  traceparentHeader?: string;
  startedAt: number;
  finishedAt?: number;
  cancelled?: boolean;
}

export class FixtureServer {
  readonly executions: Execution[] = [];
  /** What the idempotent `record` tool applied: one entry per correlation id, in order. */
  readonly applied: Array<{ key: string; step: number; correlationId?: string }> = [];
  private readonly appliedIds = new Set<string>();
  private http: HttpServer | undefined;
  private port = 0;
  /** While true, `apply` never answers on its own (it waits to be cancelled): a stalled server. */
  hangApply = false;
  /** Extra tools appear only when true (to test list_changed / reconnection). */
  extraTool = false;
  /** The headers of every HTTP request it received (to prove no client token is passed through). */
  readonly requestHeaders: Array<Record<string, string | string[] | undefined>> = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async start(port = 0): Promise<void> {
    this.http = createServer((req, res) => {
      this.requestHeaders.push({ ...req.headers });
      if (req.url !== '/mcp') {
        res.writeHead(404).end();
        return;
      }
      void this.sessions.route(req, res);
    });
    await new Promise<void>((resolve) => this.http!.listen(port || this.port, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  /** Stateful sessions, so notifications/cancelled reaches the request it names. */
  private readonly sessions = new McpSessions((transport) => this.build().connect(transport));

  async stop(): Promise<void> {
    await this.sessions.closeAll();
    const http = this.http;
    this.http = undefined;
    if (!http) return;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  executionsOf(tool: string): Execution[] {
    return this.executions.filter((e) => e.tool === tool);
  }

  private record(tool: string, args: Record<string, unknown>, meta: Record<string, unknown> | undefined, headers?: Record<string, string | string[] | undefined>): Execution {
    const traceparent = headers?.traceparent;
    const execution: Execution = {
      tool,
      args,
      correlationId: meta?.['switchyard/correlation_id'] as string | undefined,
      idempotencyKey: meta?.['switchyard/idempotency_key'] as string | undefined,
      attempt: meta?.['switchyard/attempt'] as number | undefined,
      ...(meta !== undefined ? { meta: { ...meta } } : {}),
      ...(typeof traceparent === 'string' ? { traceparentHeader: traceparent } : {}),
      startedAt: Date.now(),
    };
    this.executions.push(execution);
    return execution;
  }

  private build(): McpServer {
    const server = new McpServer({ name: 'fixture', version: '1.0.0' });
    server.registerTool(
      'echo',
      { description: 'Echoes the message back.', inputSchema: { message: z.string() }, annotations: { readOnlyHint: true } },
      async ({ message }, extra) => {
        const execution = this.record('echo', { message }, extra._meta, extra.requestInfo?.headers);
        execution.finishedAt = Date.now();
        return { content: [{ type: 'text', text: message }] };
      },
    );
    server.registerTool(
      'add',
      {
        description: 'Adds two numbers; returns structured content.',
        inputSchema: { a: z.number(), b: z.number() },
        outputSchema: { sum: z.number() },
      },
      async ({ a, b }, extra) => {
        this.record('add', { a, b }, extra._meta, extra.requestInfo?.headers).finishedAt = Date.now();
        return { content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } };
      },
    );
    server.registerTool(
      'fail',
      { description: 'Always answers with a tool error (isError).', inputSchema: { reason: z.string().optional() } },
      async ({ reason }, extra) => {
        this.record('fail', { reason }, extra._meta, extra.requestInfo?.headers).finishedAt = Date.now();
        return { content: [{ type: 'text', text: `failed: ${reason ?? 'on purpose'}` }], isError: true };
      },
    );
    server.registerTool(
      'fail_read',
      { description: 'A read-only lookup that always answers with a tool error (isError).', inputSchema: { reason: z.string().optional() }, annotations: { readOnlyHint: true } },
      async ({ reason }, extra) => {
        this.record('fail_read', { reason }, extra._meta, extra.requestInfo?.headers).finishedAt = Date.now();
        return { content: [{ type: 'text', text: `lookup failed: ${reason ?? 'on purpose'}` }], isError: true };
      },
    );
    server.registerTool(
      'big',
      { description: 'Answers with a text of `bytes` bytes (large results).', inputSchema: { bytes: z.number(), tag: z.string().optional() }, annotations: { readOnlyHint: true } },
      async ({ bytes, tag }, extra) => {
        this.record('big', { bytes, tag }, extra._meta, extra.requestInfo?.headers).finishedAt = Date.now();
        return { content: [{ type: 'text', text: 'x'.repeat(bytes) }], structuredContent: { bytes, tag: tag ?? null } };
      },
    );
    // `rpc_error` answers with a JSON-RPC error. McpServer turns whatever a tool callback throws
    // into an isError result, so this one is answered in front of McpServer's tools/call handler.
    server.registerTool('rpc_error', { description: 'Answers with a JSON-RPC error (-32603).', inputSchema: { tag: z.string().optional() }, annotations: { readOnlyHint: true } }, async () => ({ content: [] }));
    type RawHandler = (request: { params?: { name?: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> } }, extra: unknown) => Promise<unknown>;
    const handlers = (server.server as unknown as { _requestHandlers: Map<string, RawHandler> })._requestHandlers;
    const callTool = handlers.get('tools/call')!;
    handlers.set('tools/call', async (request, extra) => {
      if (request.params?.name !== 'rpc_error') return callTool(request, extra);
      this.record('rpc_error', request.params.arguments ?? {}, request.params._meta).finishedAt = Date.now();
      throw new McpError(ErrorCode.InternalError, 'the fixture failed on purpose (JSON-RPC error)');
    });
    server.registerTool(
      'slow',
      {
        description: 'Waits ms milliseconds (cancellable), then answers.',
        inputSchema: { ms: z.number(), tag: z.string().optional() },
        annotations: { idempotentHint: true },
      },
      async ({ ms, tag }, extra) => {
        const execution = this.record('slow', { ms, tag }, extra._meta, extra.requestInfo?.headers);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            execution.cancelled = true;
            resolve();
          });
        });
        execution.finishedAt = Date.now();
        return { content: [{ type: 'text', text: `slept ${ms} ms${tag ? ` (${tag})` : ''}` }] };
      },
    );
    server.registerTool(
      'flaky',
      {
        description: 'Stalls for stallMs (cancellable) the first time it runs for a tag, answers at once after that: a transient failure behind a short request timeout.',
        inputSchema: { tag: z.string(), stallMs: z.number() },
        annotations: { readOnlyHint: true },
      },
      async ({ tag, stallMs }, extra) => {
        const first = !this.executionsOf('flaky').some((e) => e.args.tag === tag);
        const execution = this.record('flaky', { tag, stallMs }, extra._meta, extra.requestInfo?.headers);
        if (first) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, stallMs);
            extra.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              execution.cancelled = true;
              resolve();
            });
          });
        }
        execution.finishedAt = Date.now();
        return { content: [{ type: 'text', text: `flaky ${tag}` }] };
      },
    );
    server.registerTool(
      'record',
      {
        description: 'Records a step of a key, for ordering checks, after ms milliseconds. Idempotent: a repeat of a correlation id is not applied again.',
        inputSchema: { key: z.string(), step: z.number(), ms: z.number().optional() },
        annotations: { idempotentHint: true },
      },
      async ({ key, step, ms }, extra) => {
        const execution = this.record('record', { key, step }, extra._meta, extra.requestInfo?.headers);
        if (ms !== undefined) await new Promise((resolve) => setTimeout(resolve, ms));
        execution.finishedAt = Date.now();
        const id = execution.correlationId;
        if (id === undefined || !this.appliedIds.has(id)) {
          if (id !== undefined) this.appliedIds.add(id);
          this.applied.push({ key, step, correlationId: id });
        }
        return { content: [{ type: 'text', text: `${key}#${step}` }] };
      },
    );
    server.registerTool(
      'apply',
      {
        description: 'A non-idempotent change (no annotations): waits ms milliseconds (cancellable), then applies.',
        inputSchema: { key: z.string(), ms: z.number().optional() },
      },
      async ({ key, ms }, extra) => {
        const execution = this.record('apply', { key, ms }, extra._meta, extra.requestInfo?.headers);
        const hang = this.hangApply;
        await new Promise<void>((resolve) => {
          const timer = hang ? undefined : setTimeout(resolve, ms ?? 0);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            execution.cancelled = true;
            resolve();
          });
        });
        execution.finishedAt = Date.now();
        return { content: [{ type: 'text', text: `applied ${key}` }] };
      },
    );
    server.registerTool(
      'steps',
      {
        description: 'Reports progress 1..steps, one every intervalMs (to the caller\'s progressToken), then answers: a long job that reports as it goes.',
        inputSchema: { steps: z.number().int().min(1), intervalMs: z.number() },
        annotations: { readOnlyHint: true },
      },
      async ({ steps, intervalMs }, extra) => {
        const execution = this.record('steps', { steps, intervalMs }, extra._meta, extra.requestInfo?.headers);
        const progressToken = extra._meta?.progressToken;
        for (let step = 1; step <= steps && !extra.signal.aborted; step++) {
          await new Promise((resolve) => setTimeout(resolve, intervalMs));
          if (progressToken !== undefined) {
            await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: step, total: steps, message: `step ${step}` } });
          }
        }
        execution.finishedAt = Date.now();
        return { content: [{ type: 'text', text: `${steps} steps done` }] };
      },
    );
    if (this.extraTool) {
      server.registerTool('extra', { description: 'Appears only sometimes.' }, async () => ({ content: [{ type: 'text', text: 'extra' }] }));
    }
    return server;
  }
}
