// A whole Switchyard deployment for integration tests, all real: a Temporal dev server (the
// product's own embedded-server launcher, headless, on free ports), the worker and the gateway
// as separate `switchyard` processes (so they can be killed with SIGKILL), server-everything over
// stdio, and the fixture server over Streamable HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { everythingServerEntry } from '../../src/config/demo.js';
import { createLogger } from '../../src/observability/log.js';
import { findTemporalCli } from '../../src/temporal/cli-path.js';
import { DevServer } from '../../src/temporal/dev-server.js';
import { codecFromConfig, dataConverterFor } from '../../src/temporal/data-converter.js';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { hashKeyOf, storedOrderingKey } from '../../src/shared/key-hash.js';
import { FixtureServer } from './fixture-server.js';
import { freePort, waitFor } from './ports.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'switchyard.js');
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface StackOptions {
  syncWaitMs?: number;
  deadlineMs?: number;
  retry?: { maxAttempts?: number; initialIntervalMs?: number; maxIntervalMs?: number };
  heartbeatTimeoutMs?: number;
  laneHandoffsPerRun?: number;
  /** Calls a key workflow handles before it continues as new (callPath.callsPerRun). */
  callsPerRun?: number;
  tenants?: Array<{ id: string; apiKeys: string[] }>;
  withEverything?: boolean;
  /** Last word on the config file: edit the plain object before it is written. */
  configure?: (config: ConfigDraft) => void;
  /**
   * Node arguments that run the `switchyard` command of the worker and gateway `start()` starts:
   * another build, such as an older version for an upgrade test (test/support/old-build.ts).
   * Default: this checkout's build. Later startWorker()/startGateway() take their own.
   */
  entry?: string[];
  /** Extra environment of the worker and gateway processes (e.g. OTEL_* for the telemetry tests). */
  env?: { worker?: NodeJS.ProcessEnv; gateway?: NodeJS.ProcessEnv };
  /**
   * Encrypted payloads with TEST_ENCRYPTION's keys (docs/security.md). Default: on when
   * SWITCHYARD_TEST_ENCRYPTION=1, so any suite can be run with encryption.
   */
  encryption?: boolean;
}

/** The test keys (never use these anywhere else): two AES keys, the hash key and the codec server's token. */
export const TEST_ENCRYPTION = {
  keys: [
    { id: 'test-k1', key: Buffer.alloc(32, 0x11).toString('base64') },
    { id: 'test-k2', key: Buffer.alloc(32, 0x22).toString('base64') },
  ],
  currentKeyId: 'test-k1',
  hashKey: Buffer.alloc(32, 0x33).toString('base64'),
  codecServer: { token: 'test-codec-token-0123456789abcdef0123456789' },
};

/** The config file as a plain object, for `configure`. */
export interface ConfigDraft {
  servers: Array<Record<string, unknown> & { id: string }>;
  worker: Record<string, unknown>;
  [key: string]: unknown;
}

export class Stack {
  readonly dir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  readonly fixture = new FixtureServer();
  temporal!: DevServer;
  temporalClient!: Client;
  private temporalConnection!: Connection;
  gatewayPort = 0;
  configPath = '';
  worker: ChildProcess | undefined;
  gateway: ChildProcess | undefined;
  /** Set by start(): whether this stack encrypts (StackOptions.encryption). */
  encrypted = false;
  private readonly output: string[] = [];
  private readonly extraGateways: ChildProcess[] = [];

  constructor(private readonly options: StackOptions = {}) {}

  get mcpUrl(): string {
    return `http://127.0.0.1:${this.gatewayPort}/mcp`;
  }

  async start(): Promise<this> {
    const cliPath = findTemporalCli(process.env);
    if (cliPath === undefined) throw new Error('no Temporal CLI: run `npm run provision` first');
    const temporalPort = await freePort();
    this.gatewayPort = await freePort();
    this.temporal = new DevServer({
      cliPath,
      dataDir: join(this.dir, 'temporal'),
      namespace: 'default',
      port: temporalPort,
      uiPort: 1,
      headless: true,
      log: createLogger('silent'),
    });
    await this.fixture.start();
    await this.temporal.start();
    const o = this.options;
    const encrypted = o.encryption ?? process.env.SWITCHYARD_TEST_ENCRYPTION === '1';
    this.encrypted = encrypted;
    const dataConverter = encrypted ? dataConverterFor(TEST_ENCRYPTION) : undefined;
    this.temporalConnection = await Connection.connect({ address: this.temporal.address });
    this.temporalClient = new Client({ connection: this.temporalConnection, namespace: 'default', ...(dataConverter ? { dataConverter } : {}) });

    const config = {
      gateway: { port: this.gatewayPort },
      temporal: { address: this.temporal.address },
      worker: { heartbeatTimeoutMs: o.heartbeatTimeoutMs ?? 2_000, ...(o.laneHandoffsPerRun ? { laneHandoffsPerRun: o.laneHandoffsPerRun } : {}) },
      servers: [
        ...(o.withEverything === false
          ? []
          : [{ id: 'everything', transport: 'stdio', command: process.execPath, args: [everythingServerEntry(), 'stdio'], tools: { deny: ['get-env'] } }]),
        { id: 'fixture', transport: 'http', url: this.fixture.url, timeoutMs: 60_000 },
      ],
      ...(o.callsPerRun ? { callPath: { callsPerRun: o.callsPerRun } } : {}),
      tenants: o.tenants ?? [],
      defaults: {
        syncWaitMs: o.syncWaitMs ?? 10_000,
        deadlineMs: o.deadlineMs ?? 120_000,
        retry: { maxAttempts: 5, initialIntervalMs: 200, maxIntervalMs: 1_000, ...o.retry },
      },
      ...(encrypted ? { encryption: structuredClone(TEST_ENCRYPTION) } : {}),
    };
    o.configure?.(config as unknown as ConfigDraft);
    this.configPath = join(this.dir, 'switchyard.yaml');
    writeFileSync(this.configPath, stringify(config));
    await Promise.all([this.startWorker(o.entry), this.startGateway(o.entry)]);
    return this;
  }

