// A downstream MCP server with exactly the fixtures the SERVER scenarios of
// @modelcontextprotocol/conformance 0.1.16 exercise (tools, resources, a template, prompts,
// completion, logging, subscriptions, SSE reconnection). The conformance run puts it behind the
// broker, unprefixed, and tests the broker's endpoint: each scenario passes only if the broker
// passes the feature through. It speaks Streamable HTTP with sessions and an event store, so a
// stream it closes mid-call can be resumed with Last-Event-ID.
//
// Run alone: node --import tsx test/support/conformance-server.ts [port]   (prints its URL)
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { McpSessions } from './mcp-sessions.js';

/** 1x1 red PNG. */
export const RED_PIXEL_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
/** A valid audio/wav: 16-bit mono PCM at 8 kHz, 8 samples of silence. */
const SHORT_WAV = wav(8);

function wav(samples: number): string {
  const data = samples * 2;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); // fmt chunk size
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8_000, 24);
  b.writeUInt32LE(16_000, 28); // byte rate
  b.writeUInt16LE(2, 32); // block align
  b.writeUInt16LE(16, 34); // bits per sample
  b.write('data', 36);
  b.writeUInt32LE(data, 40);
  return b.toString('base64');
}

const NO_ARGS = { type: 'object' as const, properties: {} };

const TOOLS: Tool[] = [
  { name: 'test_simple_text', description: 'Returns simple text.', inputSchema: NO_ARGS },
  { name: 'test_image_content', description: 'Returns a PNG image.', inputSchema: NO_ARGS },
  { name: 'test_audio_content', description: 'Returns WAV audio.', inputSchema: NO_ARGS },
  { name: 'test_embedded_resource', description: 'Returns an embedded resource.', inputSchema: NO_ARGS },
  { name: 'test_multiple_content_types', description: 'Returns text, image and resource content.', inputSchema: NO_ARGS },
  { name: 'test_tool_with_logging', description: 'Sends three info log messages while it runs.', inputSchema: NO_ARGS },
  { name: 'test_error_handling', description: 'Always returns a tool error.', inputSchema: NO_ARGS },
  { name: 'test_tool_with_progress', description: 'Reports progress 0, 50, 100 of 100.', inputSchema: NO_ARGS },
  {
    name: 'test_sampling',
    description: 'Asks the client to sample an LLM.',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] },
  },
  {
    name: 'test_elicitation',
    description: 'Asks the client for user input.',
    inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
  },
  { name: 'test_elicitation_sep1034_defaults', description: 'Elicitation with defaults (SEP-1034).', inputSchema: NO_ARGS },
  { name: 'test_elicitation_sep1330_enums', description: 'Elicitation with enum schemas (SEP-1330).', inputSchema: NO_ARGS },
  {
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    // The 2026-07-28 scenario's schema (composition, conditionals, $anchor), a superset of 0.1.16's.
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: {
        name: { type: 'string' },
        address: { $ref: '#/$defs/address' },
        contactMethod: { type: 'string', enum: ['phone', 'email'] },
        phone: { type: 'string' },
        email: { type: 'string' },
      },
      allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
      if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
      then: { required: ['phone'] },
      else: { required: ['email'] },
      additionalProperties: false,
    },
  },
  { name: 'test_reconnection', description: 'Closes its SSE stream mid-call; the result comes after the client reconnects.', inputSchema: NO_ARGS },
  // The fixtures of the tasks extension scenarios (0.2.0-alpha.12, tasks-*). Task support is
  // declared the 2025-11-25 way, `execution.taskSupport`, which is how the broker learns which
  // tools its 2026-07-28 clients get as tasks.
  { name: 'greet', description: 'Says hello (never a task).', inputSchema: { type: 'object', properties: { name: { type: 'string' } } } },
  {
    name: 'slow_compute',
    description: 'Sleeps `seconds` seconds (cancellable), then answers.',
    inputSchema: { type: 'object', properties: { seconds: { type: 'number' }, label: { type: 'string' } } },
    execution: { taskSupport: 'optional' },
  },
  { name: 'failing_job', description: 'Answers with a tool error after about 1 s.', inputSchema: NO_ARGS, execution: { taskSupport: 'required' } },
  { name: 'protocol_error_job', description: 'Fails with a JSON-RPC error.', inputSchema: NO_ARGS, execution: { taskSupport: 'required' } },
  // Diagnostic tools of the 2026-07-28 `server-stateless` scenario.
  { name: 'test_logging_tool', description: 'Sends an info log message, then answers.', inputSchema: NO_ARGS },
  { name: 'test_trigger_tool_change', description: 'Adds or removes a tool, and says the tool list changed.', inputSchema: NO_ARGS },
  { name: 'test_trigger_prompt_change', description: 'Adds or removes a prompt, and says the prompt list changed.', inputSchema: NO_ARGS },
];
const DYNAMIC_TOOL: Tool = { name: 'test_dynamic_tool', description: 'Listed only while toggled on.', inputSchema: NO_ARGS };
const DYNAMIC_PROMPT = { name: 'test_dynamic_prompt', description: 'Listed only while toggled on.' };

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

