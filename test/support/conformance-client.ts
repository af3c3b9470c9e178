// The client command of the conformance CLIENT scenarios (initialize, tools_call, sse-retry; and of
// the 2026-07-28 suite, tools_call and request-metadata). It drives the broker's own downstream
// connection code (src/downstream) with the http default `protocol: auto`, so the scenarios test
// the client the broker uses against every downstream server, of either era, not a separate one.
//
// Usage (the conformance CLI appends the URL and sets MCP_CONFORMANCE_SCENARIO):
//   node --import tsx test/support/conformance-client.ts <server-url>
import { ServerConfigSchema } from '../../src/config/schema.js';
import { DownstreamConnection } from '../../src/downstream/connection.js';
import { createLogger } from '../../src/observability/log.js';

const url = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? 'initialize';
if (url === undefined || !/^https?:\/\//.test(url)) {
  console.error('usage: conformance-client.ts <server-url>');
  process.exit(2);
}

const config = ServerConfigSchema.parse({ id: 'conformance', transport: 'http', url, timeoutMs: 10_000 });
const connection = new DownstreamConnection(config, createLogger('warn', 'conformance-client'), {
  initialMs: 250,
  maxMs: 1_000,
  healthCheckMs: 60_000,
  connectTimeoutMs: 10_000,
});

async function run(): Promise<void> {
  await connection.start();
  const status = connection.status();
  if (status.state !== 'ready') throw new Error(`could not connect: ${status.lastError ?? status.state}`);
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await connection.callTool(name, args, { timeoutMs: 10_000 });
    console.log(`${name}: ${JSON.stringify(result.content)}`);
  };
  switch (scenario) {
    case 'initialize':
    case 'request-metadata':
      // Connecting is the scenario: the era probe, initialize (2025) or the discover result
      // (2026-07-28), and the broker's tools/list, each request with its version and _meta.
      break;
    case 'tools_call':
      for (const tool of connection.listTools()) if (tool.name === 'add_numbers') await call('add_numbers', { a: 5, b: 3 });
      break;
    case 'sse-retry':
      // The server closes the call's stream after a priming event; the SDK transport must wait
      // `retry` ms and resume with GET + Last-Event-ID, where the result arrives.
      await call('test_reconnection', {});
      break;
    default:
      throw new Error(`no behaviour for scenario ${scenario}`);
  }
}

try {
  await run();
  await connection.close();
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  await connection.close();
  process.exit(1);
}
