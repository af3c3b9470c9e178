// A 2026-07-28 downstream server with the fixtures of the conformance suite's input scenarios
// (input-required-result-*, tasks-mrtr-*, server-stateless's capability tools) and a tool with an
// `x-mcp-header` argument (http-custom-header-server-validation). The 2026-07-28
// conformance run puts it behind the broker beside conformance-server.ts, unprefixed: each
// scenario passes only if the broker relays the server's input requests to the suite's client and
// its answers back, through the durable call. Every tool is stateless: the answers come back in
// `inputResponses`, the server's own state in `requestState` (signed here, as the spec asks).
//
// Run alone: node --import tsx test/support/conformance-modern-server.ts [port]   (prints its URL)
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import {
  CLIENT_CAPABILITIES_META_KEY,
  createMcpHandler,
  createRequestStateCodec,
  inputRequired,
  ProtocolError,
  Server,
  type McpHttpHandler,
  type ServerContext,
} from '@modelcontextprotocol/server';

const NO_ARGS = { type: 'object' as const, properties: {} };

const TOOLS = [
  { name: 'test_input_required_result_elicitation', description: 'Asks for a name (elicitation), then greets.', inputSchema: NO_ARGS },
  { name: 'test_input_required_result_sampling', description: 'Asks the client model a question (sampling).', inputSchema: NO_ARGS },
  { name: 'test_input_required_result_list_roots', description: 'Asks for the client roots.', inputSchema: NO_ARGS },
  { name: 'test_input_required_result_request_state', description: 'Asks for a confirmation, with a signed requestState.', inputSchema: NO_ARGS },
  { name: 'test_input_required_result_multiple_inputs', description: 'Asks for three inputs at once.', inputSchema: NO_ARGS },
  { name: 'test_input_required_result_multi_round', description: 'Asks twice, one round after the other.', inputSchema: NO_ARGS },
  { name: 'test_input_required_result_tampered_state', description: 'Asks with a signed requestState.', inputSchema: NO_ARGS },
  { name: 'test_input_required_result_capabilities', description: 'Asks only for what the client declared.', inputSchema: NO_ARGS },
  { name: 'test_missing_capability', description: 'Needs sampling: -32021 when the client did not declare it.', inputSchema: NO_ARGS },
  { name: 'test_streaming_elicitation', description: 'Asks for a name through an input-required result.', inputSchema: NO_ARGS },
  { name: 'confirm_delete', description: 'Asks to confirm, then deletes (nothing).', inputSchema: { type: 'object' as const, properties: { filename: { type: 'string' } } }, execution: { taskSupport: 'optional' as const } },
  { name: 'multi_input', description: 'Asks two questions at once.', inputSchema: NO_ARGS, execution: { taskSupport: 'optional' as const } },
  { name: 'test_tool_with_task', description: 'Asks for a name, then runs as a task.', inputSchema: NO_ARGS, execution: { taskSupport: 'required' as const } },
  {
    name: 'test_custom_header',
    description: 'Its region argument is mirrored into the Mcp-Param-Region header (SEP-2243).',
    inputSchema: { type: 'object' as const, properties: { region: { type: 'string', 'x-mcp-header': 'Region' } }, required: ['region'] },
  },
];

const nameRequest = (message: string) => ({
  method: 'elicitation/create',
  params: { message, requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
});
const confirmRequest = (message: string, field: string) => ({
  method: 'elicitation/create',
  params: { message, requestedSchema: { type: 'object', properties: { [field]: { type: 'boolean' } }, required: [field] } },
});
const samplingRequest = (text: string, maxTokens: number) => ({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text } }], maxTokens } });
const ROOTS_REQUEST = { method: 'roots/list', params: {} };

type Responses = Record<string, unknown> | undefined;
const content = (responses: Responses, key: string) => (responses?.[key] as { content?: Record<string, unknown> } | undefined)?.content;
const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

export class ConformanceModernServer {
  private http: HttpServer | undefined;
  private handler: McpHttpHandler | undefined;
  private port = 0;
  private readonly states = createRequestStateCodec<{ round: number }>({ key: randomBytes(32) });

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async start(port = 0): Promise<void> {
    this.handler = createMcpHandler(() => this.build(), { legacy: 'reject' });
    const handler = this.handler;
    this.http = createServer(getRequestListener((request) => (new URL(request.url).pathname === '/mcp' ? handler.fetch(request) : new Response(null, { status: 404 }))));
    await new Promise<void>((resolve) => this.http!.listen(port, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await this.handler?.close().catch(() => undefined);
    this.http?.closeAllConnections();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
  }

  private build(): Server {
    const server = new Server(
      { name: 'switchyard-conformance-modern-fixture', version: '1.0.0' },
      { capabilities: { tools: {}, prompts: {} }, requestState: { verify: (state, ctx) => this.states.verify(state, ctx) } },
    );
    server.setRequestHandler('tools/list', () => ({ tools: TOOLS }) as never);
    server.setRequestHandler('tools/call', (request, ctx) => this.call(request.params.name, (request.params.arguments ?? {}) as Record<string, unknown>, ctx) as never);
    server.setRequestHandler('prompts/list', () => ({ prompts: [{ name: 'test_input_required_result_prompt', description: 'A prompt that asks for context first.' }] }));
    server.setRequestHandler('prompts/get', (_request, ctx) => {
      const context = content(ctx.mcpReq.inputResponses, 'user_context')?.context;
      if (typeof context !== 'string') return inputRequired({ inputRequests: { user_context: { method: 'elicitation/create', params: { message: 'What context should the prompt use?', requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] } } } as never } }) as never;
      return { messages: [{ role: 'user', content: { type: 'text', text: `Use this context: ${context}` } }] } as never;
    });
    return server;
  }

