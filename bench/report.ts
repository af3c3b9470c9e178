// What a bench run produces: per-phase statistics, the overhead against the direct call of the
// same concurrency, each Switchyard mode's throughput against its engine floor, history events and
// billable actions per call, the JSON document (bench/results/latest.json), Markdown tables and
// an SVG chart drawn by hand (no chart library, no binaries).
import type { HeldWatchFigures } from './engine/held-watch.js';
import type { SignalWatchFigures } from './engine/signal-watch.js';
import type { HistoryCost } from './history.js';
import type { Machine } from './machine.js';
import { FLOORS, isEngineMode, MODE_LABELS, MODES, type EngineMode, type Mode } from './modes.js';

// 2: engine-floor modes, `history` and `floorRatios` on phases, `historySample` in settings.
export const RESULT_FORMAT = 'switchyard-bench/2';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface PhaseResult {
  mode: Mode;
  concurrency: number;
  calls: number;
  errors: number;
  firstError?: string;
  durationMs: number;
  throughputPerSec: number;
  latencyMs: Percentiles & { mean: number; min: number; max: number };
  /** This mode's percentile minus the direct call's at the same concurrency (absent for direct). */
  overheadMs?: Percentiles;
  /** This phase's throughput divided by each matching engine floor's at the same concurrency (Switchyard modes). */
  floorRatios?: Partial<Record<EngineMode, number>>;
  /** History events and billable actions per call, from a sample of the phase's workflows (absent for direct). */
  history?: HistoryCost;
  /** engine-key-held-watch*: overflow share and ResourceExhausted retries per call. */
  heldWatch?: HeldWatchFigures;
  /** engine-key-signal-watch*: share of calls sent by signal, watches per call, ResourceExhausted count. */
  signalWatch?: SignalWatchFigures;
  /** CPU seconds each process used during the phase and the deferred work it left (until settled). */
  cpuSeconds: Record<string, number>;
  /** How long after its last call the phase's deferred work took to finish (BenchStack.settle), ms. */
  settleMs?: number;
  /** Largest resident set seen while the phase ran (sampled every 100 ms), MiB. */
  peakRssMiB: Record<string, number>;
}

export interface BenchResult {
  format: typeof RESULT_FORMAT;
  date: string;
  machine: Machine;
  settings: {
    calls: number;
    warmup: number;
    concurrency: number[];
    modes: Mode[];
    concurrencyMeans: string;
    configOverrides: Record<string, unknown>;
    /** `--encrypt`: payloads went through the AES-256-GCM codec. */
    encrypted?: boolean;
    temporalArgs: string[];
    /** Runs of each workflow type read per phase for the history costs. */
    historySample: number;
    /** True with --otel: gateway and worker traced into a local Jaeger and serving Prometheus metrics. */
    otel?: boolean;
  };
  phases: PhaseResult[];
  /** Peak resident set over the whole run (VmHWM), MiB. */
  peakRssMiB: Record<string, number>;
  wallSeconds: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(latenciesMs: number[]): PhaseResult['latencyMs'] {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length);
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    mean: round(mean),
    min: round(sorted[0] ?? NaN),
    max: round(sorted.at(-1) ?? NaN),
  };
}

/** Fills in each phase's overhead against the direct phase of the same concurrency. */
export function addOverheads(phases: PhaseResult[]): void {
  for (const phase of phases) {
    if (phase.mode === 'direct') continue;
    const direct = phases.find((p) => p.mode === 'direct' && p.concurrency === phase.concurrency);
    if (!direct) continue;
    phase.overheadMs = {
      p50: round(phase.latencyMs.p50 - direct.latencyMs.p50),
      p95: round(phase.latencyMs.p95 - direct.latencyMs.p95),
      p99: round(phase.latencyMs.p99 - direct.latencyMs.p99),
    };
  }
}

