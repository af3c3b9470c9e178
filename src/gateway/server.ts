// Gateway bootstrap: builds the app from its dependencies, listens, and keeps connected clients
// told about tool list changes.
import { serve, type ServerType } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import { isLoopback, keySettings, type Config } from '../config/schema.js';
import type { DownstreamPool } from '../downstream/pool.js';
import type { Logger } from '../observability/log.js';
import { observeSessions, observeWaitingCalls } from '../observability/metrics.js';
import { isTemporalReachable } from '../temporal/client.js';
import { createGatewayApp } from './app.js';
import { CallService } from '../services/call-service.js';
import { SagaService } from '../services/sagas.js';
import { DeadLetterService } from '../services/dead-letters.js';
import { ToolCatalog } from './catalog.js';
import { Passthrough } from './passthrough.js';
import { GatewayAccess, type Refusal as AccessRefusal } from './access.js';
import { loopbackHosts, loopbackOrigins } from './middleware/host-origin.js';
import { DEFAULT_TENANT } from './middleware/auth.js';
import { policyRefusal, StoreAuditSink } from '../audit/sink.js';
import type { AuditStore } from '../audit/store.js';

export interface RunningGateway {
  url: string;
  close(): Promise<void>;
}

export async function startGateway(deps: { config: Config; client: Client; pool: DownstreamPool; log: Logger; audit?: AuditStore }): Promise<RunningGateway> {
  const { config, pool, log } = deps;
  const audit = deps.audit !== undefined ? new StoreAuditSink(deps.audit, log.child('audit')) : undefined;
  const { host, port } = config.gateway;
  const loopback = isLoopback(host);
  const naming = {
    separator: config.gateway.toolSeparator,
    unprefixed: new Set(config.servers.filter((s) => s.unprefixed).map((s) => s.id)),
  };
  if (!loopback && config.gateway.allowedHosts.length === 0) {
    log.warn('gateway.allowedHosts is empty on a non-loopback bind: any Host header is accepted (no DNS-rebinding check); list the public host names');
  }
  const catalog = new ToolCatalog(pool, naming, config.gateway.pageSize, log.child('catalog'));
  // Every tenant sees every server today: no per-server allow-list (see passthrough.ts on logging).
  const tenants = config.tenants.length > 0 ? config.tenants.map((t) => t.id) : [DEFAULT_TENANT];
  // Per-tool RBAC (auth.policy): listings filtered per caller, refusals through one path.
  // Its refusals go to the audit log through the one hook.
  const access = new GatewayAccess(config, {
    log: log.child('access'),
    ...(audit !== undefined ? { onRefusal: (r: AccessRefusal) => audit.recordRefusal(policyRefusal(r)) } : {}),
  });
  const passthrough = new Passthrough(pool, naming, log.child('passthrough'), tenants, access);
  passthrough.start();
  const calls = new CallService(deps.client, config.temporal.taskQueue, { keys: keySettings(config), updatesPerWorkflow: config.callPath.updatesPerWorkflow }, audit);
  const { app, sessions, modern } = createGatewayApp({
    config,
    catalog,
    access,
    calls,
    deadLetters: new DeadLetterService(deps.client, audit),
    sagas: new SagaService(deps.client, config.temporal.taskQueue, audit),
    ...(audit !== undefined ? { audit, auditStore: deps.audit! } : {}),
    log,
    pool,
    passthrough,
    temporalReachable: () => isTemporalReachable(deps.client),
    allowedHosts: config.gateway.allowedHosts.length > 0 || loopback ? [...config.gateway.allowedHosts, ...(loopback ? loopbackHosts(port) : [])] : [],
    allowedOrigins: [...config.gateway.allowedOrigins, ...(loopback ? loopbackOrigins(port) : [])],
  });

  observeSessions(() => sessions.byTenant());
  observeWaitingCalls(() => calls.waitingByTenant());

  // Tell clients when the visible tool list changes (a server came or went, or list_changed).
  let signature = toolSignature(catalog);
  const onChange = () => {
    const next = toolSignature(catalog);
    if (next === signature) return;
    signature = next;
    sessions.notifyToolsChanged();
    modern.toolsChanged();
  };
  pool.on('change', onChange);

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', reject);
  });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/mcp`;
  log.info('gateway listening', { url });
  return {
    url,
    async close() {
      pool.off('change', onChange);
      passthrough.stop();
      await sessions.closeAll();
      await modern.close();
      await audit?.drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // SSE streams can hold the server open; they were closed with the sessions above.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}

function toolSignature(catalog: ToolCatalog): string {
  return JSON.stringify(catalog.all().map((t) => [t.name, t.description, t.inputSchema]));
}
