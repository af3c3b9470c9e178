// The zero-config demo: server-everything (a dependency) over stdio, with get-env denied because
// it prints the server's environment.
import { createRequire } from 'node:module';

export function everythingServerEntry(): string {
  const require = createRequire(import.meta.url);
  return require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
}

export function demoConfig(): Record<string, unknown> {
  return {
    servers: [
      {
        id: 'everything',
        transport: 'stdio',
        command: process.execPath,
        args: [everythingServerEntry(), 'stdio'],
        tools: { deny: ['get-env'] },
      },
    ],
  };
}
