// Keeps `npm run bench` from rotting: a tiny run (3 calls, concurrency 1 and 2, every mode,
// Switchyard's and the engine floor's) must produce a result file in the current format, the
// chart, each Switchyard mode's ratio to its engine floor, and history costs that add up for
// shapes whose cost is known exactly. No timing is asserted: this machine is shared and the
// numbers mean nothing at this size.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { costOfHistory } from '../../bench/history.js';
import { ENGINE_MODES, FLOORS, MODES } from '../../bench/modes.js';
import { RESULT_FORMAT, type BenchResult } from '../../bench/report.js';
import { SOAK_FORMAT, type SoakResult } from '../../bench/soak-report.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

describe('bench history costs', () => {
  it('counts actions as Temporal Cloud bills them: signal-with-start once, local activities once per workflow task, each activity attempt', () => {
    // The event kinds the counter reads, in the order a server writes them (the fields are those
    // of temporal.api.history.v1.HistoryEvent).
    const events = [
      { workflowExecutionStartedEventAttributes: {} },
      { workflowExecutionSignaledEventAttributes: { signalName: 'enqueue' } }, // with the start: one action for both
      { workflowTaskScheduledEventAttributes: {} },
      { workflowTaskStartedEventAttributes: {} },
      { workflowTaskCompletedEventAttributes: {} },
      { markerRecordedEventAttributes: { markerName: 'core_local_activity' } },
      { markerRecordedEventAttributes: { markerName: 'core_local_activity' } }, // same task: no extra action
      { timerStartedEventAttributes: {} },
      { activityTaskScheduledEventAttributes: {} },
      { activityTaskStartedEventAttributes: { attempt: 3 } }, // two retries
      { activityTaskCompletedEventAttributes: {} },
      { workflowExecutionSignaledEventAttributes: { signalName: 'release' } },
      { workflowExecutionUpdateAcceptedEventAttributes: {} },
      { workflowTaskScheduledEventAttributes: {} },
      { workflowTaskStartedEventAttributes: {} },
      { workflowTaskCompletedEventAttributes: {} },
      { markerRecordedEventAttributes: { markerName: 'core_local_activity' } }, // a second task with local activities
      { markerRecordedEventAttributes: { markerName: 'core_patch' } }, // not a local activity
      { upsertWorkflowSearchAttributesEventAttributes: {} },
      { startChildWorkflowExecutionInitiatedEventAttributes: {} },
      { workflowExecutionCompletedEventAttributes: {} },
    ];
    const cost = costOfHistory(events);
    assert.deepEqual(cost.byKind, { start: 1, activity: 3, localActivityTasks: 2, signal: 1, update: 1, timer: 1, upsert: 1, child: 2 });
    assert.equal(cost.actions, 12);
    assert.equal(cost.events, events.length);
    assert.equal(cost.updates, 1);
    assert.deepEqual(cost.signals, { enqueue: 1, release: 1 });
    // A signal to a running workflow is an action of its own.
    assert.equal(costOfHistory([{ workflowExecutionStartedEventAttributes: {} }, { workflowTaskScheduledEventAttributes: {} }, { workflowExecutionSignaledEventAttributes: { signalName: 'go' } }]).byKind.signal, 1);
  });
});

