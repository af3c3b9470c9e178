// All downstream servers of one process (gateway or worker), by id. The gateway reads tool lists
// from it; the worker's activities call tools through it.
import { EventEmitter } from 'node:events';
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { DownstreamConnection, type BackoffOptions, type ConnectionStatus } from './connection.js';
import { DownstreamCredentials } from './credentials.js';

export class DownstreamPool extends EventEmitter<{ change: [] }> {
  private readonly connections = new Map<string, DownstreamConnection>();

  constructor(
    servers: ServerConfig[],
    log: Logger,
    backoff?: BackoffOptions,
    /** Per-caller credentials (config `servers[].credentials`); default: none but the static headers. */
    readonly credentials: DownstreamCredentials = new DownstreamCredentials(),
  ) {
    super();
    for (const server of servers) {
      const connection = new DownstreamConnection(server, log.child(server.id), backoff, credentials);
      connection.on('change', () => this.emit('change'));
      this.connections.set(server.id, connection);
    }
  }

  /** Connects every server in parallel; servers that are down keep retrying in the background. */
  async start(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.start()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.close()));
  }

  get(id: string): DownstreamConnection | undefined {
    return this.connections.get(id);
  }

  all(): DownstreamConnection[] {
    return [...this.connections.values()];
  }

  status(): ConnectionStatus[] {
    return this.all().map((c) => c.status());
  }
}
