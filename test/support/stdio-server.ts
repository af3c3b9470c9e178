// A small MCP server over stdio for the isolation tests: tools that log while they run (a stdio
// server's log messages cannot be tied to a request), one that logs after it answered (a
// server-wide message), and one that prints a secret to stderr and exits; and a prompt that
// answers only after a delay, for the pass-through's timeout.
//
// Run: node --import tsx test/support/stdio-server.ts   (cwd must be the repository root)
// Environment:
//   STDIO_SECRET       the text the crashing paths print to stderr (default "stderr-secret")
//   STDIO_CRASH_FILE   if this file exists at start, print the secret to stderr and exit 1 at once;
//                      the `crash` tool creates it, so the server stays down after crashing
import { existsSync, writeFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const secret = process.env.STDIO_SECRET ?? 'stderr-secret';
const crashFile = process.env.STDIO_CRASH_FILE;

function crash(): never {
  process.stderr.write(`fatal: cannot open database: password=${secret}\n`);
  process.exit(1);
}

if (crashFile !== undefined && existsSync(crashFile)) crash();

const server = new McpServer({ name: 'stdio-fixture', version: '1.0.0' }, { capabilities: { logging: {} } });

server.registerTool('echo', { inputSchema: { message: z.string() } }, ({ message }) => ({ content: [{ type: 'text', text: message }] }));

server.registerTool('chatty', { inputSchema: { tag: z.string() } }, async ({ tag }, extra) => {
  for (const step of ['started', 'working', 'done']) {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'stdio-fixture', data: `call ${tag} ${step}` } });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { content: [{ type: 'text', text: `chatty ${tag}` }] };
});

server.registerTool('announce', { inputSchema: { text: z.string(), delayMs: z.number().int().min(0) } }, ({ text, delayMs }) => {
  // After the answer: nothing is in flight when it arrives, so it is a server-wide message.
  setTimeout(() => void server.server.sendLoggingMessage({ level: 'info', logger: 'stdio-fixture', data: `announce ${text}` }).catch(() => undefined), delayMs);
  return { content: [{ type: 'text', text: 'announced' }] };
});

server.registerPrompt('slow', { argsSchema: { delayMs: z.string() } }, async ({ delayMs }) => {
  await new Promise((resolve) => setTimeout(resolve, Number(delayMs)));
  return { messages: [{ role: 'user', content: { type: 'text', text: `slow after ${delayMs} ms` } }] };
});

server.registerTool('crash', { inputSchema: {} }, () => {
  if (crashFile !== undefined) writeFileSync(crashFile, 'crashed');
  crash();
});

await server.connect(new StdioServerTransport());