  /** Starts a worker of this checkout's build, or of the build `entry` runs (see StackOptions.entry). */
  async startWorker(entry = [BIN], configPath = this.configPath): Promise<void> {
    this.worker = this.spawn('worker', entry, configPath);
    await this.waitForLine(this.worker, 'Switchyard worker is running', 60_000);
  }

  async startGateway(entry = [BIN], configPath = this.configPath): Promise<void> {
    this.gateway = this.spawn('gateway', entry, configPath);
    await this.waitForLine(this.gateway, 'Switchyard gateway is running', 60_000);
  }

  /**
   * One more gateway of this deployment, on a port of its own (same Temporal, same servers), for
   * tests of several gateways behind one address. The caller kills it, or stop() does.
   */
  async startExtraGateway(): Promise<{ url: string; process: ChildProcess }> {
    const port = await freePort();
    const config = parse(readFileSync(this.configPath, 'utf8')) as { gateway: { port: number } };
    config.gateway.port = port;
    const path = join(this.dir, `switchyard-${port}.yaml`);
    writeFileSync(path, stringify(config));
    const child = this.spawn('gateway', [BIN], path);
    this.extraGateways.push(child);
    await this.waitForLine(child, 'Switchyard gateway is running', 60_000);
    return { url: `http://127.0.0.1:${port}/mcp`, process: child };
  }

  /**
   * An ordering key as the broker stores it (SwitchyardOrderingKey, key workflow routes): as
   * given, or its keyed hash when this stack encrypts (src/shared/key-hash.ts).
   */
  /** A payload as Temporal stores it, decoded (decrypted when this stack encrypts) to its value. */
  async payloadValue(payload: Payload): Promise<unknown> {
    const [decoded] = this.encrypted ? await codecFromConfig(TEST_ENCRYPTION).decode([payload]) : [payload];
    return defaultPayloadConverter.fromPayload(decoded!);
  }

  storedKey(orderingKey: string, tenant = 'default'): string {
    return storedOrderingKey(this.encrypted ? hashKeyOf(TEST_ENCRYPTION) : undefined, tenant, orderingKey);
  }

  /** SIGKILL: no shutdown hooks, no drain; as a crash. */
  async kill(which: 'worker' | 'gateway'): Promise<void> {
    const child = this[which];
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this[which] = undefined;
  }

  async restartTemporal(): Promise<void> {
    await this.temporal.kill();
    await this.temporal.start();
  }

  /** Runs `switchyard <args…>` with this stack's config (e.g. `dlq list`) and returns its output. */
  async cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [BIN, ...args, '--config', this.configPath, '--log-level', 'error'], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stdout, stderr };
  }

  async client(headers: Record<string, string> = {}): Promise<McpClient> {
    const client = new McpClient({ name: 'switchyard-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(this.mcpUrl), { requestInit: { headers } }));
    return client;
  }

  /**
   * `switchyard.get_call` until the call is neither queued nor running, from a fresh session each
   * time (a test must not depend on one surviving connection).
   */
  async finalResult(correlationId: string, timeoutMs = 60_000): Promise<Awaited<ReturnType<McpClient['callTool']>>> {
    return waitFor(`call ${correlationId} to end`, async () => {
      const client = await this.client();
      try {
        const r = await client.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: correlationId } });
        const status = (r.structuredContent as { status: string }).status;
        return status === 'running' || status === 'queued' ? undefined : r;
      } finally {
        await client.close();
      }
    }, timeoutMs, 500);
  }

  async waitForReady(): Promise<Record<string, unknown>> {
    return waitFor('gateway ready', async () => {
      const response = await fetch(`http://127.0.0.1:${this.gatewayPort}/readyz`);
      const body = (await response.json()) as { status: string };
      return body.status === 'ready' ? body : undefined;
    });
  }

  logs(): string {
    return this.output.join('');
  }

  async stop(): Promise<void> {
    await Promise.all([this.kill('worker'), this.kill('gateway')]);
    for (const child of this.extraGateways.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.temporalConnection?.close().catch(() => undefined);
    await this.temporal?.stop().catch(() => undefined);
    await this.fixture.stop();
    if (!process.env.KEEP_TEST_DIRS) rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(command: 'worker' | 'gateway', entry: string[], configPath = this.configPath): ChildProcess {
    const child = spawn(process.execPath, [...entry, command, '--config', configPath, '--log-level', process.env.SWITCHYARD_TEST_LOG ?? 'warn'], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.options.env?.[command] },
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const tag = (chunk: Buffer) => {
      this.output.push(`[${command}] ${chunk.toString('utf8')}`);
      if (process.env.SWITCHYARD_TEST_LOG) process.stderr.write(`[${command}] ${chunk.toString('utf8')}`);
    };
    child.stdout?.on('data', tag);
    child.stderr?.on('data', tag);
    return child;
  }

  private async waitForLine(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}"; output:\n${seen}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        if (seen.includes(text)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`process exited (${code}) before "${text}"; output:\n${seen}`));
      });
    });
  }
}

export function textOf(result: object): string {
  const content = ((result as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>;
  return content.map((c) => c.text ?? '').join('');
}

export function correlationIdOf(result: object): string {
  const id = (result as { _meta?: Record<string, unknown> })._meta?.['switchyard/correlation_id'];
  if (typeof id !== 'string') throw new Error(`result has no correlation id: ${JSON.stringify(result)}`);
  return id;
}
