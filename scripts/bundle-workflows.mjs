// Bundles the workflow code once at build time, so workers start without webpack.
// Usage: node scripts/bundle-workflows.mjs [entry] [out]
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const entry = resolve(process.argv[2] ?? 'dist/workflows/index.js');
const out = resolve(process.argv[3] ?? 'dist/workflow-bundle.js');
const { code } = await bundleWorkflowCode({ workflowsPath: entry, logger: { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} } });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, code);
console.log(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB)`);
