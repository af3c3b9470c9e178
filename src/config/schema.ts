// The one configuration schema. Parsed once at start-up (see load.ts) and injected everywhere;
// nothing else in the code base reads process.env or the config file.
import { z } from 'zod';

const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'must be 1-63 characters of A-Z a-z 0-9 _ - and start with a letter or digit');

const ToolFilterSchema = z.strictObject({
  allow: z.array(z.string().min(1)).optional(),
  deny: z.array(z.string().min(1)).default([]),
});

const RetrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(100).default(5),
  initialIntervalMs: z.number().int().min(10).default(200),
  maxIntervalMs: z.number().int().min(10).default(5_000),
  backoffCoefficient: z.number().min(1).max(10).default(2),
});

const ServerCommonShape = {
  id: IdSchema,
  tools: ToolFilterSchema.prefault({}),
  /** Per downstream request timeout; the call's remaining deadline still wins when it is shorter. */
  timeoutMs: z.number().int().positive().max(86_400_000).default(30_000),
  /** Keep tool names unprefixed (single-upstream deployments). */
  unprefixed: z.boolean().default(false),
};

const StdioServerSchema = z.strictObject({
  ...ServerCommonShape,
  transport: z.literal('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().min(1).optional(),
});

const HttpServerSchema = z.strictObject({
  ...ServerCommonShape,
  transport: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  headers: z.record(z.string(), z.string()).default({}),
});

export const ServerConfigSchema = z.discriminatedUnion('transport', [StdioServerSchema, HttpServerSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'transport must be "stdio" or "http"' : undefined),
});

const TenantSchema = z.strictObject({
  id: IdSchema,
  apiKeys: z.array(z.string().min(16, 'API keys must be at least 16 characters')).min(1),
});

const HostPortSchema = z
  .string()
  .regex(/^(embedded|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9A-Fa-f:]+\]:\d{1,5})$/, 'must be "embedded" or "host:port"');

export const ConfigSchema = z
  .strictObject({
    gateway: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(3000),
        /** Host header values accepted besides the bind address (DNS-rebinding protection). */
        allowedHosts: z.array(z.string().min(1)).default([]),
        /** Origin header values accepted (browser clients). Requests without Origin are accepted. */
        allowedOrigins: z.array(z.string().min(1)).default([]),
        /** Separator between server id and tool name. Use "_" or "__" for LLM APIs that reject ".". */
        toolSeparator: z.string().regex(/^[A-Za-z0-9_.-]{1,3}$/, 'must be 1-3 characters of A-Z a-z 0-9 _ . -').default('.'),
        pageSize: z.number().int().min(1).max(1_000).default(100),
        maxBodyBytes: z.number().int().min(1_024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
      })
      .prefault({}),
    temporal: z
      .strictObject({
        address: HostPortSchema.default('embedded'),
        namespace: z.string().min(1).default('default'),
        taskQueue: z.string().min(1).default('switchyard'),
        /** Embedded dev server only: where its SQLite file lives, and its ports. */
        dataDir: z.string().min(1).default('.switchyard'),
        port: z.number().int().min(1).max(65_535).default(7233),
        uiPort: z.number().int().min(1).max(65_535).default(8233),
      })
      .prefault({}),
    worker: z
      .strictObject({
        maxConcurrentActivities: z.number().int().min(1).max(10_000).default(200),
        maxConcurrentWorkflowTasks: z.number().int().min(1).max(10_000).default(100),
        /** A running tool call heartbeats; a worker that dies is noticed after this long. */
        heartbeatTimeoutMs: z.number().int().min(1_000).default(5_000),
        /** A lane (per ordering key) continues as new after this many hand-offs, bounding its history. */
        laneHandoffsPerRun: z.number().int().min(1).max(1_000).default(500),
      })
      .prefault({}),
    servers: z.array(ServerConfigSchema).default([]),
    tenants: z.array(TenantSchema).default([]),
    defaults: z
      .strictObject({
        deadlineMs: z.number().int().min(100).max(30 * 86_400_000).default(30_000),
        syncWaitMs: z.number().int().min(0).max(600_000).default(20_000),
        retry: RetrySchema.prefault({}),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.servers.forEach((server, index) => {
      const first = seen.get(server.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['servers', index, 'id'], message: `duplicate server id "${server.id}" (also servers[${first}])` });
      }
      seen.set(server.id, index);
      if (server.id === 'switchyard') {
        ctx.addIssue({ code: 'custom', path: ['servers', index, 'id'], message: '"switchyard" is reserved for the broker\'s own tools' });
      }
      if (server.id.includes(config.gateway.toolSeparator)) {
        ctx.addIssue({ code: 'custom', path: ['servers', index, 'id'], message: `must not contain the tool separator "${config.gateway.toolSeparator}"` });
      }
    });
    const tenants = new Map<string, number>();
    const keys = new Map<string, string>();
    config.tenants.forEach((tenant, index) => {
      if (tenants.has(tenant.id)) ctx.addIssue({ code: 'custom', path: ['tenants', index, 'id'], message: `duplicate tenant id "${tenant.id}"` });
      tenants.set(tenant.id, index);
      tenant.apiKeys.forEach((key, k) => {
        const owner = keys.get(key);
        // Never echo the key itself: it is a secret.
        if (owner !== undefined) ctx.addIssue({ code: 'custom', path: ['tenants', index, 'apiKeys', k], message: `API key is already used by tenant "${owner}"` });
        keys.set(key, tenant.id);
      });
    });
    if (config.tenants.some((t) => t.id === 'default')) {
      // "default" is the implicit unauthenticated tenant; a configured one would be ambiguous.
      ctx.addIssue({ code: 'custom', path: ['tenants'], message: 'tenant id "default" is reserved' });
    }
    if (config.tenants.length === 0 && !isLoopback(config.gateway.host)) {
      ctx.addIssue({ code: 'custom', path: ['tenants'], message: `at least one tenant with apiKeys is required when gateway.host (${config.gateway.host}) is not a loopback address` });
    }
    const unprefixed = config.servers.filter((s) => s.unprefixed);
    if (unprefixed.length > 0 && config.servers.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['servers', config.servers.indexOf(unprefixed[0]!), 'unprefixed'], message: 'only allowed when exactly one server is configured' });
    }
  });

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export type Config = z.infer<typeof ConfigSchema>;
export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type RetryConfig = z.infer<typeof RetrySchema>;
