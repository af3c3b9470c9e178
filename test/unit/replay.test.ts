// Replays histories recorded from real runs (test/histories, made by `npm run record-histories`)
// against today's workflow code. A change that breaks determinism for in-flight calls fails here
// before it reaches a cluster. The last case proves the check can fail. With encryption on, the
// same histories replay encrypted through the codec (src/temporal/codec.ts), and not without the key.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { visit, walkGetWorkflowExecutionHistoryResponse } from '@temporalio/common/lib/internal-non-workflow/payload-visitor.js';
import type { Payload } from '@temporalio/common';
import { DeterminismViolationError } from '@temporalio/workflow';
import { ReplayError } from '@temporalio/worker';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/observability/workflow-interceptors.js';
import { dataConverterFor, failureConverterPath } from '../../src/temporal/data-converter.js';
import { AesGcmCodec } from '../../src/temporal/codec.js';

const HISTORIES = resolve(import.meta.dirname, '..', 'histories');
const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function load(name: string) {
  return { workflowId: name, history: historyFromJSON(JSON.parse(readFileSync(join(HISTORIES, name), 'utf8'))) };
}

describe('workflow replay', { timeout: 120_000 }, () => {
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json')).sort();
  let current: WorkflowBundle;
  let incompatible: WorkflowBundle;
  let encrypted: WorkflowBundle;
  const workflowsPath = resolve(import.meta.dirname, '..', '..', 'src', 'workflows', 'index.ts');

  before(async () => {
    // As workers bundle it: with the OpenTelemetry workflow interceptor, which must not change
    // what histories recorded without it (or with it) replay to.
    current = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger: silent });
    // What a worker with `encryption` runs (dist/workflow-bundle-encrypted.js).
    encrypted = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, failureConverterPath: failureConverterPath(), logger: silent });
    incompatible = await bundleWorkflowCode({ workflowsPath: resolve(import.meta.dirname, '..', 'fixtures', 'incompatible-workflows.ts'), logger: silent });
  });

  it('has recorded histories of every call shape, of a lane, of key workflows (batched local calls and audit exports among them) and shard workflows, of a redriven dead letter and of sagas', () => {
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
      'key-calls-batched',
      'key-calls-audited',
      'key-first-task',
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

  const keys = { keys: [{ id: 'replay-k1', key: Buffer.alloc(32, 0x5a).toString('base64') }], currentKeyId: 'replay-k1' };

  /** A recorded history as an encrypting deployment would have written it (search attributes and headers stay clear, as the SDK leaves them). */
  async function encryptedHistory(name: string) {
    const { workflowId, history } = load(name);
    const codec = new AesGcmCodec([{ id: 'replay-k1', key: Buffer.from(keys.keys[0]!.key, 'base64') }], 'replay-k1');
    // Markers carry the SDK core's own data (local activity and patch records) next to the
    // workflow's payloads; only a local activity's `result` goes through the codec.
    const markers = (history.events ?? []).flatMap((e) => (e.markerRecordedEventAttributes?.details ? [e.markerRecordedEventAttributes.details] : []));
    const coreOwned = markers.map((details) => structuredClone(Object.fromEntries(Object.entries(details).filter(([key]) => key !== 'result'))));
    await visit({ history }, walkGetWorkflowExecutionHistoryResponse, {
      transformPayload: async (payload: Payload) => (await codec.encode([payload]))[0]!,
      transformPayloads: (payloads: Payload[]) => codec.encode(payloads),
      skipSearchAttributes: true,
      skipHeaders: true,
    });
    markers.forEach((details, i) => Object.assign(details, coreOwned[i]));
    return { workflowId, history };
  }

  it('replays every recorded history encrypted, through the codec of the encryption config', async () => {
    const histories = await Promise.all(files.map(encryptedHistory));
    const sample = JSON.stringify(histories[0]!.history.events![0]);
    assert.ok(!sample.includes('json/plain'), 'the history was not encrypted');
    const results = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: encrypted, replayName: 'encrypted', dataConverter: dataConverterFor(keys) }, histories)) results.push(result);
    assert.equal(results.length, files.length);
    for (const result of results) assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
  });

  it('fails to replay an encrypted history without its key', async () => {
    const { history } = await encryptedHistory('call-completed.json');
    const other = { keys: [{ id: 'replay-k2', key: Buffer.alloc(32, 0x6b).toString('base64') }], currentKeyId: 'replay-k2' };
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: encrypted, replayName: 'wrong-key', dataConverter: dataConverterFor(other) }, history),
      // The activation fails on the codec (the worker logs the PayloadDecryptionError naming the
      // key); the failure it reports is itself encoded, so its text is not in the error.
      (error: unknown) => error instanceof ReplayError && /workflow task failure/.test(error.message),
    );
  });
});
