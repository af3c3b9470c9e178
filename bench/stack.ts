// The processes under test, each its own OS process as in production: a Temporal dev server
// (the product's own arguments, headless), the echo server, `switchyard worker` and
// `switchyard gateway`, and for the engine floor its own worker (bench/engine/worker.ts). Their memory and CPU are read from /proc, so the numbers belong to the
// process and not to the load generator.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { devServerArgs } from '../src/temporal/dev-server.js';
import { Jaeger } from '../test/support/jaeger.js';
import { freePort } from '../test/support/ports.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'switchyard.js');
const ENGINE_WORKER = join(ROOT, 'bench', 'engine', 'worker.ts');
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
// A bench or soak stopped from outside takes its processes with it: without these handlers Node
// exits on SIGTERM or SIGINT without 'exit', and the dev server and echo server kept running
// (one was found burning CPU through a later measured run).
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => process.exit(signal === 'SIGTERM' ? 143 : 130));
}

export type ProcessName = 'gateway' | 'worker' | 'temporal' | 'echo' | 'engine-worker';

export interface StackOptions {
  cliPath: string;
  dir: string;
  /** Merged over the generated switchyard config (worker tuning experiments). */
  configOverrides?: Record<string, unknown>;
  /** Extra `temporal server start-dev` arguments, e.g. `--dynamic-config-value k=v`. */
  temporalArgs?: string[];
  /** Write V8 CPU profiles of the gateway and worker into this directory. */
  cpuProfileDir?: string;
  /** Another build's `bin/switchyard.js`, to compare an experiment against this checkout. */
  bin?: string;
  /** Also start the engine floor's worker. */
  engine?: boolean;
  /** Telemetry on (OTEL_* variables): every span to a local Jaeger, metrics on a Prometheus endpoint each. */
  otel?: boolean;
  log?: (line: string) => void;
}

export class BenchStack {
  readonly children = new Map<ProcessName, ChildProcess>();
  private jaeger: Jaeger | undefined;
  private readonly env: Partial<Record<ProcessName, NodeJS.ProcessEnv>> = {};
  echoUrl = '';
  gatewayUrl = '';
  temporalAddress = '';
  /** How long a phase's work can trail its last call: a key workflow's audit records wait up to audit.flushMs to be exported. */
  private trailMs = 0;

  constructor(private readonly options: StackOptions) {}