export class ConformanceServer {
  private http: HttpServer | undefined;
  private readonly servers = new Set<Server>();
  private dynamicTool = false;
  private dynamicPrompt = false;
  private readonly watchers = new Map<Server, Set<string>>();
  // An event store, so a client whose SSE stream drops can resume (the sse-retry scenarios).
  private readonly sessions = new McpSessions(
    async (transport) => {
      const server = this.build();
      this.servers.add(server);
      await server.connect(transport);
      return () => {
        this.servers.delete(server);
        this.watchers.delete(server);
      };
    },
    { eventStore: new InMemoryEventStore(), retryInterval: 200 },
  );
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async start(port = 0): Promise<void> {
    this.http = createServer((req, res) => {
      if (req.url !== '/mcp') {
        res.writeHead(404).end();
        return;
      }
      this.sessions.route(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve) => this.http!.listen(port, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await this.sessions.closeAll();
    const http = this.http;
    this.http = undefined;
    if (!http) return;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  /** Sends notifications/resources/updated for a URI to every session that subscribed to it. */
  async touch(uri: string): Promise<number> {
    let sent = 0;
    for (const [server, uris] of this.watchers) {
      if (!uris.has(uri)) continue;
      await server.sendResourceUpdated({ uri }).catch(() => undefined);
      sent++;
    }
    return sent;
  }

  /** Sends a log message on every session's own stream (not tied to a request). */
  async broadcastLog(level: 'info' | 'debug' | 'error', data: string): Promise<void> {
    for (const server of this.servers) await server.sendLoggingMessage({ level, logger: 'conformance-fixture', data }).catch(() => undefined);
  }

  subscriptions(): string[] {
    return [...this.watchers.values()].flatMap((s) => [...s]);
  }

  private build(): Server {
    const server = new Server(
      { name: 'switchyard-conformance-fixture', version: '1.0.0' },
      {
        capabilities: {
          tools: {},
          resources: { subscribe: true, listChanged: true },
          prompts: { listChanged: true },
          completions: {},
          logging: {},
        },
      },
    );
    const watched = new Set<string>();
    this.watchers.set(server, watched);
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: this.dynamicTool ? [...TOOLS, DYNAMIC_TOOL] : TOOLS }));
    server.setRequestHandler(CallToolRequestSchema, (request, extra) => this.callTool(request.params.name, request.params.arguments ?? {}, extra));

    server.setRequestHandler(ListResourcesRequestSchema, () => ({
      resources: [
        { uri: 'test://static-text', name: 'static-text', description: 'A static text resource.', mimeType: 'text/plain' },
        { uri: 'test://static-binary', name: 'static-binary', description: 'A static PNG.', mimeType: 'image/png' },
        { uri: 'test://watched-resource', name: 'watched-resource', description: 'A resource to subscribe to.', mimeType: 'text/plain' },
      ],
    }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
      resourceTemplates: [{ uriTemplate: 'test://template/{id}/data', name: 'template-data', description: 'Data for an id.', mimeType: 'application/json' }],
    }));
    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
      const { uri } = request.params;
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'debug', logger: 'conformance-fixture', data: `read ${uri}` } });
      if (uri === 'test://static-text') return { contents: [{ uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] };
      if (uri === 'test://static-binary') return { contents: [{ uri, mimeType: 'image/png', blob: RED_PIXEL_PNG }] };
      if (uri === 'test://watched-resource') return { contents: [{ uri, mimeType: 'text/plain', text: 'Watched resource content.' }] };
      const match = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
      if (match) {
        const id = decodeURIComponent(match[1]!);
        return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] };
      }
      throw new McpError(-32002, `Resource not found: ${uri}`, { uri });
    });
    server.setRequestHandler(SubscribeRequestSchema, (request) => {
      watched.add(request.params.uri);
      return {};
    });
    server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
      watched.delete(request.params.uri);
      return {};
    });

    server.setRequestHandler(ListPromptsRequestSchema, () => ({
      prompts: [
        ...(this.dynamicPrompt ? [DYNAMIC_PROMPT] : []),
        { name: 'test_simple_prompt', description: 'A prompt without arguments.' },
        {
          name: 'test_prompt_with_arguments',
          description: 'A prompt with two arguments.',
          arguments: [
            { name: 'arg1', description: 'First argument', required: true },
            { name: 'arg2', description: 'Second argument', required: true },
          ],
        },
        {
          name: 'test_prompt_with_embedded_resource',
          description: 'A prompt that embeds a resource.',
          arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
        },
        { name: 'test_prompt_with_image', description: 'A prompt with an image.' },
      ],
    }));
    server.setRequestHandler(GetPromptRequestSchema, (request) => {
      const args = request.params.arguments ?? {};
      switch (request.params.name) {
        case 'test_simple_prompt':
          return { messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }] };
        case 'test_prompt_with_arguments':
          return { messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` } }] };
        case 'test_prompt_with_embedded_resource':
          return {
            messages: [
              { role: 'user', content: { type: 'resource', resource: { uri: args.resourceUri ?? 'test://example-resource', mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
              { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
            ],
          };
        case 'test_prompt_with_image':
          return {
            messages: [
              { role: 'user', content: { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' } },
              { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
            ],
          };
        default:
          throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
      }
    });
    server.setRequestHandler(CompleteRequestSchema, (request) => {
      const { ref, argument } = request.params;
      const pool =
        ref.type === 'ref/prompt' && ref.name === 'test_prompt_with_arguments'
          ? ['paris', 'park', 'party', 'test-one', 'test-two']
          : ref.type === 'ref/resource' && ref.uri === 'test://template/{id}/data' && argument.name === 'id'
            ? ['123', '124', '200']
            : [];
      const values = pool.filter((v) => v.startsWith(argument.value));
      return { completion: { values, total: values.length, hasMore: false } };
    });
    return server;
  }

  private async callTool(name: string, args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
    const log = (data: string) => extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'conformance-fixture', data } });
    switch (name) {
      case 'test_simple_text':
        return text('This is a simple text response for testing.');
      case 'test_image_content':
        return { content: [{ type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' }] };
      case 'test_audio_content':
        return { content: [{ type: 'audio', data: SHORT_WAV, mimeType: 'audio/wav' }] };
      case 'test_embedded_resource':
        return { content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] };
      case 'test_multiple_content_types':
        return {
          content: [
            { type: 'text', text: 'Multiple content types test:' },
            { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
            { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } },
          ],
        };
      case 'test_tool_with_logging':
        await log('Tool execution started');
        await sleep(50);
        await log('Tool processing data');
        await sleep(50);
        await log('Tool execution completed');
        return text('Tool with logging executed successfully');
      case 'test_error_handling':
        return { content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }], isError: true };
      case 'test_tool_with_progress': {
        const token = extra._meta?.progressToken;
        for (const progress of [0, 50, 100]) {
          if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: 100 } });
          if (progress < 100) await sleep(50);
        }
        return text('Tool with progress executed successfully');
      }
      case 'test_sampling':
        return this.askClient(() =>
          extra.sendRequest(
            { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt ?? '') } }], maxTokens: 100 } },
            CreateMessageResultSchema,
          ),
        );
      case 'test_elicitation':
        return this.askClient(() =>
          extra.sendRequest(
            {
              method: 'elicitation/create',
              params: {
                message: String(args.message ?? ''),
                requestedSchema: {
                  type: 'object',
                  properties: { username: { type: 'string', description: "User's response" }, email: { type: 'string', description: "User's email address" } },
                  required: ['username', 'email'],
                },
              },
            },
            ElicitResultSchema,
          ),
        );
      case 'test_elicitation_sep1034_defaults':
        return this.askClient(() =>
          extra.sendRequest(
            {
              method: 'elicitation/create',
              params: {
                message: 'Please review the defaults',
                requestedSchema: {
                  type: 'object',
                  properties: {
                    name: { type: 'string', default: 'John Doe' },
                    age: { type: 'integer', default: 30 },
                    score: { type: 'number', default: 95.5 },
                    status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
                    verified: { type: 'boolean', default: true },
                  },
                },
              },
            },
            ElicitResultSchema,
          ),
        );
      case 'test_elicitation_sep1330_enums':
        return this.askClient(() =>
          extra.sendRequest(
            {
              method: 'elicitation/create',
              params: {
                message: 'Pick options',
                requestedSchema: {
                  type: 'object',
                  properties: {
                    untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
                    titledSingle: { type: 'string', oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }] },
                    legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
                    untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
                    titledMulti: { type: 'array', items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }] } },
                  },
                },
              },
            } as never,
            ElicitResultSchema,
          ),
        );
      case 'json_schema_2020_12_tool':
        return text(`Hello ${String(args.name ?? 'nobody')}`);
      case 'test_reconnection':
        // Ends the response stream (the client reconnects with Last-Event-ID after the retry
        // interval) and answers afterwards: the result is replayed on the resumed stream.
        extra.closeSSEStream?.();
        await sleep(300);
        return text('Reconnection test completed successfully');
      case 'test_logging_tool':
        await log('test_logging_tool ran');
        return text('Logged one message');
      case 'test_dynamic_tool':
        return text('The dynamic tool answered');
      case 'test_trigger_tool_change':
        this.dynamicTool = !this.dynamicTool;
        for (const server of this.servers) await server.sendToolListChanged().catch(() => undefined);
        return text(`test_dynamic_tool is now ${this.dynamicTool ? 'listed' : 'gone'}`);
      case 'test_trigger_prompt_change':
        this.dynamicPrompt = !this.dynamicPrompt;
        for (const server of this.servers) await server.sendPromptListChanged().catch(() => undefined);
        return text(`test_dynamic_prompt is now ${this.dynamicPrompt ? 'listed' : 'gone'}`);
      case 'greet':
        return text(`Hello, ${String(args.name ?? 'world')}!`);
      case 'slow_compute': {
        const seconds = typeof args.seconds === 'number' ? args.seconds : 1;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, seconds * 1000);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new McpError(ErrorCode.RequestTimeout, 'cancelled'));
          });
        });
        return text(`Computed ${String(args.label ?? 'result')} after ${seconds} s`);
      }
      case 'failing_job':
        await sleep(1_000);
        return { content: [{ type: 'text', text: 'The job failed.' }], isError: true };
      case 'protocol_error_job':
        throw new McpError(ErrorCode.InternalError, 'The job broke.');
      default:
        throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    }
  }

  /** Sampling and elicitation: a client that cannot do them gets a tool error, as the scenarios ask. */
  private async askClient(ask: () => Promise<unknown>): Promise<CallToolResult> {
    try {
      return text(`Client response: ${JSON.stringify(await ask())}`);
    } catch (error) {
      return { content: [{ type: 'text', text: `The client could not answer: ${error instanceof Error ? error.message : String(error)}` }], isError: true };
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = new ConformanceServer();
  await server.start(Number(process.argv[2] ?? 0));
  console.log(server.url);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
