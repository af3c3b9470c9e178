// `npm run bench`: the echo tool called directly, through Switchyard (no key, one key, one key
// per client) and through the bare engine in the shapes Switchyard could take (the floor, see
// modes.ts and engine/), at several concurrencies, against real processes. Writes
// <out>/latest.json and <out>/latency.svg and prints Markdown tables. Options (flag, else
// environment variable):
//   --calls N          BENCH_CALLS         measured calls per mode and concurrency (default 400)
//   --warmup N         BENCH_WARMUP        unmeasured calls first (default 20)
//   --concurrency L    BENCH_CONCURRENCY   comma-separated client counts (default 1,8,32,128)
//   --modes L          BENCH_MODES         comma-separated, from modes.ts MODES (default DEFAULT_MODES:
//                                          all but the rejected held-watch prototype)
//   --history-sample N BENCH_HISTORY_SAMPLE runs per workflow type read for events and actions per call (default 5)
//   --out DIR          BENCH_OUT           where results go (default bench/results)
//   --note TEXT        BENCH_NOTE          recorded with the machine (e.g. "machine shared with other jobs")
//   --config JSON      BENCH_CONFIG        merged over the switchyard config (e.g. '{"worker":{...}}')
//                                          ('{"audit":{"enabled":false}}' measures the audit log's cost)
//   --temporal-arg A   (repeatable)        extra `temporal server start-dev` argument
//   --profile DIR                          V8 CPU profiles of gateway and worker into DIR
//   --bin PATH                             another build's bin/switchyard.js (experiments)
//   --otel             BENCH_OTEL=1        telemetry on: gateway and worker send every span to a local
//                                          Jaeger (npm run provision builds it) over OTLP/HTTP and
//                                          serve Prometheus metrics; compare with a run without it
//   --encrypt          BENCH_ENCRYPT=1     encrypted payloads (docs/security.md) with throwaway keys
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { findTemporalCli } from '../src/temporal/cli-path.js';
import type { PhaseRun } from './closed-loop.js';
import { runEnginePhase } from './engine/load.js';
import { MAX_UPDATES_PER_RUN } from './engine/shared.js';
import { measureHistoryCost } from './history.js';
import { runPhase } from './load.js';
import { machine } from './machine.js';
import { costSources, DEFAULT_MODES, isEngineMode, MODES, type Mode } from './modes.js';
import { addFloorRatios, addOverheads, latencySvg, markdownTable, RESULT_FORMAT, round, summarize, type BenchResult, type PhaseResult } from './report.js';
import { BenchStack, readProc, type ProcessName } from './stack.js';

