// `npm run soak`: many calls through the gateway, on the bench's stack (bench/stack.ts: Temporal,
// the echo server, `switchyard worker` and `switchyard gateway` as their own processes) and its
// closed-loop MCP clients (bench/load.ts), while the resident set of every process is read from
// /proc every few seconds. Answers one question: does the gateway's or the worker's memory grow
// with the number of calls? The verdict is computed (soak-report.ts), not read off the chart.
// Writes <out>/soak.json and <out>/soak.svg and prints a table. Options:
//   --calls N            calls in all (default 100000)
//   --concurrency C      MCP clients, each with one call in flight (default 32)
//   --keys K             ordering keys shared by every other client; the rest call unordered
//                        (default 4; 0: every call unordered)
//   --interval S         seconds between memory samples (default 5)
//   --max-growth-pct P   exit 3 when the gateway's or the worker's RSS grew more than P % from
//                        the baseline window to the end window (default 15)
//   --out DIR            where results go (default bench/results)
//   --note TEXT          recorded with the machine
//   --config JSON        merged over the switchyard config
// Exit codes: 0 all calls answered and memory within the limit, 1 a call failed, 3 memory grew
// beyond the limit, 2 the soak itself broke.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { findTemporalCli } from '../src/temporal/cli-path.js';
import { runPhase } from './load.js';
import { machine } from './machine.js';
import { round } from './report.js';
import { flatness, JUDGED, SOAK_FORMAT, soakSvg, soakTable, WINDOWS, type SoakResult, type SoakSample } from './soak-report.js';
import { BenchStack, readProc, type ProcessName } from './stack.js';

const ROOT = resolve(import.meta.dirname, '..');
const SAMPLED: ProcessName[] = ['gateway', 'worker', 'temporal', 'echo'];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '100000' },
      concurrency: { type: 'string', default: '32' },
      keys: { type: 'string', default: '4' },
      interval: { type: 'string', default: '5' },
      'max-growth-pct': { type: 'string', default: '15' },
      out: { type: 'string' },
      note: { type: 'string' },
      config: { type: 'string', default: '{}' },
    },
  });
  const calls = integer(values.calls, 'calls', 1);
  const concurrency = integer(values.concurrency, 'concurrency', 1);
  const keys = integer(values.keys, 'keys', 0);
  const intervalMs = number(values.interval, 'interval') * 1000;
  const maxGrowthPct = number(values['max-growth-pct'], 'max-growth-pct');
  const out = resolve(values.out ?? join(ROOT, 'bench', 'results'));
  const configOverrides = JSON.parse(values.config) as Record<string, unknown>;
  const cliPath = findTemporalCli(process.env);
  if (cliPath === undefined) throw new Error('no Temporal CLI: run `npm run provision` first');

  const dir = mkdtempSync(join(tmpdir(), 'switchyard-soak-'));
  const stack = new BenchStack({ cliPath, dir, configOverrides, log: (line) => process.stderr.write(`${line}\n`) });
  const samples: SoakSample[] = [];
  let done = 0;
  let failed = 0;
  let started = 0;
  const sample = () => {
    const rssMiB: Record<string, number> = {};
    for (const name of SAMPLED) {
      const proc = readProc(stack.pid(name));
      if (proc) rssMiB[name] = round(proc.rssKb / 1024, 1);
    }
    samples.push({ elapsedS: round((performance.now() - started) / 1000, 1), calls: done, failed, rssMiB });
  };
  try {
    process.stderr.write('starting Temporal, the echo server, the worker and the gateway...\n');
    await stack.start();
    // Odd clients share the keys (several clients per key, so keyed calls queue as they do in use);
    // even clients call unordered and go through the shard workflows.
    const run = Math.random().toString(36).slice(2, 8);
    const keyOf = (client: number) => (keys > 0 && client % 2 === 1 ? `soak-${run}-${((client - 1) / 2) % keys}` : undefined);
    started = performance.now();
    sample();
    const sampler = setInterval(sample, intervalMs);
    let reported = 0;
    const phase = await runPhase({
      mode: 'unordered',
      concurrency,
      calls,
      warmup: 0,
      echoUrl: stack.echoUrl,
      gatewayUrl: stack.gatewayUrl,
      callTimeoutMs: 120_000,
      keyOf,
      onCall: (callFailed) => {
        done++;
        if (callFailed) failed++;
        if (done >= reported + calls / 10) {
          reported = done;
          const last = samples.at(-1)!.rssMiB;
          process.stderr.write(`${done}/${calls} calls, ${failed} failed, RSS gateway ${last.gateway} MiB, worker ${last.worker} MiB\n`);
        }
      },
    }).finally(() => clearInterval(sampler));
    sample();

    const result: SoakResult = {
      format: SOAK_FORMAT,
      date: new Date().toISOString(),
      machine: machine(cliPath, values.note),
      settings: {
        calls,
        concurrency,
        keys,
        clientsMeans:
          keys > 0
            ? `${concurrency} MCP SDK clients with one call in flight each; the odd-numbered ones share ${keys} ordering keys, the others call without a key`
            : `${concurrency} MCP SDK clients with one call in flight each, no ordering keys`,
        intervalMs,
        maxGrowthPct,
        windows: WINDOWS,
        configOverrides,
      },
      calls: done,
      failed: phase.errors,
      ...(phase.firstError !== undefined ? { firstError: phase.firstError } : {}),
      durationS: round(phase.durationMs / 1000, 1),
      throughputPerSec: round((done / phase.durationMs) * 1000),
      samples,
      flatness: Object.fromEntries(SAMPLED.map((name) => [name, flatness(samples, calls, name)])),
      grewBeyondLimit: [],
    };
    result.grewBeyondLimit = JUDGED.filter((name) => (result.flatness[name]?.growthPct ?? -Infinity) > maxGrowthPct);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(out, 'soak.svg'), soakSvg(result));
    process.stdout.write(`${soakTable(result)}\n${result.firstError ? `First failure: ${result.firstError.slice(0, 300)}\n` : ''}\nWrote ${join(out, 'soak.json')} and ${join(out, 'soak.svg')}\n`);
    return result.failed > 0 ? 1 : result.grewBeyondLimit.length > 0 ? 3 : 0;
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function integer(text: string, name: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer of at least ${min}, got "${text}"`);
  return n;
}

function number(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${text}"`);
  return n;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
