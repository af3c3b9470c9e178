// The `switchyard` command: dev (embedded Temporal + worker + gateway), gateway, worker.
// The only place that reads argv and the environment; everything below gets injected values.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type NativeConnection, type Worker } from '@temporalio/worker';
import { isLoopback, type Config } from '../config/schema.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { DownstreamCredentials } from '../downstream/credentials.js';
import { DownstreamPool } from '../downstream/pool.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger, type LogFormat, type Logger, type LogLevel } from '../observability/log.js';
import { startTelemetry, TelemetryConfigError, telemetrySettings, type TelemetrySettings } from '../observability/telemetry.js';
import { temporalClientInterceptors } from '../observability/tracing.js';
import { findTemporalCli, INSTALL_HINT } from '../temporal/cli-path.js';
import { connectClient, ensureSearchAttributes } from '../temporal/client.js';
import { DevServer } from '../temporal/dev-server.js';
import { dataConverterFor } from '../temporal/data-converter.js';
import { createWorker, prebuiltWorkflowBundle } from '../workers/worker.js';
import { runCodecServer, startDevCodecServer } from './codec-server.js';
import { DLQ_USAGE, runDlq } from './dlq.js';
import { runSearchKey } from './search-key.js';
import { openAuditStore } from '../audit/open.js';
import { AUDIT_USAGE, runAudit } from './audit.js';

const USAGE = `Usage: switchyard <command> [--config PATH] [--log-level debug|info|warn|error] [--log-format text|json]

Commands:
  dev       embedded Temporal dev server (with Web UI), worker and gateway in one process
  gateway   the MCP front door only (many may run against one Temporal cluster)
  worker    the Temporal worker only (many may run against one Temporal cluster)
  dlq       list, show, redrive or discard dead-lettered calls (switchyard dlq --help)
  codec-server   the Web UI's remote codec endpoint for encrypted payloads (docs/security.md)
  search-key VALUE [--tenant ID]
            what an ordering or idempotency key is stored as, to search for it (docs/security.md)
  audit     list, show, export or verify the audit log (switchyard audit --help)

Config: --config PATH, else $SWITCHYARD_CONFIG, else ./switchyard.yaml, else the built-in demo config.
Logs: --log-level / $SWITCHYARD_LOG_LEVEL (default info), --log-format / $SWITCHYARD_LOG_FORMAT (default text).
Telemetry: off unless the standard OTEL_* variables ask for it (docs/observability.md).`;

type Command = 'dev' | 'gateway' | 'worker';


