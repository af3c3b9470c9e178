#!/usr/bin/env node
// Runs the compiled CLI (npm run build). From a source checkout without a build, use `npm start`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('switchyard: not built yet; run `npm run build` (or `npm start`) first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exit(await main(process.argv.slice(2), process.env));
