// The workflow interceptor modules every workflow bundle includes (the worker's, the prebuilt one
// from `npm run build`, the replay tests'). Always, whether tracing is on or not: a worker with
// tracing on and one with it off must run the same workflow code. With tracing off the spans go
// to a sink that drops them. The module itself: workflows/tracing.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function sibling(name: string): string {
  for (const ext of ['.ts', '.js']) {
    const path = fileURLToPath(new URL(`${name}${ext}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`${name} not found next to ${fileURLToPath(import.meta.url)}`);
}

export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [sibling('../workflows/tracing')];
