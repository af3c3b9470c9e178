// The benchmark's downstream: a minimal MCP server over Streamable HTTP with one cheap tool,
// `echo`. It runs as its own process (`node --import tsx bench/echo-server.ts [port]`) so that
// its CPU is not counted against the load generator, and prints `listening <port>` when ready.
// Stateful sessions, as a real server would have: each MCP client (the bench's direct clients,
// the gateway's and the worker's pools) keeps one session and one keep-alive connection.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { McpSessions } from '../test/support/mcp-sessions.js';

// Plain JSON answers instead of one SSE stream per request: the cheapest path for a server.
const sessions = new McpSessions((transport) => build().connect(transport), { enableJsonResponse: true });

function build(): McpServer {
  const server = new McpServer({ name: 'bench-echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes the message back.', inputSchema: { message: z.string() }, annotations: { readOnlyHint: true } },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );
  return server;
}

const http = createServer((req, res) => {
  if (req.url !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  sessions.route(req, res).catch((error: unknown) => {
    if (!res.headersSent) res.writeHead(500).end(String(error));
  });
});
http.keepAliveTimeout = 60_000;
http.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`);
});
const stop = () => {
  http.closeAllConnections();
  http.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