describe('bench smoke', () => {
  const out = mkdtempSync(join(tmpdir(), 'switchyard-bench-smoke-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  it('runs every mode, engine floor included, at concurrency 1 and 2 and writes latest.json and latency.svg', { timeout: 300_000 }, async () => {
    // The audit log off: its batched export (a timer and an activity per batch, docs/performance.md)
    // is measured by the bench, not held to the call path's exact costs asserted here.
    const { code, output } = await runScript('run.ts', ['--calls', '3', '--warmup', '1', '--concurrency', '1,2', '--modes', MODES.join(','), '--out', out, '--config', '{"audit":{"enabled":false}}']);
    assert.equal(code, 0, output);

    const result = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult;
    assert.equal(result.format, RESULT_FORMAT);
    for (const field of ['cpuModel', 'cores', 'ramGiB', 'node', 'temporalCli'] as const) assert.ok(result.machine[field], `machine.${field}`);
    assert.ok(!Number.isNaN(Date.parse(result.date)));
    assert.equal(result.phases.length, MODES.length * 2);
    assert.deepEqual(new Set(result.phases.map((p) => p.mode)), new Set(MODES));
    for (const mode of ENGINE_MODES) assert.equal(result.phases.filter((p) => p.mode === mode).length, 2, `engine mode ${mode} at both concurrencies`);
    for (const phase of result.phases) {
      const name = `${phase.mode} c=${phase.concurrency}`;
      assert.equal(phase.calls, 3, name);
      assert.equal(phase.errors, 0, `${name}: ${phase.firstError}`);
      assert.ok(phase.throughputPerSec > 0, name);
      assert.ok(phase.latencyMs.p50 > 0 && phase.latencyMs.p50 <= phase.latencyMs.p95 && phase.latencyMs.p95 <= phase.latencyMs.p99, name);
      assert.equal(phase.overheadMs === undefined, phase.mode === 'direct', name);
      // Every mode but the direct call runs workflows, whose histories were read.
      if (phase.mode === 'direct') {
        assert.equal(phase.history, undefined, name);
      } else {
        assert.ok(phase.history, `${name}: history costs`);
        assert.ok(phase.history.eventsPerCall > 0, `${name}: events per call`);
        assert.ok(phase.history.actionsPerCall >= 1, `${name}: actions per call ${phase.history.actionsPerCall}`);
        assert.ok(phase.history.eventsPerCall > phase.history.actionsPerCall, `${name}: more events than actions`);
      }
      // Each Switchyard mode is held against its engine floors, from the same run.
      const floors = phase.mode in FLOORS ? FLOORS[phase.mode as keyof typeof FLOORS]! : [];
      assert.deepEqual(Object.keys(phase.floorRatios ?? {}).sort(), [...floors].sort(), `${name}: floor ratios`);
      for (const ratio of Object.values(phase.floorRatios ?? {})) assert.ok(ratio > 0 && Number.isFinite(ratio), `${name}: ratio ${ratio}`);
      assert.ok(phase.cpuSeconds.temporal !== undefined && phase.cpuSeconds['engine-worker'] !== undefined, `${name}: CPU of every process`);
      // Audit off here, so nothing trails a phase: two quiet windows settle it (BenchStack.settle).
      assert.ok(phase.settleMs !== undefined && phase.settleMs >= 1_000 && phase.settleMs < 20_000, `${name}: settled in ${phase.settleMs} ms`);
    }
    // Shapes whose cost is exact: a workflow per call is one start and one activity (or one task
    // of local activities); an unordered Switchyard call adds the outcome's search-attribute upsert.
    const costOf = (mode: string) => result.phases.find((p) => p.mode === mode && p.concurrency === 1)!.history!;
    assert.deepEqual([costOf('engine-call').actionsPerCall, costOf('engine-call').actionsPerCallByKind.start, costOf('engine-call').actionsPerCallByKind.activity], [2, 1, 1]);
    assert.deepEqual([costOf('engine-call-local').actionsPerCall, costOf('engine-call-local').actionsPerCallByKind.localActivityTasks], [2, 1]);
    // A Switchyard call is an update of its shard or key workflow, with no search-attribute upsert
    // and no workflow of its own: a caller that waited for it needs no record. A run of that
    // workflow has one upsert, its patch's (workflows/key.ts, SIGNALS_FIRST): here every unordered
    // call starts a shard's run, so that is one a call there and fewer on a key.
    for (const mode of ['unordered', 'one-key', 'many-keys', 'unordered-2026']) {
      const cost = costOf(mode);
      assert.equal(cost.actionsPerCallByKind.update, 1, mode);
      const [source] = cost.sources;
      assert.ok(Math.round(cost.actionsPerCallByKind.upsert * source!.calls) <= source!.runs, `${mode}: at most one upsert a run (${cost.actionsPerCallByKind.upsert} a call, ${source!.calls} calls, ${source!.runs} runs)`);
      assert.equal(costOf(mode).actionsPerCallByKind.child, 0, mode);
      assert.deepEqual(costOf(mode).sources.map((s) => s.workflowType), ['keyWorkflow'], mode);
    }
    // A keyed call is one update each (its key workflow's start is shared by the phase's calls).
    for (const mode of ENGINE_MODES.filter((m) => m.startsWith('engine-key-update'))) assert.equal(costOf(mode).actionsPerCallByKind.update, 1, mode);
    // The call-path design's shape: at 1 and 2 callers every call is held (fewer than HELD_CALLS),
    // so none overflows, nothing is refused, and a call costs its update and its share of the
    // key's start and local-activity tasks; the key workflows' calls are their `call` updates
    // (3 measured + 1 warm-up per phase), not their `watch`es.
    for (const phase of result.phases.filter((p) => p.mode.startsWith('engine-key-held-watch'))) {
      const name = `${phase.mode} c=${phase.concurrency}`;
      assert.ok(phase.history!.actionsPerCall > 0 && phase.history!.actionsPerCall <= 3, `${name}: actions per call ${phase.history!.actionsPerCall}`);
      assert.equal(phase.history!.actionsPerCallByKind.update, 1, name);
      assert.equal(phase.history!.sources[0]!.calls, 4, name);
      assert.deepEqual([phase.heldWatch?.overflowShare, phase.heldWatch?.resourceExhaustedRetriesPerCall], [0, 0], name);
    }
    // The revised design's shape: at 1 and 2 callers the client stays under its share of updates
    // in flight, so every call is a held update (none by signal), nothing is refused, and a call
    // costs its update and its share of the key's start and local-activity tasks.
    for (const phase of result.phases.filter((p) => p.mode.startsWith('engine-key-signal-watch'))) {
      const name = `${phase.mode} c=${phase.concurrency}`;
      assert.equal(phase.errors, 0, `${name}: ${phase.firstError}`);
      assert.ok(phase.history!.actionsPerCall > 0 && phase.history!.actionsPerCall <= 3, `${name}: actions per call ${phase.history!.actionsPerCall}`);
      assert.equal(phase.history!.sources[0]!.workflowType, 'engineSignalWatchWorkflow', name);
      assert.equal(phase.history!.sources[0]!.calls, 4, name);
      assert.deepEqual([phase.signalWatch?.signalShare, phase.signalWatch?.resourceExhausted], [0, 0], name);
      assert.ok(phase.signalWatch!.peakInFlight >= 1 && phase.signalWatch!.peakInFlight <= 4, `${name}: peak in flight ${phase.signalWatch!.peakInFlight}`);
    }

    for (const name of ['gateway', 'worker', 'engine-worker']) assert.ok(result.peakRssMiB[name]! > 0, `peak RSS of ${name}`);
    assert.ok(existsSync(join(out, 'latency.svg')));
    const svg = readFileSync(join(out, 'latency.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /floor: workflow per call, activity/);
    assert.match(output, /\| Mode \| Clients \| Calls\/s \| Of engine floor \|/);
    assert.match(output, /\| unordered \| 1 \| [^|]+ \| [\d.]+ % of engine-call; [\d.]+ % of engine-key-update-many-keys \|/);
    assert.match(output, /\| Mode \| Clients \| CPU ms per call: .*engine-worker/);
  });
});

// Keeps `npm run soak` from rotting: 200 calls, sampled every 100 ms, must all be answered and
// leave a memory series for the gateway and the worker. Growth is not asserted (200 calls are all
// warm-up), hence the limit of 1000 %.
describe('soak smoke', () => {
  const out = mkdtempSync(join(tmpdir(), 'switchyard-soak-smoke-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  it('answers every call and samples the gateway and the worker into soak.json and soak.svg', { timeout: 120_000 }, async () => {
    const { code, output } = await runScript('soak.ts', ['--calls', '200', '--concurrency', '4', '--keys', '1', '--interval', '0.1', '--max-growth-pct', '1000', '--out', out]);
    assert.equal(code, 0, output);

    const result = JSON.parse(readFileSync(join(out, 'soak.json'), 'utf8')) as SoakResult;
    assert.equal(result.format, SOAK_FORMAT);
    assert.deepEqual([result.calls, result.failed, result.settings.calls, result.settings.keys], [200, 0, 200, 1]);
    assert.ok(result.samples.length >= 5, `${result.samples.length} samples`);
    assert.deepEqual([result.samples[0]!.calls, result.samples.at(-1)!.calls], [0, 200]);
    for (const [i, s] of result.samples.entries()) {
      assert.ok(s.rssMiB.gateway! > 0 && s.rssMiB.worker! > 0, `sample ${i}: ${JSON.stringify(s)}`);
      if (i > 0) assert.ok(s.calls >= result.samples[i - 1]!.calls && s.elapsedS >= result.samples[i - 1]!.elapsedS, `sample ${i} goes forward`);
    }
    for (const name of ['gateway', 'worker']) {
      const f = result.flatness[name];
      assert.ok(f && f.samples.baseline > 0 && f.samples.end > 0 && Number.isFinite(f.slopeMiBPer10kCalls), `${name}: ${JSON.stringify(f)}`);
    }
    assert.match(output, /\| gateway \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    assert.match(output, /Memory growth, baseline to end: gateway [+-][\d.]+ %/);
    const svg = readFileSync(join(out, 'soak.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal(svg.match(/<polyline /g)?.length, 2);
  });
});

/** Runs a bench script (bench/<name>) to its end; its stdout and stderr together. */
async function runScript(name: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', name), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  return { code, output };
}
