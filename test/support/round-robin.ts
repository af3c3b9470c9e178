// A round-robin HTTP proxy in front of several gateways, as a load balancer without sticky
// sessions would be: each request goes to the next gateway in turn, and a gateway that refuses
// the connection (dead) is skipped. It streams request and response bodies, so an SSE response
// is cut when the gateway behind it dies, as a client would see it.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class RoundRobinProxy {
  private server: Server | undefined;
  private next = 0;
  /** Where each request went, in order of dispatch: the upstream's index in `upstreams`. */
  readonly routed: Array<{ upstream: number; method: string | undefined }> = [];

  constructor(private readonly upstreams: string[]) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/mcp`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.forward(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.headers['mcp-method'];
    for (let tried = 0; tried < this.upstreams.length; tried++) {
      const index = this.next++ % this.upstreams.length;
      const target = new URL(this.upstreams[index]!);
      const route = { upstream: index, method: Array.isArray(method) ? method[0] : method };
      this.routed.push(route);
      const sent = await new Promise<boolean>((resolve) => {
        const upstream = httpRequest(
          { host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: { ...req.headers, host: target.host } },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            // The gateway died mid-response: cut the client's stream too.
            answer.once('error', () => res.destroy());
            answer.once('aborted', () => res.destroy());
            resolve(true);
          },
        );
        upstream.once('error', (error: NodeJS.ErrnoException) => {
          if (!res.headersSent && error.code === 'ECONNREFUSED') {
            this.routed.splice(this.routed.indexOf(route), 1);
            resolve(false);
          }
          else {
            res.destroy();
            resolve(true);
          }
        });
        upstream.end(body);
      });
      if (sent) return;
    }
    res.writeHead(502).end();
  }
}
