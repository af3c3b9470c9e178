// The embedded Temporal dev server (`temporal server start-dev`): SQLite file under the data dir,
// the project's search attributes registered, and the new matcher on so task priority works.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../shared/messages.js';
import type { Logger } from '../observability/log.js';

export interface DevServerOptions {
  cliPath: string;
  dataDir: string;
  namespace: string;
  port: number;
  uiPort: number;
  /** No Web UI (tests). */
  headless?: boolean;
  /** The Web UI's remote codec endpoint (encrypted payloads: temporal/codec-server.ts). */
  codecEndpoint?: string;
  log: Logger;
}

export function devServerArgs(options: Omit<DevServerOptions, 'cliPath' | 'log'>): string[] {
  const args = [
    'server', 'start-dev',
    '--db-filename', join(resolve(options.dataDir), 'temporal.db'),
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    '--namespace', options.namespace,
    '--log-level', 'error',
    // WAL with synchronous=NORMAL: a killed process loses nothing (only a power cut could), and
    // each write no longer waits for an fsync.
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
    // Priority keys are enforced only by the new matcher (server 1.29), and per task-queue
    // partition: one partition makes priority order exact on a single-node dev server.
    '--dynamic-config-value', 'matching.useNewMatcher=true',
    '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
    // The history service reads its task queues at 20 reads/s per shard by default, and the dev
    // server has one shard: every hand-off between workflow and activity then waits up to 50 ms.
    '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000',
    '--dynamic-config-value', 'history.timerProcessorMaxPollRPS=1000',
    '--dynamic-config-value', 'history.visibilityProcessorMaxPollRPS=1000',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value', 'frontend.enableExecuteMultiOperation=true',
  ];
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=Keyword`);
  if (options.headless) args.push('--headless');
  else {
    args.push('--ui-port', String(options.uiPort));
    if (options.codecEndpoint !== undefined) args.push('--ui-codec-endpoint', options.codecEndpoint);
  }
  return args;
}

export class DevServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderr: string[] = [];

  constructor(private readonly options: DevServerOptions) {}

  get address(): string {
    return `127.0.0.1:${this.options.port}`;
  }

  get uiUrl(): string | undefined {
    return this.options.headless ? undefined : `http://127.0.0.1:${this.options.uiPort}`;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    mkdirSync(resolve(this.options.dataDir), { recursive: true });
    const child = spawn(this.options.cliPath, devServerArgs(this.options), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.stderr = [];
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        this.stderr.push(line);
        if (this.stderr.length > 20) this.stderr.shift();
        this.options.log.debug(line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((done) => child.once('exit', () => done()));
    let exitedEarly = false;
    void this.exited.then(() => {
      exitedEarly = true;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitedEarly) throw new Error(`Temporal dev server exited during start-up: ${this.stderr.slice(-3).join(' | ') || 'no output'}`);
      try {
        const connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
        try {
          await connection.workflowService.describeNamespace({ namespace: this.options.namespace });
          return;
        } finally {
          await connection.close();
        }
      } catch {
        if (Date.now() > deadline) {
          await this.stop();
          throw new Error(`Temporal dev server did not become ready on ${this.address} within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Stops the server: SIGTERM, then SIGKILL after a grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** For chaos tests: dies at once, as a crash would. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }
}
