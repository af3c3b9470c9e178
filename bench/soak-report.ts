// What a soak run produces (`npm run soak`, bench/soak.ts): the resident set of each process
// against calls completed, whether the gateway's and the worker's stayed flat (decided by the
// numbers below, not by looking at the chart), the JSON document (bench/results/soak.json), a
// short table and an SVG chart drawn by hand like bench/report.ts's.
import type { Machine } from './machine.js';
import { escapeXml, round } from './report.js';

export const SOAK_FORMAT = 'switchyard-soak/1';

/** The processes whose memory decides the verdict: Switchyard's own. */
export const JUDGED = ['gateway', 'worker'] as const;

/**
 * Windows over calls completed, as fractions of all the run's calls. Before WARMUP the heaps,
 * JIT, connection pools and the worker's workflow cache are still filling: those samples are
 * recorded and drawn, but judge nothing. The baseline is the window after it; the end is the
 * run's last fifth. Windows go by calls and not by time so that a slower stretch (the machine is
 * shared) does not shift them.
 */
export const WINDOWS = { warmup: 0.2, baselineEnd: 0.4, endStart: 0.8 } as const;

export interface SoakSample {
  /** Seconds since the load started. */
  elapsedS: number;
  /** Calls answered so far, failed ones included. */
  calls: number;
  failed: number;
  /** VmRSS per process, MiB; a process that is gone has no entry. */
  rssMiB: Record<string, number>;
}

export interface Flatness {
  /** Median RSS of the samples in the baseline window (calls in [20 %, 40 %) of the run), MiB. */
  baselineMiB: number;
  /** Median RSS of the samples in the end window (calls ≥ 80 % of the run), MiB. */
  endMiB: number;
  growthMiB: number;
  growthPct: number;
  /** Least-squares slope of RSS against calls over every sample after warm-up, MiB per 10,000 calls. */
  slopeMiBPer10kCalls: number;
  samples: { baseline: number; end: number; fit: number };
}