  private async call(name: string, args: Record<string, unknown>, ctx: ServerContext): Promise<unknown> {
    const responses = ctx.mcpReq.inputResponses;
    const round = ctx.mcpReq.requestState<{ round: number }>()?.round;
    const ask = (requests: Record<string, unknown>) => inputRequired({ inputRequests: requests as never });
    const askWithState = async (requests: Record<string, unknown>, next: number) => inputRequired({ inputRequests: requests as never, requestState: await this.states.mint({ round: next }) });
    const capabilities = ((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] ?? {}) as Record<string, unknown>;
    switch (name) {
      case 'test_input_required_result_elicitation':
      case 'test_streaming_elicitation': {
        const user = content(responses, 'user_name')?.name;
        return typeof user === 'string' ? text(`Hello, ${user}!`) : ask({ user_name: nameRequest('What is your name?') });
      }
      case 'test_input_required_result_sampling': {
        const answer = responses?.capital_question as { content?: { text?: string } } | undefined;
        return answer !== undefined ? text(`The model said: ${answer.content?.text ?? ''}`) : ask({ capital_question: samplingRequest('What is the capital of France?', 100) });
      }
      case 'test_input_required_result_list_roots': {
        const roots = (responses?.client_roots as { roots?: Array<{ uri: string }> } | undefined)?.roots;
        return roots !== undefined ? text(`Roots: ${roots.map((r) => r.uri).join(', ')}`) : ask({ client_roots: ROOTS_REQUEST });
      }
      case 'test_input_required_result_request_state':
        return round === 1 && responses?.confirm !== undefined ? text('state-ok: confirmed') : askWithState({ confirm: confirmRequest('Please confirm', 'ok') }, 1);
      case 'test_input_required_result_tampered_state':
        return round === 1 ? text('state-ok') : askWithState({ confirm: confirmRequest('Please confirm', 'ok') }, 1);
      case 'test_input_required_result_multiple_inputs': {
        const all = ['user_name', 'greeting', 'client_roots'].every((key) => responses?.[key] !== undefined);
        return round === 1 && all ? text('all three inputs received') : askWithState({ user_name: nameRequest('What is your name?'), greeting: samplingRequest('Generate a greeting', 50), client_roots: ROOTS_REQUEST }, 1);
      }
      case 'test_input_required_result_multi_round': {
        if (round === 2 && responses?.step2 !== undefined) return text(`Done: ${String(content(responses, 'step2')?.color ?? '')}`);
        if (round === 1 && responses?.step1 !== undefined) {
          return askWithState({ step2: { method: 'elicitation/create', params: { message: 'Step 2: What is your favorite color?', requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] } } } }, 2);
        }
        return askWithState({ step1: nameRequest('Step 1: What is your name?') }, 1);
      }
      case 'test_input_required_result_capabilities': {
        const requests: Record<string, unknown> = {};
        if (capabilities.elicitation !== undefined) requests.user_name = nameRequest('What is your name?');
        if (capabilities.sampling !== undefined) requests.question = samplingRequest('Say hello', 20);
        if (responses !== undefined && Object.keys(responses).length > 0) return text('thanks');
        return Object.keys(requests).length > 0 ? ask(requests) : text('nothing to ask: the client declared no input capability');
      }
      case 'test_missing_capability':
        if (capabilities.sampling === undefined) throw new ProtocolError(-32021, 'Missing required client capability: sampling', { requiredCapabilities: { sampling: {} } });
        return responses?.question !== undefined ? text('thanks') : ask({ question: samplingRequest('Say hello', 20) });
      case 'confirm_delete':
        return content(responses, 'confirm') !== undefined ? text(`Deleted ${String(args.filename ?? 'the file')}`) : ask({ confirm: confirmRequest(`Delete ${String(args.filename ?? 'the file')}?`, 'confirm') });
      case 'multi_input':
        return responses?.first !== undefined && responses?.second !== undefined ? text('both answered') : ask({ first: nameRequest('First question'), second: nameRequest('Second question') });
      case 'test_tool_with_task': {
        const user = content(responses, 'user_name')?.name;
        return typeof user === 'string' ? text(`Hello, ${user}! (finished as a task)`) : ask({ user_name: nameRequest('What is your name?') });
      }
      case 'test_custom_header':
        return text(`region: ${String(args.region)}`);
      default:
        throw new ProtocolError(-32602, `Unknown tool: ${name}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = new ConformanceModernServer();
  await server.start(Number(process.argv[2] ?? 0));
  process.stdout.write(`${server.url}\n`);
}
