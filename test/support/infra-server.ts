// A stateful MCP server for the saga tests: it keeps "environments" that are provisioned,
// configured and enabled, with an undo tool for each. Two instances share one World so a saga
// spans two downstream servers ("infra": provision, deprovision; "net": configure, unconfigure,
// enable, disable). Faults are injected per tool: an isError answer, or a hang until released.
// Every tool dedupes by correlation id, like an idempotent server should (the broker sends it).
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { McpSessions } from './mcp-sessions.js';

export interface Environment {
  id: string;
  name: string;
  settings: Record<string, string>;
  enabled: boolean;
}

type Args = { id: string; name: string; key: string; value: string };
type Answer = { content: Array<{ type: 'text'; text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

export class World {
  readonly environments = new Map<string, Environment>();
  /** Tools that answer isError (a failed step or a failed undo). */
  readonly failing = new Set<string>();
  /** Tools that wait until `release()` (or cancellation): a stalled server, to kill things mid-call. */
  readonly hanging = new Set<string>();
  /** Per request: true answers isError (e.g. fail `enable` only for some environments). */
  failWhen: ((tool: string, args: Record<string, unknown>) => boolean) | undefined;
  /** Every request that reached a tool, in order. */
  readonly requests: Array<{ tool: string; args: Record<string, unknown>; correlationId?: string }> = [];
  private readonly answered = new Map<string, Answer>();
  private waiters: Array<() => void> = [];
  private nextId = 1;

  /** The state that matters, comparable with deepEqual. */
  snapshot(): Environment[] {
    return [...this.environments.values()].map((e) => ({ ...e, settings: { ...e.settings } })).sort((a, b) => a.id.localeCompare(b.id));
  }

  release(): void {
    this.hanging.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }

  requestsOf(tool: string) {
    return this.requests.filter((r) => r.tool === tool);
  }

  async run(tool: string, args: Record<string, unknown>, correlationId: string | undefined, signal: AbortSignal, apply: () => Answer): Promise<Answer> {
    this.requests.push({ tool, args, ...(correlationId !== undefined ? { correlationId } : {}) });
    const key = correlationId === undefined ? undefined : `${tool}:${correlationId}`;
    if (key !== undefined && this.answered.has(key)) return this.answered.get(key)!;
    if (this.hanging.has(tool)) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        signal.addEventListener('abort', () => resolve());
      });
      if (signal.aborted) return { content: [{ type: 'text', text: 'cancelled' }], isError: true };
    }
    if (this.failing.has(tool) || this.failWhen?.(tool, args) === true) return { content: [{ type: 'text', text: `${tool} failed (injected)` }], isError: true };
    const answer = apply();
    if (key !== undefined) this.answered.set(key, answer);
    return answer;
  }

  newId(): string {
    return `env-${this.nextId++}`;
  }
}

export class InfraServer {
  private http: HttpServer | undefined;
  private readonly sessions = new McpSessions((transport) => this.build().connect(transport));

  constructor(
    readonly world: World,
    private readonly tools: ReadonlyArray<'provision' | 'deprovision' | 'configure' | 'unconfigure' | 'enable' | 'disable'>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.http!.address() as AddressInfo).port}/mcp`;
  }

  async start(): Promise<void> {
    this.http = createServer((req, res) => void this.sessions.route(req, res));
    await new Promise<void>((resolve) => this.http!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await this.sessions.closeAll();
    const http = this.http;
    if (!http) return;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  private build(): McpServer {
    const server = new McpServer({ name: 'infra', version: '1.0.0' });
    const world = this.world;
    const ok = (text: string, structured?: Record<string, unknown>): Answer => ({ content: [{ type: 'text', text }], ...(structured ? { structuredContent: structured } : {}) });
    const missing = (id: string): Answer => ({ content: [{ type: 'text', text: `no environment ${id}` }], isError: true });
    const env = (id: string) => world.environments.get(id);
    const tool = (name: (typeof this.tools)[number], description: string, shape: z.ZodRawShape, apply: (args: Args) => Answer) => {
      if (!this.tools.includes(name)) return;
      server.registerTool(name, { description, inputSchema: shape, annotations: { idempotentHint: true } }, async (args: Record<string, unknown>, extra) =>
        world.run(name, args, extra._meta?.['switchyard/correlation_id'] as string | undefined, extra.signal, () => apply(args as Args)),
      );
    };
    tool('provision', 'Creates an environment; answers with its id.', { name: z.string() }, ({ name }) => {
      const id = world.newId();
      world.environments.set(id, { id, name, settings: {}, enabled: false });
      return ok(`provisioned ${id}`, { id });
    });
    tool('deprovision', 'Deletes an environment.', { id: z.string() }, ({ id }) => (world.environments.delete(id) ? ok(`deleted ${id}`) : missing(id)));
    tool('configure', 'Sets a setting of an environment.', { id: z.string(), key: z.string(), value: z.string() }, ({ id, key, value }) => {
      const e = env(id);
      if (!e) return missing(id);
      e.settings[key] = value;
      return ok(`configured ${id}`);
    });
    tool('unconfigure', 'Removes a setting of an environment.', { id: z.string(), key: z.string() }, ({ id, key }) => {
      const e = env(id);
      if (!e) return missing(id);
      delete e.settings[key];
      return ok(`unconfigured ${id}`);
    });
    tool('enable', 'Enables an environment.', { id: z.string() }, ({ id }) => {
      const e = env(id);
      if (!e) return missing(id);
      e.enabled = true;
      return ok(`enabled ${id}`);
    });
    tool('disable', 'Disables an environment.', { id: z.string() }, ({ id }) => {
      const e = env(id);
      if (!e) return missing(id);
      e.enabled = false;
      return ok(`disabled ${id}`);
    });
    return server;
  }
}

/**
 * The saga tests' downstream: one World behind two servers, "infra" (provision, deprovision) and
 * "net" (configure, unconfigure, enable, disable), with their default compensations for the config.
 */
export class SagaServers {
  readonly world = new World();
  readonly infra = new InfraServer(this.world, ['provision', 'deprovision']);
  readonly net = new InfraServer(this.world, ['configure', 'unconfigure', 'enable', 'disable']);

  async start(): Promise<void> {
    await Promise.all([this.infra.start(), this.net.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.infra.stop(), this.net.stop()]);
  }

  /** `servers[]` entries; the default compensations use templates over the step's arguments and result. */
  config(): Array<Record<string, unknown> & { id: string }> {
    return [
      { id: 'infra', transport: 'http', url: this.infra.url, compensations: { provision: { tool: 'infra.deprovision', arguments: { id: '{{result.structuredContent.id}}' } } } },
      {
        id: 'net',
        transport: 'http',
        url: this.net.url,
        compensations: {
          configure: { tool: 'net.unconfigure', arguments: { id: '{{args.id}}', key: '{{args.key}}' } },
          enable: { tool: 'net.disable', arguments: { id: '{{args.id}}' } },
        },
      },
    ];
  }
}

/** provision → configure → enable as run_saga steps, the later steps using the id the first one returned. */
export function pipeline(name: string) {
  return [
    { step: 'provision', tool: 'infra.provision', arguments: { name } },
    { step: 'configure', tool: 'net.configure', arguments: { id: '{{steps.provision.result.structuredContent.id}}', key: 'tier', value: 'gold' } },
    { step: 'enable', tool: 'net.enable', arguments: { id: '{{steps.provision.result.structuredContent.id}}' } },
  ];
}