export interface SoakResult {
  format: typeof SOAK_FORMAT;
  date: string;
  machine: Machine;
  settings: {
    calls: number;
    concurrency: number;
    /** Ordering keys shared by the keyed half of the clients (0: every call unordered). */
    keys: number;
    clientsMeans: string;
    intervalMs: number;
    maxGrowthPct: number;
    windows: typeof WINDOWS;
    configOverrides: Record<string, unknown>;
  };
  calls: number;
  failed: number;
  firstError?: string;
  durationS: number;
  throughputPerSec: number;
  samples: SoakSample[];
  /** Per process; absent when a window had no sample (a run too short for its interval). */
  flatness: Record<string, Flatness | undefined>;
  /** The judged processes whose growth is above settings.maxGrowthPct. */
  grewBeyondLimit: string[];
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Slope of y against x by ordinary least squares; NaN with fewer than two distinct x. */
export function leastSquaresSlope(points: Array<{ x: number; y: number }>): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

/** Growth of one process's RSS from the baseline window to the end window, and its slope. */
export function flatness(samples: SoakSample[], totalCalls: number, name: string): Flatness | undefined {
  const points = samples.filter((s) => s.rssMiB[name] !== undefined).map((s) => ({ x: s.calls, y: s.rssMiB[name]! }));
  const fit = points.filter((p) => p.x >= WINDOWS.warmup * totalCalls);
  const baseline = fit.filter((p) => p.x < WINDOWS.baselineEnd * totalCalls).map((p) => p.y);
  const end = fit.filter((p) => p.x >= WINDOWS.endStart * totalCalls).map((p) => p.y);
  if (baseline.length === 0 || end.length === 0 || fit.length < 3) return undefined;
  const baselineMiB = median(baseline);
  const endMiB = median(end);
  return {
    baselineMiB: round(baselineMiB, 1),
    endMiB: round(endMiB, 1),
    growthMiB: round(endMiB - baselineMiB, 1),
    growthPct: round(((endMiB - baselineMiB) / baselineMiB) * 100, 1),
    slopeMiBPer10kCalls: round(leastSquaresSlope(fit) * 10_000, 2),
    samples: { baseline: baseline.length, end: end.length, fit: fit.length },
  };
}

export function soakTable(result: SoakResult): string {
  const lines = [
    `${result.calls} calls (${result.failed} failed) in ${result.durationS} s, ${result.throughputPerSec} calls/s, ${result.settings.concurrency} clients, ${result.samples.length} samples`,
    '',
    '| Process | RSS start MiB | Baseline (20-40 %) MiB | End (last 20 %) MiB | Growth MiB | Growth % | Slope MiB / 10k calls | Peak MiB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const names = [...new Set(result.samples.flatMap((s) => Object.keys(s.rssMiB)))];
  for (const name of names) {
    const series = result.samples.map((s) => s.rssMiB[name]).filter((v): v is number => v !== undefined);
    const f = result.flatness[name];
    const cells = f ? [f.baselineMiB, f.endMiB, f.growthMiB, f.growthPct, f.slopeMiBPer10kCalls].map(String) : ['n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
    const judged = (JUDGED as readonly string[]).includes(name) ? '' : ' (not judged)';
    lines.push(`| ${name}${judged} | ${series[0] ?? 'n/a'} | ${cells.join(' | ')} | ${series.length ? Math.max(...series) : 'n/a'} |`);
  }
  lines.push('', verdict(result));
  return lines.join('\n');
}

export function verdict(result: SoakResult): string {
  const limit = result.settings.maxGrowthPct;
  const parts = JUDGED.map((name) => {
    const f = result.flatness[name];
    if (!f) return `${name}: too few samples to judge (lower --interval or raise --calls)`;
    return `${name} ${f.growthPct >= 0 ? '+' : ''}${f.growthPct} % (${f.growthMiB} MiB), ${f.growthPct > limit ? `ABOVE the ${limit} % limit` : `within ${limit} %`}`;
  });
  return `Memory growth, baseline to end: ${parts.join('; ')}.`;
}

const SERIES_COLORS: Record<string, string> = { gateway: '#1f77b4', worker: '#d62728' };

/** RSS of the gateway and the worker against calls completed, the verdict's windows shaded. */
export function soakSvg(result: SoakResult): string {
  const width = 960;
  const height = 420;
  const m = { left: 70, right: 160, top: 50, bottom: 60 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const total = Math.max(1, result.settings.calls);
  const values = result.samples.flatMap((s) => JUDGED.map((n) => s.rssMiB[n] ?? 0));
  // From zero: growth is read against the process's size, not magnified by a cropped axis.
  const step = niceStep(Math.max(...values, 1) / 5);
  const top = Math.ceil((Math.max(...values, 1) * 1.05) / step) * step;
  const x = (calls: number) => m.left + (calls / total) * plotW;
  const y = (mib: number) => m.top + plotH - (mib / top) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="22" font-size="15" font-weight="bold">Switchyard soak: resident set against calls completed</text>`,
    `<text x="${m.left}" y="40" fill="#555555">${escapeXml(`${result.machine.cpuModel}, ${result.machine.cores} cores; ${result.date.slice(0, 10)}; ${result.settings.concurrency} clients; ${result.failed} failed`)}</text>`,
  ];
  // The judged windows: baseline (20-40 %) and end (last 20 %); before 20 % is warm-up.
  out.push(`<rect x="${x(0).toFixed(1)}" y="${m.top}" width="${(x(WINDOWS.warmup * total) - x(0)).toFixed(1)}" height="${plotH}" fill="#f4f4f4"/>`);
  for (const [from, to] of [[WINDOWS.warmup, WINDOWS.baselineEnd], [WINDOWS.endStart, 1]] as const) {
    out.push(`<rect x="${x(from * total).toFixed(1)}" y="${m.top}" width="${(x(to * total) - x(from * total)).toFixed(1)}" height="${plotH}" fill="#fff4d6"/>`);
  }
  for (let v = 0; v <= top; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${yy}" y2="${yy}" stroke="#dddddd"/>`);
    out.push(`<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${v}</text>`);
  }
  const xStep = niceStep(total / 5);
  for (let c = 0; c <= total; c += xStep) {
    out.push(`<text x="${x(c).toFixed(1)}" y="${m.top + plotH + 18}" text-anchor="middle">${c.toLocaleString('en-US')}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999999"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 18}" text-anchor="middle">calls completed (shaded: warm-up grey; baseline and end windows yellow)</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">RSS, MiB</text>`);
  let legendY = m.top + 10;
  for (const name of JUDGED) {
    const points = result.samples.filter((s) => s.rssMiB[name] !== undefined).map((s) => `${x(s.calls).toFixed(1)},${y(s.rssMiB[name]!).toFixed(1)}`);
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${SERIES_COLORS[name]}" stroke-width="2"/>`);
    const f = result.flatness[name];
    const lx = m.left + plotW + 16;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="${SERIES_COLORS[name]}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 30}" y="${legendY}" dominant-baseline="middle">${name}${f ? ` ${f.growthPct >= 0 ? '+' : ''}${f.growthPct} %` : ''}</text>`);
    legendY += 20;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? 10 * p;
}