/** Fills in each Switchyard phase's throughput as a fraction of its engine floors' (modes.ts FLOORS). */
export function addFloorRatios(phases: PhaseResult[]): void {
  for (const phase of phases) {
    if (isEngineMode(phase.mode)) continue;
    const ratios: Partial<Record<EngineMode, number>> = {};
    for (const floorMode of FLOORS[phase.mode] ?? []) {
      const floor = phases.find((p) => p.mode === floorMode && p.concurrency === phase.concurrency);
      if (floor && floor.throughputPerSec > 0) ratios[floorMode] = round(phase.throughputPerSec / floor.throughputPerSec, 3);
    }
    if (Object.keys(ratios).length > 0) phase.floorRatios = ratios;
  }
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function markdownTable(result: BenchResult): string {
  const lines = [
    '| Mode | Clients | Calls/s | Of engine floor | p50 ms | p95 ms | p99 ms | Overhead p50 / p95 / p99 ms | Events/call | Actions/call | Errors |',
    '|---|---:|---:|---|---:|---:|---:|---|---:|---:|---:|',
  ];
  for (const p of result.phases) {
    const o = p.overheadMs ? `${fmt(p.overheadMs.p50)} / ${fmt(p.overheadMs.p95)} / ${fmt(p.overheadMs.p99)}` : '';
    const floors = Object.entries(p.floorRatios ?? {}).map(([mode, ratio]) => `${fmt(ratio * 100)} % of ${mode}`).join('; ');
    const events = p.history ? fmt(p.history.eventsPerCall) : '';
    const actions = p.history ? fmt(p.history.actionsPerCall) : '';
    lines.push(`| ${p.mode} | ${p.concurrency} | ${fmt(p.throughputPerSec)} | ${floors} | ${fmt(p.latencyMs.p50)} | ${fmt(p.latencyMs.p95)} | ${fmt(p.latencyMs.p99)} | ${o} | ${events} | ${actions} | ${p.errors} |`);
  }
  // CPU per call, by process: what the floor costs against what Switchyard costs, per process.
  const processes = [...new Set(result.phases.flatMap((p) => Object.keys(p.cpuSeconds)))];
  lines.push('', `| Mode | Clients | CPU ms per call: ${processes.join(' | ')} |`, `|---|---:|${processes.map(() => '---:').join('|')}|`);
  for (const p of result.phases) {
    const perCall = processes.map((name) => fmt(((p.cpuSeconds[name] ?? 0) * 1000) / Math.max(1, p.calls)));
    lines.push(`| ${p.mode} | ${p.concurrency} | ${perCall.join(' | ')} |`);
  }
  const rss = Object.entries(result.peakRssMiB).map(([name, mib]) => `${name} ${fmt(mib)} MiB`).join(', ');
  lines.push('', `Peak RSS over the run: ${rss}.`);
  return lines.join('\n');
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

const COLORS: Record<Mode, string> = {
  direct: '#555555',
  unordered: '#1f77b4',
  'one-key': '#d62728',
  'many-keys': '#2ca02c',
  'unordered-2026': '#0b3d91',
  'engine-call': '#9467bd',
  'engine-call-local': '#8c564b',
  'engine-key-update-one-key': '#ff7f0e',
  'engine-key-update-many-keys': '#17becf',
  'engine-key-update-activity-one-key': '#e377c2',
  'engine-key-update-activity-many-keys': '#bcbd22',
  'engine-key-held-watch-one-key': '#7f7f7f',
  'engine-key-held-watch-many-keys': '#aec7e8',
  'engine-key-signal-watch-one-key': '#ffbb78',
  'engine-key-signal-watch-many-keys': '#98df8a',
  'engine-key-batch-one-key': '#c49c94',
  'engine-key-batch-many-keys': '#f7b6d2',
};

/**
 * Latency (p50 solid, p95 dashed) against concurrency, one colour per mode. Both axes are
 * logarithmic: concurrency goes 1 to 128, and latency from about a millisecond (direct) to
 * seconds (128 calls queued on one key).
 */
export function latencySvg(result: BenchResult): string {
  const width = 960;
  const height = 480;
  const m = { left: 70, right: 370, top: 50, bottom: 60 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const levels = [...new Set(result.phases.map((p) => p.concurrency))].sort((a, b) => a - b);
  const values = result.phases.flatMap((p) => [p.latencyMs.p50, p.latencyMs.p95]).filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (c: number) => {
    const i = levels.indexOf(c);
    return m.left + (levels.length === 1 ? plotW / 2 : (i / (levels.length - 1)) * plotW);
  };
  const y = (ms: number) => m.top + plotH - ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / Math.max(1, hi - lo)) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="22" font-size="15" font-weight="bold">Switchyard and the engine floor: latency by concurrency (echo tool)</text>`,
    `<text x="${m.left}" y="40" fill="#555555">${escapeXml(`${result.machine.cpuModel}, ${result.machine.cores} cores; ${result.date.slice(0, 10)}; solid p50, dashed p95`)}</text>`,
  ];
  for (let e = lo; e <= hi; e++) {
    for (const k of e < hi ? [1, 2, 5] : [1]) {
      const v = k * 10 ** e;
      const yy = y(v).toFixed(1);
      out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${yy}" y2="${yy}" stroke="${k === 1 ? '#dddddd' : '#f0f0f0'}"/>`);
      if (k === 1 || hi - lo <= 3) out.push(`<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${v >= 1 ? v : v.toPrecision(1)}</text>`);
    }
  }
  for (const c of levels) {
    const xx = x(c).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + plotH}" stroke="#eeeeee"/>`);
    out.push(`<text x="${xx}" y="${m.top + plotH + 18}" text-anchor="middle">${c}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999999"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 18}" text-anchor="middle">concurrent clients</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>`);

  let legendY = m.top + 10;
  for (const mode of MODES) {
    const phases = result.phases.filter((p) => p.mode === mode).sort((a, b) => a.concurrency - b.concurrency);
    if (phases.length === 0) continue;
    // Engine floors are thinner: the reference lines, not the product.
    const widthOf = isEngineMode(mode) ? 1.25 : 2;
    for (const [key, dash] of [['p50', ''], ['p95', ' stroke-dasharray="6 4"']] as const) {
      const points = phases.map((p) => `${x(p.concurrency).toFixed(1)},${y(p.latencyMs[key]).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${points}" fill="none" stroke="${COLORS[mode]}" stroke-width="${widthOf}"${dash}/>`);
      for (const p of phases) out.push(`<circle cx="${x(p.concurrency).toFixed(1)}" cy="${y(p.latencyMs[key]).toFixed(1)}" r="3" fill="${COLORS[mode]}"/>`);
    }
    const lx = m.left + plotW + 16;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="${COLORS[mode]}" stroke-width="${widthOf}"/>`);
    out.push(`<text x="${lx + 30}" y="${legendY}" dominant-baseline="middle">${escapeXml(MODE_LABELS[mode])}</text>`);
    legendY += 20;
  }
  const lx = m.left + plotW + 16;
  out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY + 6}" y2="${legendY + 6}" stroke="#333333" stroke-width="2"/><text x="${lx + 30}" y="${legendY + 6}" dominant-baseline="middle">p50</text>`);
  out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY + 26}" y2="${legendY + 26}" stroke="#333333" stroke-width="2" stroke-dasharray="6 4"/><text x="${lx + 30}" y="${legendY + 26}" dominant-baseline="middle">p95</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