const ROOT = resolve(import.meta.dirname, '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      modes: { type: 'string' },
      out: { type: 'string' },
      note: { type: 'string' },
      config: { type: 'string' },
      'temporal-arg': { type: 'string', multiple: true },
      profile: { type: 'string' },
      bin: { type: 'string' },
      'history-sample': { type: 'string' },
      otel: { type: 'boolean' },
      encrypt: { type: 'boolean' },
    },
  });
  const env = process.env;
  const calls = positive(values.calls ?? env.BENCH_CALLS ?? '400', 'calls');
  const warmup = nonNegative(values.warmup ?? env.BENCH_WARMUP ?? '20', 'warmup');
  const concurrency = (values.concurrency ?? env.BENCH_CONCURRENCY ?? '1,8,32,128').split(',').map((c) => positive(c, 'concurrency'));
  const modes = (values.modes ?? env.BENCH_MODES ?? DEFAULT_MODES.join(',')).split(',') as Mode[];
  for (const mode of modes) if (!MODES.includes(mode)) throw new Error(`unknown mode "${mode}" (${MODES.join(', ')})`);
  const historySample = nonNegative(values['history-sample'] ?? env.BENCH_HISTORY_SAMPLE ?? '5', 'history-sample');
  const engine = modes.some(isEngineMode);
  // A key workflow takes all of a phase's calls on its key in one run (it does not continue as new).
  if (modes.some((m) => isEngineMode(m) && m.endsWith('one-key')) && calls + warmup > MAX_UPDATES_PER_RUN) {
    throw new Error(`engine one-key modes: calls + warmup must stay within ${MAX_UPDATES_PER_RUN} updates per workflow run`);
  }
  const processes: ProcessName[] = ['gateway', 'worker', 'temporal', 'echo', ...(engine ? ['engine-worker' as const] : [])];
  const out = resolve(values.out ?? env.BENCH_OUT ?? join(ROOT, 'bench', 'results'));
  const configOverrides = JSON.parse(values.config ?? env.BENCH_CONFIG ?? '{}') as Record<string, unknown>;
  const temporalArgs = values['temporal-arg'] ?? [];
  const note = values.note ?? env.BENCH_NOTE;
  const otel = values.otel === true || env.BENCH_OTEL === '1';
  const encrypt = values.encrypt === true || env.BENCH_ENCRYPT === '1';
  // Throwaway keys, kept out of the results file (which records only that encryption was on).
  const randomKey = () => randomBytes(32).toString('base64');
  const stackOverrides = encrypt ? { ...configOverrides, encryption: { keys: [{ id: 'bench', key: randomKey() }], currentKeyId: 'bench', hashKey: randomKey() } } : configOverrides;
  const cliPath = findTemporalCli(env);
  if (cliPath === undefined) throw new Error('no Temporal CLI: run `npm run provision` first');

  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const profileDir = values.profile ? resolve(values.profile) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const stack = new BenchStack({
    cliPath,
    dir,
    configOverrides: stackOverrides,
    temporalArgs,
    ...(profileDir ? { cpuProfileDir: profileDir } : {}),
    ...(values.bin ? { bin: resolve(values.bin) } : {}),
    engine,
    otel,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const began = Date.now();
  const phases: PhaseResult[] = [];
  let client: Client | undefined;
  try {
    process.stderr.write(`starting Temporal, the echo server, the worker${engine ? ', the engine worker' : ''} and the gateway...\n`);
    await stack.start();
    // The engine floor's client, and the reader of every mode's histories.
    client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: 'default' });
    for (const c of concurrency) {
      for (const mode of modes) {
        const before = Object.fromEntries(processes.map((name) => [name, readProc(stack.pid(name))?.cpuSeconds ?? 0]));
        const benchCpuBefore = process.cpuUsage();
        const peaks: Record<string, number> = {};
        const sample = () => {
          for (const name of processes) peaks[name] = Math.max(peaks[name] ?? 0, (readProc(stack.pid(name))?.rssKb ?? 0) / 1024);
        };
        const sampler = setInterval(sample, 100);
        // The phase's workflows are those started in this window (each phase uses fresh ids).
        const from = new Date(Date.now() - 1);
        let run: PhaseRun;
        let keyWorkflowIds: string[] = [];
        let heldWatch: PhaseResult['heldWatch'];
        let signalWatch: PhaseResult['signalWatch'];
        try {
          const options = { concurrency: c, calls, warmup, callTimeoutMs: 600_000 };
          if (isEngineMode(mode)) ({ keyWorkflowIds, heldWatch, signalWatch, ...run } = await runEnginePhase({ ...options, mode, client }));
          else run = await runPhase({ ...options, mode, echoUrl: stack.echoUrl, gatewayUrl: stack.gatewayUrl });
        } finally {
          clearInterval(sampler);
        }
        sample();
        const benchCpu = process.cpuUsage(benchCpuBefore);
        // The work the phase left behind (timers, audit exports) is charged to it, and kept out of the next.
        const settled = await stack.settle(processes);
        const to = new Date(Date.now() + 1);
        const cpuSeconds: Record<string, number> = Object.fromEntries(processes.map((name) => [name, round(settled.cpuSeconds[name]! - before[name]!)]));
        cpuSeconds.bench = round((benchCpu.user + benchCpu.system) / 1e6);
        // Read after the CPU figures are taken: fetching histories costs the server CPU too.
        const sources = costSources(mode, { calls, warmup, concurrency: c });
        const history = historySample > 0 && sources.length > 0 ? await measureHistoryCost(client, sources, { from, to }, historySample) : undefined;
        if (keyWorkflowIds.length > 0) {
          await Promise.all(keyWorkflowIds.map((id) => client!.workflow.getHandle(id).terminate('bench phase over').catch(() => undefined)));
          await stack.settle(processes); // so that the next phase does not pay for ending these
        }
        const phase: PhaseResult = {
          mode,
          concurrency: c,
          calls: run.latenciesMs.length,
          errors: run.errors,
          ...(run.firstError !== undefined ? { firstError: run.firstError } : {}),
          durationMs: round(run.durationMs),
          throughputPerSec: round((run.latenciesMs.length / run.durationMs) * 1000),
          latencyMs: summarize(run.latenciesMs),
          ...(history ? { history } : {}),
          ...(heldWatch ? { heldWatch } : {}),
          ...(signalWatch ? { signalWatch } : {}),
          cpuSeconds,
          settleMs: settled.ms,
          peakRssMiB: Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, round(v, 1)])),
        };
        phases.push(phase);
        process.stderr.write(
          `${mode.padEnd(9)} c=${String(c).padStart(3)}: ${phase.throughputPerSec} calls/s, p50 ${phase.latencyMs.p50} ms, p95 ${phase.latencyMs.p95} ms, p99 ${phase.latencyMs.p99} ms, errors ${phase.errors}` +
            `${history ? `, ${history.eventsPerCall} events, ${history.bytesPerCall} history bytes and ${history.actionsPerCall} actions per call` : ''}` +
            `${heldWatch ? `, overflow ${heldWatch.overflowShare}, ResourceExhausted retries ${heldWatch.resourceExhaustedRetriesPerCall} per call` : ''}` +
            `${signalWatch ? `, by signal ${signalWatch.signalShare}, watches ${signalWatch.watchesPerCall} per call, ResourceExhausted ${signalWatch.resourceExhausted}, peak in flight ${signalWatch.peakInFlight}` : ''}` +
            `${run.firstError ? ` (${run.firstError.slice(0, 200)})` : ''}; cpu s ${JSON.stringify(cpuSeconds)}; settled in ${settled.ms} ms\n`,
        );
      }
    }
  } finally {
    await client?.connection.close().catch(() => undefined);
    const hwm = Object.fromEntries(processes.map((name) => [name, round((readProc(stack.pid(name))?.hwmKb ?? 0) / 1024, 1)]));
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
    if (phases.length > 0) {
      addOverheads(phases);
      addFloorRatios(phases);
      const result: BenchResult = {
        format: RESULT_FORMAT,
        date: new Date().toISOString(),
        machine: machine(cliPath, note),
        settings: {
          calls,
          warmup,
          concurrency,
          modes,
          concurrencyMeans:
            'N MCP SDK clients, each with its own session and at most one call in flight (closed loop); engine modes: N callers on one Temporal client, each with at most one call in flight',
          configOverrides,
          ...(encrypt ? { encrypted: true } : {}),
          temporalArgs,
          historySample,
          ...(otel ? { otel } : {}),
        },
        phases,
        peakRssMiB: hwm,
        wallSeconds: round((Date.now() - began) / 1000, 1),
      };
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync(join(out, 'latency.svg'), latencySvg(result));
      process.stdout.write(`${markdownTable(result)}\n\nWrote ${join(out, 'latest.json')} and ${join(out, 'latency.svg')}\n`);
    }
  }
  return phases.some((p) => p.errors > 0) ? 1 : 0;
}

function positive(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return n;
}

function nonNegative(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${text}"`);
  return n;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