export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        tenant: { type: 'string' },
        note: { type: 'string' },
        json: { type: 'boolean' },
        subject: { type: 'string' },
        tool: { type: 'string' },
        outcome: { type: 'string' },
        kind: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        output: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`switchyard: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const command = parsed.positionals[0];
  if (command === 'dlq' && parsed.values.help) {
    process.stdout.write(`${DLQ_USAGE}\n`);
    return 0;
  }
  if (command === 'audit' && parsed.values.help) {
    process.stdout.write(`${AUDIT_USAGE}\n`);
    return 0;
  }
  if (parsed.values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  if (!['dev', 'gateway', 'worker', 'dlq', 'codec-server', 'search-key', 'audit'].includes(command)) {
    process.stderr.write(`switchyard: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  const level = (parsed.values['log-level'] ?? env.SWITCHYARD_LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) {
    process.stderr.write(`switchyard: --log-level must be debug, info, warn, error or silent\n`);
    return 2;
  }
  const format = (parsed.values['log-format'] ?? env.SWITCHYARD_LOG_FORMAT ?? 'text') as LogFormat;
  if (format !== 'text' && format !== 'json') {
    process.stderr.write(`switchyard: --log-format must be text or json\n`);
    return 2;
  }
  const log = createLogger(level, 'switchyard', undefined, format);

  let config: Config;
  let source: string;
  try {
    ({ config, source } = loadConfig(parsed.values.config, env, process.cwd()));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  try {
    if (command === 'dlq') {
      const [, action, id] = parsed.positionals;
      const { tenant, note, json } = parsed.values;
      return await runDlq({ action, id, tenant, note, json: json === true }, config, log, (t) => process.stdout.write(t), (t) => process.stderr.write(t), process.cwd());
    }
    if (command === 'audit') {
      const [, action, id] = parsed.positionals;
      const v = parsed.values;
      const args = { action, id, tenant: v.tenant, subject: v.subject, tool: v.tool, outcome: v.outcome, kind: v.kind, since: v.since, until: v.until, limit: v.limit, output: v.output, json: v.json === true };
      return await runAudit(args, config, (t) => process.stdout.write(t), (t) => process.stderr.write(t), process.cwd());
    }
    if (command === 'search-key') {
      return runSearchKey(parsed.positionals.slice(1), parsed.values.tenant, config, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
    }
    if (command === 'codec-server') return await runCodecServer(config, log, (t) => process.stdout.write(t), (t) => process.stderr.write(t));
    let settings: TelemetrySettings;
    try {
      settings = telemetrySettings(env, command === 'dev' ? 'switchyard' : `switchyard-${command}`);
    } catch (error) {
      if (!(error instanceof TelemetryConfigError)) throw error;
      process.stderr.write(`switchyard: ${error.message}\n`);
      return 2;
    }
    return await run(command as Command, config, source, env, log, settings);
  } catch (error) {
    process.stderr.write(`switchyard: ${(error as Error).message}\n`);
    return 1;
  }
}

async function run(command: Command, config: Config, source: string, env: NodeJS.ProcessEnv, log: Logger, settings: TelemetrySettings): Promise<number> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => log.warn('error during shutdown', { error: String(e) }));
  };
  // First, so that every instrument and span below has its providers; stopped last (flushes).
  const telemetry = startTelemetry(settings, log.child('telemetry'));
  stops.push(() => telemetry.shutdown());

  let address = config.temporal.address;
  let devServer: DevServer | undefined;
  let codecEndpoint: string | undefined;
  if (command === 'dev' && address === 'embedded') {
    const cliPath = findTemporalCli(env);
    if (cliPath === undefined) throw new Error(INSTALL_HINT);
    // With encryption the Web UI would show ciphertext: give it the codec endpoint.
    if (config.encryption !== undefined) {
      const codec = await startDevCodecServer(config, config.encryption, log.child('codec-server'));
      stops.push(() => codec.close());
      codecEndpoint = codec.uiEndpoint;
    }
    devServer = new DevServer({
      ...(codecEndpoint !== undefined ? { codecEndpoint } : {}),
      cliPath,
      dataDir: config.temporal.dataDir,
      namespace: config.temporal.namespace,
      port: config.temporal.port,
      uiPort: config.temporal.uiPort,
      log: log.child('temporal'),
    });
    log.info('starting the embedded Temporal dev server', { address: devServer.address });
    await devServer.start();
    stops.push(() => devServer!.stop());
    address = devServer.address;
  } else if (address === 'embedded') {
    address = `127.0.0.1:${config.temporal.port}`;
  }

  let connection: Connection;
  let client: Client;
  try {
    ({ connection, client } = await connectClient(address, config.temporal.namespace, log, {
      workflowInterceptors: temporalClientInterceptors(telemetry),
      dataConverter: dataConverterFor(config.encryption),
    }));
    stops.push(() => connection.close());
    if (devServer === undefined) await ensureSearchAttributes(client, config.temporal.namespace, log);

    // In `dev` the worker and the gateway share this pool, so the worker's tool calls happen on the
    // gateway's connections and their log messages reach its Passthrough. It relays none of them
    // (scoped to the call, or UNATTRIBUTED on stdio: see connection.ts and passthrough.ts), so one
    // pool keeps tenants as isolated as two processes would, and spawns each stdio server once.
    // One audit store per process: in `dev` the worker and the gateway share it.
    const audit = await openAuditStore(config, process.cwd());
    if (audit !== undefined) stops.push(() => audit.close());

    const pool = new DownstreamPool(config.servers, log.child('downstream'), undefined, DownstreamCredentials.fromConfig(config));
    stops.push(() => pool.close());
    await pool.start();

    let worker: { worker: Worker; connection: NativeConnection } | undefined;
    let workerRun: Promise<void> | undefined;
    if (command !== 'gateway') {
      // The SDK's own logs: warnings and errors only, unless debugging.
      Runtime.install({ logger: new DefaultLogger(log.level === 'debug' ? 'DEBUG' : 'WARN') });
      worker = await createWorker({
        config,
        address,
        client,
        pool,
        log: log.child('worker'),
        telemetry,
        workflowBundlePath: env.SWITCHYARD_WORKFLOW_BUNDLE || prebuiltWorkflowBundle(config.encryption !== undefined),
        ...(audit !== undefined ? { audit } : {}),
      });
      workerRun = worker.worker.run();
      const w = worker;
      stops.push(async () => {
        if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
        await workerRun;
        await w.connection.close();
      });
    }
    let gateway: RunningGateway | undefined;
    if (command !== 'worker') {
      gateway = await startGateway({ config, client, pool, log: log.child('gateway'), ...(audit !== undefined ? { audit } : {}) });
      const g = gateway;
      stops.push(() => g.close());
    }

    printBanner(command, config, source, address, devServer, gateway, pool, codecEndpoint);

    const stopped = new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    const reason = await Promise.race([stopped, workerRun?.then(() => 'worker stopped') ?? new Promise<string>(() => undefined)]);
    log.info('shutting down', { reason });
    await stopAll();
    return 0;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function printBanner(
  command: Command,
  config: Config,
  source: string,
  address: string,
  devServer: DevServer | undefined,
  gateway: RunningGateway | undefined,
  pool: DownstreamPool,
  codecEndpoint: string | undefined,
): void {
  const lines = [`Switchyard ${command} is running (config: ${source})`];
  if (gateway) lines.push(`  MCP endpoint:  ${gateway.url}`);
  if (devServer?.uiUrl) lines.push(`  Temporal UI:   ${devServer.uiUrl}${codecEndpoint !== undefined ? ' (decrypts through the codec server)' : ''}`);
  lines.push(
    config.encryption === undefined
      ? '  Payloads:      stored in plaintext (no encryption configured)'
      : `  Payloads:      encrypted with key "${config.encryption.currentKeyId}" (${config.encryption.keys.length} key(s) configured)`,
  );
  lines.push(`  Temporal:      ${address}${devServer ? ` (embedded dev server, data in ${config.temporal.dataDir}/temporal.db)` : ''}, namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}`);
  for (const s of pool.status()) lines.push(`  Downstream:    ${s.id} (${s.transport}) ${s.state}${s.state === 'ready' ? `, ${s.tools} tools` : s.lastError ? `: ${s.lastError}` : ''}`);
  if (gateway) {
    lines.push(
      config.tenants.length === 0
        ? `  Auth:          none: one "default" tenant without API keys (allowed because the gateway is bound to loopback ${isLoopback(config.gateway.host) ? config.gateway.host : ''})`
        : `  Auth:          API keys for ${config.tenants.length} tenant(s): ${config.tenants.map((t) => t.id).join(', ')}`,
    );
  }
  lines.push('Press Ctrl-C to stop.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`switchyard: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
