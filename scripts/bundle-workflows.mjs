// Bundles the workflow code once at build time, so workers start without webpack.
// Usage: node scripts/bundle-workflows.mjs [entry] [out]
// Without arguments it also writes dist/workflow-bundle-encrypted.js: the same code with the failure
// converter that puts failure messages into (encrypted) payloads, for workers with `encryption`.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../dist/observability/workflow-interceptors.js';

const entry = resolve(process.argv[2] ?? 'dist/workflows/index.js');
const out = resolve(process.argv[3] ?? 'dist/workflow-bundle.js');
// The OpenTelemetry workflow interceptor is always in the bundle (see observability/workflow-interceptors.ts).
const logger = { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} };
const options = { workflowsPath: entry, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger };
const { code } = await bundleWorkflowCode(options);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, code);
console.log(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB)`);
if (process.argv[2] === undefined) {
  const encrypted = await bundleWorkflowCode({ ...options, failureConverterPath: resolve('dist/temporal/failure-converter.js') });
  writeFileSync(resolve('dist/workflow-bundle-encrypted.js'), encrypted.code);
  console.log(`workflow bundle: dist/workflow-bundle-encrypted.js (${Math.round(encrypted.code.length / 1024)} KiB)`);
}
// The worker re-runs every bundled module's top level for each new workflow (one per tool call),
// so a heavy library there costs every call: zod, pulled in by a value import of a module that
// defines schemas, added about 7 ms of worker CPU per call (docs/performance.md). Import types
// only from such modules, or move the constant to a module without schemas.
const heavy = ['zod', 'yaml', '@modelcontextprotocol/sdk', 'hono'].filter((name) => code.includes(`node_modules/${name}/`));
if (heavy.length > 0) console.warn(`workflow bundle: warning: it contains ${heavy.join(', ')}; every workflow pays for its module initialisation (see docs/performance.md)`);