  async start(): Promise<void> {
    const { dir } = this.options;
    mkdirSync(dir, { recursive: true });
    const temporalPort = await freePort();
    this.temporalAddress = `127.0.0.1:${temporalPort}`;
    const temporal = this.spawn('temporal', this.options.cliPath, [
      ...devServerArgs({ dataDir: join(dir, 'temporal'), namespace: 'default', port: temporalPort, uiPort: 1, headless: true }),
      ...(this.options.temporalArgs ?? []),
    ]);
    mkdirSync(join(dir, 'temporal'), { recursive: true });
    const echo = this.spawn('echo', process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'echo-server.ts')], ROOT);
    const echoPort = await new Promise<number>((done, fail) => {
      let seen = '';
      echo.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        const match = /listening (\d+)/.exec(seen);
        if (match) done(Number(match[1]));
      });
      echo.once('exit', (code) => fail(new Error(`echo server exited (${code})`)));
    });
    this.echoUrl = `http://127.0.0.1:${echoPort}/mcp`;
    await waitForTemporal(this.temporalAddress, temporal);

    const gatewayPort = await freePort();
    this.gatewayUrl = `http://127.0.0.1:${gatewayPort}/mcp`;
    const config = merge(
      {
        gateway: { port: gatewayPort },
        temporal: { address: this.temporalAddress },
        // A fast, read-only tool with a short timeout: `execution: auto` runs it as a local activity.
        servers: [{ id: 'bench', transport: 'http', url: this.echoUrl, timeoutMs: 2_000 }],
        // The bench measures latency, not the "accepted" answer: wait for every outcome. One key
        // at concurrency 128 queues 128 calls behind each other.
        defaults: { syncWaitMs: 600_000, deadlineMs: 600_000 },
      },
      this.options.configOverrides ?? {},
    );
    const configPath = join(dir, 'switchyard.yaml');
    writeFileSync(configPath, stringify(config));
    const { audit } = loadConfig(configPath, {}, dir).config;
    this.trailMs = audit.enabled ? audit.flushMs : 0;
    if (this.options.otel) {
      this.jaeger = await new Jaeger().start();
      for (const name of ['gateway', 'worker'] as const) {
        this.env[name] = {
          OTEL_EXPORTER_OTLP_ENDPOINT: this.jaeger.otlpHttpUrl,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
          OTEL_METRICS_EXPORTER: 'prometheus',
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
          OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
        };
      }
    }
    // One directory per process: a worker's workflow threads, if it has a pool, write their own profiles.
    const profile = (name: ProcessName) => (this.options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(this.options.cpuProfileDir, name)}`] : []);
    await Promise.all([
      ...(['worker', 'gateway'] as const).map(async (command) => {
        const child = this.spawn(command, process.execPath, [...profile(command), this.options.bin ?? BIN, command, '--config', configPath, '--log-level', 'warn']);
        await waitForLine(child, `Switchyard ${command} is running`, 60_000);
      }),
      ...(this.options.engine
        ? [(async () => {
            // The floor's sandbox runs as Switchyard's worker's does (workers/sandbox.ts).
            const sandbox = (config as { worker?: { sandboxTimeLimitMs?: number; workflowStackTraces?: boolean; workflowThreads?: number } }).worker;
            const child = this.spawn('engine-worker', process.execPath, [
              ...profile('engine-worker'), '--import', 'tsx', ENGINE_WORKER, '--address', this.temporalAddress,
              '--sandbox-time-limit-ms', String(sandbox?.sandboxTimeLimitMs ?? 0),
              ...(sandbox?.workflowStackTraces === true ? ['--workflow-stack-traces'] : []),
              '--workflow-threads', String(sandbox?.workflowThreads ?? 0),
            ], ROOT);
            // It bundles its workflows first (webpack): slower to start than the prebuilt worker.
            await waitForLine(child, 'engine worker is running', 120_000);
          })()]
        : []),
    ]);
  }

  pid(name: ProcessName): number | undefined {
    return this.children.get(name)?.pid;
  }

  /**
   * Waits until the work a phase left behind is done: at least as long as that work can trail the
   * phase's last call (a key workflow exports its audit records by timer, audit.flushMs later),
   * and then until Temporal and the workers together use less than SETTLE_SHARE of a core over two
   * SETTLE_WINDOW_MS windows in a row (or SETTLE_MAX_MS in all). Returns how long that took and
   * each process's CPU seconds where the last quiet stretch began, so that the phase is charged its
   * deferred work and not the idle time after it. Without it a phase paid for the one before:
   * after 128 distinct keys, 128 audit exports (a timer, an activity and two workflow tasks each)
   * landed in the next phase (docs/performance.md, "Phases that paid for the one before").
   */
  async settle(names: readonly ProcessName[]): Promise<{ ms: number; cpuSeconds: Record<string, number> }> {
    const read = () => Object.fromEntries(names.map((name) => [name, readProc(this.pid(name))?.cpuSeconds ?? 0]));
    const busy = (cpu: Record<string, number>) => WATCHED.reduce((sum, name) => sum + (cpu[name] ?? 0), 0);
    const began = Date.now();
    let previous = read();
    let quietFrom: Record<string, number> | undefined;
    let quiet = 0;
    while ((quiet < 2 || Date.now() - began < this.trailMs) && Date.now() - began < SETTLE_MAX_MS) {
      await new Promise((done) => setTimeout(done, SETTLE_WINDOW_MS));
      const now = read();
      if ((busy(now) - busy(previous)) / (SETTLE_WINDOW_MS / 1000) < SETTLE_SHARE) {
        quietFrom ??= previous;
        quiet++;
      } else {
        quietFrom = undefined;
        quiet = 0;
      }
      previous = now;
    }
    return { ms: Date.now() - began, cpuSeconds: quietFrom ?? previous };
  }

  async stop(): Promise<void> {
    // Gateway and worker first (a clean exit writes their CPU profiles), then their dependencies.
    for (const group of [['gateway', 'worker', 'engine-worker'], ['echo', 'temporal']] as const) {
      await Promise.all(
        group.map(async (name) => {
          const child = this.children.get(name);
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((done) => child.once('exit', done));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    }
    await this.jaeger?.stop();
  }

  private spawn(name: ProcessName, command: string, args: string[], cwd = this.options.dir): ChildProcess {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env[name] } });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const log = this.options.log;
    child.stderr!.on('data', (chunk: Buffer) => log?.(`[${name}] ${chunk.toString('utf8').trimEnd()}`));
    this.children.set(name, child);
    return child;
  }
}

async function waitForTemporal(address: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Temporal dev server exited (${child.exitCode})`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch {
      if (Date.now() > deadline) throw new Error(`Temporal dev server did not become ready on ${address}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function waitForLine(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  await new Promise<void>((done, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`timed out waiting for "${text}": ${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes(text)) {
        clearTimeout(timer);
        done();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`exited (${code}) before "${text}": ${seen}`));
    });
  });
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      isPlainObject(current) && isPlainObject(value) ? merge(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface ProcSample {
  rssKb: number;
  hwmKb: number;
  /** User plus system CPU time, in seconds. */
  cpuSeconds: number;
}

/** The processes whose deferred work a phase waits out (settle). */
const WATCHED = ['temporal', 'worker', 'engine-worker'] as const;
const SETTLE_WINDOW_MS = 500;
/** Idle, the dev server and the workers used 0-10 % of a core together (500 ms windows). */
const SETTLE_SHARE = 0.2;
const SETTLE_MAX_MS = 20_000;
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Memory and CPU of a live process from /proc (Linux); undefined once it is gone. */
export function readProc(pid: number | undefined): ProcSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    // Fields after the command name, which is in parentheses and may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS;
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), cpuSeconds };
  } catch {
    return undefined;
  }
}
