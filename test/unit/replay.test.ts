// Replays histories recorded from real runs (test/histories, made by `npm run record-histories`)
// against today's workflow code. A change that breaks determinism for in-flight calls fails here
// before it reaches a cluster. The last case proves the check can fail.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/observability/workflow-interceptors.js';

const HISTORIES = resolve(import.meta.dirname, '..', 'histories');
const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function load(name: string) {
  return { workflowId: name, history: historyFromJSON(JSON.parse(readFileSync(join(HISTORIES, name), 'utf8'))) };
}

describe('workflow replay', { timeout: 120_000 }, () => {
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json')).sort();
  let current: WorkflowBundle;
  let incompatible: WorkflowBundle;

  before(async () => {
    // As workers bundle it: with the OpenTelemetry workflow interceptor, which must not change
    // what histories recorded without it (or with it) replay to.
    current = await bundleWorkflowCode({ workflowsPath: resolve(import.meta.dirname, '..', '..', 'src', 'workflows', 'index.ts'), workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger: silent });
    incompatible = await bundleWorkflowCode({ workflowsPath: resolve(import.meta.dirname, '..', 'fixtures', 'incompatible-workflows.ts'), logger: silent });
  });

  it('has recorded histories of every call shape, of a lane, of key and shard workflows, of a redriven dead letter and of sagas', () => {
    for (const name of [
      'call-completed',
      'call-tool-error',
      'call-ordered',
      'call-cancelled',
      'call-retried-after-worker-kill',
      'call-transport-failure',
      'call-dead-lettered-halting',
      'dead-letter-redriven',
      'lane',
      'saga-completed',
      'saga-compensated',
      'key-calls',
      'key-calls-continued-as-new',
      'shard-local-calls',
    ]) {
      assert.ok(files.includes(`${name}.json`), `missing test/histories/${name}.json`);
    }
  });

  it('replays every recorded history against the current workflow code', async () => {
    const results = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: current, replayName: 'current' }, files.map(load))) results.push(result);
    assert.equal(results.length, files.length);
    for (const result of results) assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
  });

  it('detects an incompatible workflow change', async () => {
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: incompatible, replayName: 'incompatible' }, load('call-completed.json').history),
      DeterminismViolationError,
    );
  });
});
