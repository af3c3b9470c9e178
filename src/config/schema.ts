// The one configuration schema. Parsed once at start-up (see load.ts) and injected everywhere;
// nothing else in the code base reads process.env or the config file.
import { z } from 'zod';
import { BROKER_TOOL_NAMES, globPattern, splitQualifiedGlob } from '../shared/policy.js';
import { TemplateError, templateReferences } from '../shared/saga.js';

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

const RetryOverrideSchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(100).optional(),
  initialIntervalMs: z.number().int().min(10).optional(),
  maxIntervalMs: z.number().int().min(10).optional(),
  backoffCoefficient: z.number().min(1).max(10).optional(),
});

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export const MUTATIONS = ['read_only', 'idempotent', 'non_idempotent'] as const;
export const DEAD_LETTER_POLICIES = ['continue', 'halt'] as const;
export const AUDIT_ARGUMENTS = ['digest', 'redacted', 'full'] as const;
/** `arg:` followed by an RFC 6901 JSON pointer into the call's arguments, e.g. `arg:/repo`. */
export const ARG_ORDERING = /^arg:(\/([^~/]|~[01])*)+$/;

const OrderingSchema = z.union([z.enum(['none', 'session', 'principal']), z.string().regex(ARG_ORDERING)], {
  error: 'must be "none", "session", "principal" or "arg:/json/pointer"',
});

/**
 * How calls of a server or of one tool are run when the request does not say: the request's own
 * envelope (_meta, headers) wins over a tool's policy, which wins over its server's, which wins
 * over `defaults`. `mutation` and `retry` can only come from here, never from a request.
 */
const CallPolicySchema = z.strictObject({
  ordering: OrderingSchema.optional(),
  deadlineMs: z.number().int().min(100).max(30 * 86_400_000).optional(),
  maxDeadlineMs: z.number().int().min(100).max(30 * 86_400_000).optional(),
  priority: z.enum(PRIORITIES).optional(),
  retry: RetryOverrideSchema.optional(),
  /** Default: from the tool's annotations (readOnlyHint, idempotentHint), else non_idempotent. */
  mutation: z.enum(MUTATIONS).optional(),
  onDeadLetter: z.enum(DEAD_LETTER_POLICIES).optional(),
  /**
   * How 2026-07-28 clients with the Tasks extension get the calls: `optional` a task at once,
   * `required` a task always (refused to clients without the extension), `forbidden` never at once.
   * Default: the downstream tool's own `execution.taskSupport`, which only 2025 servers can state
   * (2026-07-28 moved tasks to an extension and dropped the field from tool definitions).
   */
  taskSupport: z.enum(['forbidden', 'optional', 'required']).optional(),
});

/**
 * How to undo a tool in a saga when the caller gives no compensation: another tool (its public
 * name, any server) and its arguments, with templates over the step's arguments and result:
 * `{"tool": "files.delete", "arguments": {"path": "{{args.path}}"}}` (docs/sagas.md).
 */
const CompensationSchema = z.strictObject({
  tool: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()).default({}),
});

const ServerCommonShape = {
  id: IdSchema,
  tools: ToolFilterSchema.prefault({}),
  /** Per downstream request timeout; the call's remaining deadline still wins when it is shorter. */
  timeoutMs: z.number().int().positive().max(86_400_000).default(30_000),
  /** Keep tool names unprefixed (single-upstream deployments). */
  unprefixed: z.boolean().default(false),
  policy: CallPolicySchema.prefault({}),
  /** Per tool (downstream name, without prefix); overrides `policy`. */
  toolPolicies: z.record(z.string().min(1), CallPolicySchema).default({}),
  /** Per tool (downstream name): its default compensation in a saga. */
  compensations: z.record(z.string().min(1), CompensationSchema).default({}),
  /**
   * How a call to this server runs in its key workflow: `local` (a local activity: fastest, but a
   * worker killed mid-call runs it again, and there is no progress), `activity` (a regular,
   * heartbeating activity), or `auto`: local for read-only and idempotent tools whose timeout is at
   * most callPath.localActivityMaxMs. Non-idempotent tools always run as regular activities.
   */
  execution: z.enum(['local', 'activity', 'auto']).default('auto'),
  /** Requests one worker process sends this server at once; more wait for a slot inside their deadline. */
  maxInFlight: z.number().int().min(1).max(10_000).default(32),
  circuitBreaker: z
    .strictObject({
      /** Consecutive transport failures that open the breaker. */
      failureThreshold: z.number().int().min(1).max(1_000).default(5),
      /** How long calls fail fast before one probe call is let through. */
      cooldownMs: z.number().int().min(100).max(3_600_000).default(30_000),
    })
    .prefault({}),
};

const ProtocolSchema = z.enum(['auto', 'legacy', '2026-07-28'], { error: 'must be "auto", "legacy" or "2026-07-28"' });

const StdioServerSchema = z.strictObject({
  ...ServerCommonShape,
  transport: z.literal('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().min(1).optional(),
  /**
   * The MCP era the server speaks: `legacy` (2025-11-25 and before, `initialize`), `2026-07-28`,
   * or `auto` (probe with `server/discover` at each connect). `legacy` by default here: on stdio
   * the probe starts the server a second time as a short-lived sibling process.
   */
  protocol: ProtocolSchema.default('legacy'),
});

const HttpsOrLoopbackUrlSchema = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).refine((text) => {
  const url = new URL(text);
  return url.protocol === 'https:' || isLoopback(url.hostname);
}, 'must be an https:// URL (http:// only for a loopback host)');

/**
 * What the server is shown as the caller's credential (docs/security.md, "Per-user downstream
 * credentials"; downstream/credentials.ts). HTTP servers only: a stdio server is one process shared
 * by every tenant.
 */
const CredentialsSchema = z
  .discriminatedUnion(
    'mode',
    [
      /** The server's `headers` on every request, whoever calls. */
      z.strictObject({ mode: z.literal('static') }),
      /** On each tool call, `header` set to the calling tenant's value (e.g. `Bearer ${CRM_TEAM_A}`); a tenant without one is refused. */
      z.strictObject({
        mode: z.literal('tenantSecret'),
        header: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name').transform((h) => h.toLowerCase()).default('authorization'),
        tenants: z.record(z.string().min(1), z.string().min(1)),
      }),
      /** RFC 8693: the caller's OAuth token exchanged, in the worker at call time, for a token of this server's audience. */
      z.strictObject({
        mode: z.literal('tokenExchange'),
        tokenEndpoint: HttpsOrLoopbackUrlSchema,
        /** The broker's own confidential client at the authorization server. */
        clientId: z.string().min(1),
        clientSecret: z.string().min(1),
        /** `audience` and/or `resource` (RFC 8707) of the token asked for: at least one. */
        audience: z.string().min(1).optional(),
        resource: HttpsOrLoopbackUrlSchema.optional(),
        scope: z.string().min(1).optional(),
        /** An exchanged token is reused until this long before it expires. */
        refreshBeforeExpiryMs: z.number().int().min(0).max(3_600_000).default(60_000),
        timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
        /** The broker's own requests (connect, lists, health): the server's `headers`, or a client_credentials token of the same audience. */
        connectionAuth: z.enum(['headers', 'clientCredentials']).default('headers'),
      }),
    ],
    { error: (issue) => (issue.code === 'invalid_union' ? 'mode must be "static", "tenantSecret" or "tokenExchange"' : undefined) },
  )
  .default({ mode: 'static' });

const HttpServerSchema = z.strictObject({
  ...ServerCommonShape,
  transport: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  headers: z.record(z.string(), z.string()).default({}),
  credentials: CredentialsSchema,
  /** As for stdio; `auto` by default, as the HTTP probe costs one request. */
  protocol: ProtocolSchema.default('auto'),
});

export const ServerConfigSchema = z.discriminatedUnion('transport', [StdioServerSchema, HttpServerSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'transport must be "stdio" or "http"' : undefined),
});

const ApiKeySchema = z.string().min(16, 'API keys must be at least 16 characters');

/** A key alone, or with a name the RBAC policy can match (`auth.policy.rules[].principals.apiKeys`). */
const ApiKeyEntrySchema = z.union([ApiKeySchema, z.strictObject({ name: IdSchema, key: ApiKeySchema })], {
  error: (issue) => (issue.code === 'invalid_union' ? 'must be an API key (a string of at least 16 characters) or {name, key}' : undefined),
});

const TenantSchema = z.strictObject({
  id: IdSchema,
  /** At least one, unless auth.oauth is set (then a tenant may be reached by tokens only). */
  apiKeys: z.array(ApiKeyEntrySchema).default([]),
  /** Keys of the tenant's operators: they may also use the dead-letter tools. */
  adminApiKeys: z.array(ApiKeyEntrySchema).default([]),
});

/** The secret of an API key entry. */
export function apiKeySecret(entry: ApiKeyEntry): string {
  return typeof entry === 'string' ? entry : entry.key;
}

/**
 * JWS algorithms an access token may be signed with: asymmetric only. `none` and the HMAC family
 * (HS256/384/512) are refused, since a resource server only ever holds the issuer's public keys.
 */
export const TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/**
 * The OAuth 2.1 resource server (docs/auth-design.md, "Identity"): /mcp accepts access tokens of
 * one authorization server beside the API keys, and serves Protected Resource Metadata (RFC 9728).
 */
const OAuthSchema = z.strictObject({
  /** The authorization server's issuer: the exact `iss` of its tokens; its metadata is discovered from it. */
  issuer: HttpsOrLoopbackUrlSchema,
  /** The canonical URI of this broker's /mcp (RFC 8707 `resource`): the PRM `resource`, and the default audience. */
  resource: HttpsOrLoopbackUrlSchema,
  /** Accepted `aud` values. Default: [resource]. Entra ID v2 tokens: the application (client) id; Auth0: the API identifier. */
  audience: z.array(z.string().min(1)).min(1).optional(),
  algorithms: z
    .array(z.string().min(1))
    .min(1)
    .default(['RS256', 'PS256', 'ES256', 'EdDSA'])
    .superRefine((algs, ctx) => {
      algs.forEach((alg, index) => {
        if (!(TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
          const why = alg.toLowerCase() === 'none' || /^HS/i.test(alg) ? 'unsigned and HMAC tokens are never accepted' : 'not a JWS algorithm';
          ctx.addIssue({ code: 'custom', path: [index], message: `"${alg.slice(0, 16)}": ${why}; use one of ${TOKEN_ALGORITHMS.join(', ')}` });
        }
      });
    }),
  /** Skew allowed on `exp`, `nbf` and `iat`, in seconds. */
  clockToleranceSec: z.number().int().min(0).max(300).default(30),
  /** Require this JWT `typ` header (RFC 9068: `at+jwt`). Off by default: Keycloak and Entra ID send other values. */
  requireJwtType: z.string().min(1).optional(),
  /** The issuer's JWKS; default: `jwks_uri` from its metadata (RFC 8414, then OpenID discovery). */
  jwksUri: HttpsOrLoopbackUrlSchema.optional(),
  /** How long fetched signing keys are trusted before they are fetched again. */
  jwksCacheMs: z.number().int().min(1_000).max(86_400_000).default(600_000),
  /** A token with an unknown `kid` refetches the JWKS, at most once per this long (a flood of forged kids costs one fetch). */
  jwksRefetchCooldownMs: z.number().int().min(0).max(3_600_000).default(30_000),
  /** Scopes every /mcp request needs; also the `scope` of the 401 challenge. */
  requiredScopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope token (printable ASCII, no space, " or \\)')).default([]),
  /** The PRM `scopes_supported`; default: requiredScopes. */
  scopesSupported: z.array(z.string().min(1)).optional(),
  /** Opaque (non-JWT) tokens are checked by the issuer's introspection endpoint (RFC 7662). */
  introspection: z
    .strictObject({
      endpoint: HttpsOrLoopbackUrlSchema,
      clientId: z.string().min(1),
      clientSecret: z.string().min(1),
      /** An answer is reused this long, and never past the token's `exp`. */
      cacheMs: z.number().int().min(0).max(3_600_000).default(30_000),
      timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    })
    .optional(),
  /** Which claims say who the caller is. */
  claims: z
    .strictObject({
      /** A claim whose value is a configured tenant id (a string, or an array holding exactly one). */
      tenant: z.string().min(1).optional(),
      /** Every token belongs to this tenant (one IdP per tenant). Exactly one of tenant and tenantFixed. */
      tenantFixed: IdSchema.optional(),
      subject: z.string().min(1).default('sub'),
      /** Claims naming the OAuth client, the first present wins. */
      clientId: z.array(z.string().min(1)).default(['client_id', 'azp']),
      /** A claim holding an array of group names (Keycloak `groups`, Entra ID `roles`, Okta `groups`). */
      groups: z.string().min(1).optional(),
      /** A claim holding an array of role names (Entra ID app roles `roles`, Keycloak via a mapper), for auth.policy. */
      roles: z.string().min(1).optional(),
      /** A claim whose value `true`, or whose array holds adminValue, makes the caller its tenant's operator. */
      admin: z.string().min(1).optional(),
      adminValue: z.string().min(1).default('admin'),
    })
    .prefault({}),
});

/** Globs where `*` matches any run of characters. */
const GlobListSchema = z.array(z.string().min(1, 'must not be empty')).min(1, 'must list at least one glob');

/** What an `allow` or `deny` of the RBAC policy names (src/shared/policy.ts; docs/security.md, "RBAC policy"). */
const PolicyGrantSchema = z
  .strictObject({
    /** `<server>.<tool>` globs over downstream names, whatever gateway.toolSeparator is. */
    tools: GlobListSchema.optional(),
    /** Mutation classes of downstream tools (as calls run them: toolPolicies, policy, then annotations). */
    mutations: z.array(z.enum(MUTATIONS, { error: `must be one of ${MUTATIONS.join(', ')}` })).min(1, 'must list at least one mutation class').optional(),
    /** `<server>.<prompt>` globs. */
    prompts: GlobListSchema.optional(),
    /** `<server>.<uri>` globs: the server that lists the resource, then its URI. */
    resources: GlobListSchema.optional(),
    /** The broker's own tools by short name (`get_call`, `dlq_*`). */
    broker: GlobListSchema.optional(),
  })
  .refine((grant) => Object.keys(grant).length > 0, 'must name at least one of tools, mutations, prompts, resources, broker');

const PolicyRuleSchema = z
  .strictObject({
    /** For the operator's own reading; never shown to callers. */
    name: z.string().min(1).max(100).optional(),
    /** Who the rule is for: every field given must match, each list is any-of; unset: everyone. */
    principals: z
      .strictObject({
        tenants: z.array(IdSchema).min(1).optional(),
        subjects: GlobListSchema.optional(),
        groups: z.array(z.string().min(1)).min(1).optional(),
        roles: z.array(z.string().min(1)).min(1).optional(),
        apiKeys: z.array(IdSchema).min(1).optional(),
        admin: z.boolean().optional(),
      })
      .optional(),
    allow: PolicyGrantSchema.optional(),
    deny: PolicyGrantSchema.optional(),
  })
  .refine((rule) => rule.allow !== undefined || rule.deny !== undefined, 'a rule needs allow, deny or both');

/** Per-tool RBAC. Unset: every principal may use everything, as before. */
const PolicySchema = z.strictObject({ rules: z.array(PolicyRuleSchema).min(1, 'must have at least one rule (omit auth.policy to allow everything)') });
/** 32 random bytes in base64: an AES-256 key, or the key of the search-attribute hash. */
const Base64Key32Schema = z
  .string({ error: 'must be 32 random bytes in base64 (e.g. openssl rand -base64 32)' })
  .refine((value) => /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32, {
    error: 'must be 32 random bytes in base64 (e.g. openssl rand -base64 32)',
  });

/**
 * Encrypted payloads (docs/security.md). Absent: payloads are stored as they are. Keys belong in
 * the environment: `key: ${SWITCHYARD_KEY_2026_12}`.
 */
const EncryptionSchema = z.strictObject({
  /** Every key that may have written a payload still in Temporal; new payloads use `currentKeyId`. */
  keys: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ -'),
        key: Base64Key32Schema,
      }),
    )
    .min(1, 'must list at least one key'),
  currentKeyId: z.string().min(1),
  /**
   * Keys ordering and idempotency keys before they reach search attributes and workflow ids,
   * which Temporal never encrypts. Changing it changes where calls are routed: drain first.
   */
  hashKey: Base64Key32Schema,
  /** The remote codec endpoint for the Temporal Web UI (`switchyard codec-server`, and `switchyard dev`). */
  codecServer: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(8234),
      /** Bearer token required on /encode and /decode. `switchyard dev` makes a random one if unset. */
      token: z.string().min(32, 'must be at least 32 characters (use a random secret, e.g. openssl rand -base64 32)').optional(),
      /** Origins of the Web UI that may call it from a browser (CORS). `switchyard dev` adds its own UI. */
      allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/]+$/, 'must be an origin such as https://temporal.example.com (scheme, host, port; no path)')).default([]),
    })
    .prefault({}),
});

const HostPortSchema = z
  .string()
  .regex(/^(embedded|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9A-Fa-f:]+\]:\d{1,5})$/, 'must be "embedded" or "host:port"');

const ConfigSchemaShape = z
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
        /**
         * MCP 2026-07-28 clients may cache lists (tools, prompts, resources) this long. Lists differ
         * by tenant, so the scope is always private. 0 means "do not cache".
         */
        listTtlMs: z.number().int().min(0).max(86_400_000).default(60_000),
        maxBodyBytes: z.number().int().min(1_024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
        /** MCP sessions live in gateway memory; the per-tenant cap keeps one tenant from taking them all. */
        sessions: z
          .strictObject({
            max: z.number().int().min(1).max(1_000_000).default(10_000),
            maxPerTenant: z.number().int().min(1).max(1_000_000).default(1_000),
            idleTimeoutMs: z.number().int().min(1_000).max(7 * 86_400_000).default(3_600_000),
            /**
             * Signs session ids (session-seal.ts), so every gateway with the same key serves every
             * session. Unset: a random key per process, so only the opening gateway knows a session.
             * Put it in the environment and write `key: ${SWITCHYARD_SESSION_KEY}`.
             */
            key: z.string().min(32, 'must be at least 32 characters (use a random secret, e.g. openssl rand -base64 32)').optional(),
            /** A session id is refused this long after its initialize, on every gateway. */
            maxAgeMs: z.number().int().min(60_000).max(30 * 86_400_000).default(86_400_000),
          })
          .prefault({}),
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
        /**
         * Temporal's deadlock detection: how long one entry into the workflow sandbox may run before
         * its workflow task fails. 0: no limit, the default, because Node enforces it with a thread
         * per entry: 3.5-4.7 ms of worker CPU per call in the bench (workers/sandbox.ts).
         */
        sandboxTimeLimitMs: z.number().int().min(0).max(60_000).default(0),
        /**
         * The SDK's stack capture for every promise a workflow creates, which serves the Web UI's
         * "Stack Trace" tab: a fifth of the worker's CPU per call in the bench (workers/sandbox.ts).
         */
        workflowStackTraces: z.boolean().default(false),
        /**
         * Threads that run workflow code. 0, the default: the worker's main thread, which saves the
         * hand-off of every activation to another thread and back (up to 40 % of the worker's CPU
         * per call, docs/performance.md). 1 or more: a pool of that many worker threads (the SDK's
         * default is 2), which lets workflow code run beside the activities on a machine with cores
         * to spare. Stack traces need a pool: their hook would see every promise of the main thread.
         */
        workflowThreads: z.number().int().min(0).max(64).default(0),
        /**
         * Workflow runs the worker keeps in memory between their tasks (the SDK's sticky cache); a
         * run that is not kept is rebuilt from its history at its next task. Unset: the SDK's
         * default, from the memory it may use. 0 keeps none: every task replays its whole history,
         * and the SDK (1.24) drops the task of a run that ran a local activity until it times out
         * (the worker warns: README). 1 is taken as 2 by the SDK.
         */
        maxCachedWorkflows: z.number().int().min(0).max(100_000).optional(),
      })
      .prefault({}),
    /** The fast call path: key and shard workflows (docs/architecture.md, "The call path"). */
    callPath: z
      .strictObject({
        /** Workflows that run a tenant's calls without an ordering key, concurrently. */
        shardsPerTenant: z.number().int().min(1).max(256).default(8),
        /** Calls one shard workflow runs at once. */
        shardConcurrency: z.number().int().min(1).max(1_000).default(32),
        /**
         * Updates one gateway keeps in flight on one key or shard workflow; further calls go by
         * signal. Temporal admits 10 per workflow and a refusal is costly: with G gateways, use at most 9/G.
         */
        updatesPerWorkflow: z.number().int().min(1).max(9).default(4),
        /** How long a key workflow keeps an answered call's outcome for get_call; an idle key workflow closes after it. */
        recentOutcomesMs: z.number().int().min(1_000).max(86_400_000).default(600_000),
        /**
         * Calls a key workflow handles before it continues as new, bounding its history. Also how
         * much a worker replays when it loses the workflow's cache (a continue-as-new that a call
         * arriving meanwhile makes Temporal refuse evicts it): at 1,000 a replay outlasted the
         * 10 s workflow task timeout under load, and the workflow stalled.
         */
        callsPerRun: z.number().int().min(1).max(100_000).default(200),
        /**
         * `execution: auto` runs a tool as a local activity only when its timeout is at most this. A
         * local activity holds its workflow's task open: calls arriving at the same shard wait for it.
         */
        localActivityMaxMs: z.number().int().min(100).max(60_000).default(2_000),
      })
      .prefault({}),
    servers: z.array(ServerConfigSchema).default([]),
    tenants: z.array(TenantSchema).default([]),
    /** Besides tenants' API keys: OAuth access tokens (docs/auth-design.md). */
    auth: z
      .strictObject({
        oauth: OAuthSchema.optional(),
        /** Per-tool RBAC (docs/security.md, "RBAC policy"). Unset: everything allowed. */
        policy: PolicySchema.optional(),
        /**
         * 32 bytes, base64, the same on every gateway and worker: seals a caller's token for the
         * worker's token exchange (servers[].credentials.mode tokenExchange). From the environment.
         */
        credentialKey: z
          .string()
          .refine((text) => /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, 'base64').length === 32, 'must be 32 bytes, base64 (openssl rand -base64 32)')
          .optional(),
      })
      .prefault({}),
    defaults: z
      .strictObject({
        deadlineMs: z.number().int().min(100).max(30 * 86_400_000).default(30_000),
        /** The longest deadline a request may ask for. */
        maxDeadlineMs: z.number().int().min(100).max(30 * 86_400_000).default(86_400_000),
        syncWaitMs: z.number().int().min(0).max(600_000).default(20_000),
        priority: z.enum(PRIORITIES).default('normal'),
        onDeadLetter: z.enum(DEAD_LETTER_POLICIES).default('continue'),
        retry: RetrySchema.prefault({}),
      })
      .prefault({}),
    sagas: z
      .strictObject({
        /** An incremental saga not committed by then is compensated; a whole saga's steps must end by then. */
        deadlineMs: z.number().int().min(1_000).max(30 * 86_400_000).default(3_600_000),
        /** Each compensation's own deadline, counted from when it starts (not capped by the saga's). */
        compensationDeadlineMs: z.number().int().min(100).max(30 * 86_400_000).default(300_000),
        /** Compensations retry harder than calls: undoing is what keeps systems consistent. */
        compensationRetry: RetrySchema.prefault({ maxAttempts: 10 }),
        maxSteps: z.number().int().min(1).max(1_000).default(100),
      })
      .prefault({}),
    /** The audit log (docs/security.md, "Audit log"). */
    audit: z
      .strictObject({
        enabled: z.boolean().default(true),
        /**
         * Where the log is kept: a SQLite file path (relative to the working directory), or a
         * postgres:// URL (write the password as ${VAR}). Default: <temporal.dataDir>/audit.db.
         */
        store: z
          .string()
          .min(1)
          .refine((text) => !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || /^postgres(ql)?:\/\/./.test(text), 'must be a SQLite file path or a postgres:// (postgresql://) URL')
          .optional(),
        /**
         * With it, argument digests are HMAC-SHA-256 under this key, so a reader of the log cannot
         * confirm a guess of short arguments; without it, plain SHA-256. Put it in ${VAR}.
         */
        digestKey: z.string().min(32, 'must be at least 32 characters (use a random secret, e.g. openssl rand -base64 32)').optional(),
        /** How a call's arguments are recorded: their digest only, a copy with `redactKeys` masked, or in full. */
        arguments: z.enum(AUDIT_ARGUMENTS, { error: 'must be "digest", "redacted" or "full"' }).default('digest'),
        /**
         * Audit records one key or shard workflow holds while the store cannot be written; beyond
         * it the workflow refuses new calls (-32029) until they are out: the log fails closed.
         */
        maxPending: z.number().int().min(1).max(1_000).default(1_000),
        /**
         * How long a call's audit record may wait in its key or shard workflow to leave with others
         * (100 records leave at once). Each export is a Temporal activity: at 1 s a key that served
         * a call a second paid one per call (docs/performance.md).
         */
        flushMs: z.number().int().min(100).max(60_000).default(5_000),
        /** With `arguments: redacted`: object keys (any depth, case-insensitive) whose values are replaced by "[redacted]". */
        redactKeys: z.array(z.string().min(1)).default(['password', 'secret', 'token', 'apiKey', 'api_key', 'authorization', 'cookie', 'credentials']),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Unfinished calls on one (tenant, ordering key); more are refused with a retry-after hint. */
        maxQueuedPerKey: z.number().int().min(1).max(1_000_000).default(10_000),
        /** Unfinished calls in one tenant. */
        maxQueuedPerTenant: z.number().int().min(1).max(10_000_000).default(100_000),
        /** The retry-after hint given with a refusal. */
        retryAfterMs: z.number().int().min(100).max(3_600_000).default(5_000),
      })
      .prefault({}),
    encryption: EncryptionSchema.optional(),
  });

export const ConfigSchema = ConfigSchemaShape.superRefine((config, ctx) => {
    if (config.worker.workflowStackTraces && config.worker.workflowThreads === 0) {
      ctx.addIssue({ code: 'custom', path: ['worker', 'workflowThreads'], message: 'must be 1 or more when worker.workflowStackTraces is on (the stack capture hooks every promise of the thread it runs on)' });
    }
    if (config.encryption !== undefined) {
      const { keys, currentKeyId, hashKey } = config.encryption;
      const ids = new Map<string, number>();
      keys.forEach((k, index) => {
        const first = ids.get(k.id);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['encryption', 'keys', index, 'id'], message: `duplicate key id "${k.id}" (also encryption.keys[${first}])` });
        ids.set(k.id, index);
        if (k.key === hashKey) ctx.addIssue({ code: 'custom', path: ['encryption', 'hashKey'], message: `must differ from encryption.keys[${index}].key` });
      });
      if (!ids.has(currentKeyId)) {
        ctx.addIssue({ code: 'custom', path: ['encryption', 'currentKeyId'], message: `names no key in encryption.keys (ids: ${[...ids.keys()].map((id) => `"${id}"`).join(', ')})` });
      }
    }
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
    const keyNames = new Map<string, string>();
    config.tenants.forEach((tenant, index) => {
      if (tenants.has(tenant.id)) ctx.addIssue({ code: 'custom', path: ['tenants', index, 'id'], message: `duplicate tenant id "${tenant.id}"` });
      tenants.set(tenant.id, index);
      for (const field of ['apiKeys', 'adminApiKeys'] as const) {
        tenant[field].forEach((entry, k) => {
          const key = apiKeySecret(entry);
          const owner = keys.get(key);
          // Never echo the key itself: it is a secret.
          if (owner !== undefined) ctx.addIssue({ code: 'custom', path: ['tenants', index, field, k], message: `API key is already used by tenant "${owner}"` });
          keys.set(key, tenant.id);
          if (typeof entry === 'string') return;
          const named = keyNames.get(entry.name);
          if (named !== undefined) ctx.addIssue({ code: 'custom', path: ['tenants', index, field, k, 'name'], message: `duplicate API key name "${entry.name}" (also in tenant "${named}")` });
          keyNames.set(entry.name, tenant.id);
        });
      }
    });
    const oauth = config.auth.oauth;
    config.servers.forEach((server, index) => {
      if (server.transport !== 'http') return;
      const credentials = server.credentials;
      const path = ['servers', index, 'credentials'];
      if (credentials.mode === 'tenantSecret') {
        for (const tenant of Object.keys(credentials.tenants)) {
          if (!config.tenants.some((t) => t.id === tenant)) ctx.addIssue({ code: 'custom', path: [...path, 'tenants', tenant], message: `"${tenant}" is not a configured tenant` });
        }
      }
      if (credentials.mode !== 'tokenExchange') return;
      if (credentials.audience === undefined && credentials.resource === undefined) ctx.addIssue({ code: 'custom', path, message: 'set audience or resource (or both): the token asked for must name this server' });
      if (oauth === undefined) ctx.addIssue({ code: 'custom', path: [...path, 'mode'], message: 'tokenExchange exchanges callers\' OAuth tokens: configure auth.oauth' });
      if (config.auth.credentialKey === undefined) ctx.addIssue({ code: 'custom', path: ['auth', 'credentialKey'], message: `required when a server uses tokenExchange (servers[${index}])` });
    });
    config.tenants.forEach((tenant, index) => {
      if (tenant.apiKeys.length === 0 && oauth === undefined) {
        ctx.addIssue({ code: 'custom', path: ['tenants', index, 'apiKeys'], message: 'at least one API key is required unless auth.oauth is configured' });
      }
      if (oauth === undefined) return;
      for (const field of ['apiKeys', 'adminApiKeys'] as const) {
        tenant[field].forEach((entry, k) => {
          const key = apiKeySecret(entry);
          // A key shaped like a JWT would be checked as a key first and could shadow a token.
          if (JWT_SHAPE.test(key)) ctx.addIssue({ code: 'custom', path: ['tenants', index, field, k], message: 'an API key must not look like a JWT (three dot-separated base64url parts) when auth.oauth is set' });
        });
      }
    });
    if (oauth !== undefined) {
      const { tenant, tenantFixed } = oauth.claims;
      if ((tenant === undefined) === (tenantFixed === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['auth', 'oauth', 'claims'], message: 'set exactly one of tenant (a claim naming the tenant) and tenantFixed (one tenant for every token)' });
      }
      if (config.tenants.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['tenants'], message: 'auth.oauth maps tokens to configured tenants: configure at least one tenant' });
      }
      if (tenantFixed !== undefined && config.tenants.length > 0 && !config.tenants.some((t) => t.id === tenantFixed)) {
        ctx.addIssue({ code: 'custom', path: ['auth', 'oauth', 'claims', 'tenantFixed'], message: `"${tenantFixed}" is not a configured tenant` });
      }
      if (new URL(oauth.resource).hash !== '') {
        ctx.addIssue({ code: 'custom', path: ['auth', 'oauth', 'resource'], message: 'must not contain a fragment (RFC 8707)' });
      }
    }
    if (config.tenants.some((t) => t.id === 'default')) {
      // "default" is the implicit unauthenticated tenant; a configured one would be ambiguous.
      ctx.addIssue({ code: 'custom', path: ['tenants'], message: 'tenant id "default" is reserved' });
    }
    if (config.tenants.length === 0 && !isLoopback(config.gateway.host)) {
      ctx.addIssue({ code: 'custom', path: ['tenants'], message: `at least one tenant with apiKeys is required when gateway.host (${config.gateway.host}) is not a loopback address` });
    }
    config.servers.forEach((server, index) => {
      const policies: Array<[Array<string | number>, z.infer<typeof CallPolicySchema>]> = [
        [['servers', index, 'policy'], server.policy],
        ...Object.entries(server.toolPolicies).map(([tool, policy]): [Array<string | number>, z.infer<typeof CallPolicySchema>] => [['servers', index, 'toolPolicies', tool], policy]),
      ];
      for (const [path, policy] of policies) {
        const max = policy.maxDeadlineMs ?? server.policy.maxDeadlineMs ?? config.defaults.maxDeadlineMs;
        const deadline = policy.deadlineMs ?? server.policy.deadlineMs ?? config.defaults.deadlineMs;
        if (deadline > max) ctx.addIssue({ code: 'custom', path: [...path, 'deadlineMs'], message: `the default deadline (${deadline} ms) is longer than maxDeadlineMs (${max} ms)` });
      }
    });
    if (config.defaults.deadlineMs > config.defaults.maxDeadlineMs) {
      ctx.addIssue({ code: 'custom', path: ['defaults', 'deadlineMs'], message: `must not be longer than defaults.maxDeadlineMs (${config.defaults.maxDeadlineMs})` });
    }
    config.servers.forEach((server, index) => {
      for (const [tool, compensation] of Object.entries(server.compensations)) {
        const path = ['servers', index, 'compensations', tool];
        const target = compensation.tool;
        const at = target.indexOf(config.gateway.toolSeparator);
        const known = config.servers.some((s) => s.unprefixed) || (at > 0 && config.servers.some((s) => s.id === target.slice(0, at)));
        if (!known) ctx.addIssue({ code: 'custom', path: [...path, 'tool'], message: `"${target}" names no configured server (write "<server id>${config.gateway.toolSeparator}<tool>")` });
        try {
          for (const ref of templateReferences(compensation.arguments)) {
            // The step's arguments and result are only known at run time; the saga's fields are fixed.
            if (ref.path.startsWith('saga') && !['saga.id', 'saga.step'].includes(ref.path)) {
              ctx.addIssue({ code: 'custom', path: [...path, ...ref.where.split('.')], message: `"{{${ref.path}}}": a saga has only {{saga.id}} and {{saga.step}}` });
            }
          }
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          ctx.addIssue({ code: 'custom', path, message: error.message });
        }
      }
    });
    if (config.auth.policy !== undefined) checkPolicy(config, keyNames, ctx);
    // Bare names are unambiguous only when no server has a prefix: several unprefixed servers
    // share one namespace, where the first server in this list that offers a name owns it.
    const unprefixed = config.servers.filter((s) => s.unprefixed);
    if (unprefixed.length > 0 && unprefixed.length < config.servers.length) {
      ctx.addIssue({ code: 'custom', path: ['servers', config.servers.indexOf(unprefixed[0]!), 'unprefixed'], message: 'only allowed when every configured server is unprefixed' });
    }
  });

/**
 * What the policy's schema cannot see alone: tenants, key names and servers it names must exist, and
 * `<server>.<name>` globs need their dot. A typo there would quietly refuse (or allow) the wrong thing.
 */
function checkPolicy(config: z.infer<typeof ConfigSchemaShape>, keyNames: ReadonlyMap<string, string>, ctx: z.RefinementCtx): void {
  const servers = config.servers.map((s) => s.id);
  config.auth.policy!.rules.forEach((rule, index) => {
    const at = (...path: Array<string | number>) => ['auth', 'policy', 'rules', index, ...path];
    const who = rule.principals ?? {};
    who.tenants?.forEach((tenant, t) => {
      if (!config.tenants.some((c) => c.id === tenant)) ctx.addIssue({ code: 'custom', path: at('principals', 'tenants', t), message: `"${tenant}" is not a configured tenant` });
    });
    who.apiKeys?.forEach((name, k) => {
      if (!keyNames.has(name)) ctx.addIssue({ code: 'custom', path: at('principals', 'apiKeys', k), message: `"${name}" names no API key (give one a name: {name, key} in tenants[].apiKeys)` });
    });
    if ((who.groups !== undefined || who.roles !== undefined) && config.auth.oauth === undefined) {
      ctx.addIssue({ code: 'custom', path: at('principals'), message: 'groups and roles come from OAuth tokens: configure auth.oauth (and its claims.groups or claims.roles)' });
    }
    for (const side of ['allow', 'deny'] as const) {
      const grant = rule[side];
      if (grant === undefined) continue;
      for (const kind of ['tools', 'prompts', 'resources'] as const) {
        grant[kind]?.forEach((glob, g) => {
          const split = splitQualifiedGlob(glob);
          if (split === undefined) {
            ctx.addIssue({ code: 'custom', path: at(side, kind, g), message: `"${glob.slice(0, 100)}" must be "<server>.<name>" (globs with *), or "*" for everything` });
          } else if (!servers.some((id) => globPattern(split.server).test(id))) {
            ctx.addIssue({ code: 'custom', path: at(side, kind, g), message: `"${split.server.slice(0, 63)}" matches no configured server id` });
          }
        });
      }
      grant.broker?.forEach((glob, g) => {
        if (!BROKER_TOOL_NAMES.some((name) => globPattern(glob).test(name))) {
          ctx.addIssue({ code: 'custom', path: at(side, 'broker', g), message: `"${glob.slice(0, 63)}" matches no broker tool (${BROKER_TOOL_NAMES.join(', ')})` });
        }
      });
    }
  });
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export type Config = z.infer<typeof ConfigSchema>;
export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type RetryConfig = z.infer<typeof RetrySchema>;
export type CallPolicy = z.infer<typeof CallPolicySchema>;
export type OAuthConfig = z.infer<typeof OAuthSchema>;
export type PolicyConfig = z.infer<typeof PolicySchema>;
export type ApiKeyEntry = z.infer<typeof ApiKeyEntrySchema>;
export type EncryptionConfig = z.infer<typeof EncryptionSchema>;
export type CompensationConfig = z.infer<typeof CompensationSchema>;
export type Priority = (typeof PRIORITIES)[number];
export type Mutation = (typeof MUTATIONS)[number];
export type DeadLetterPolicy = (typeof DEAD_LETTER_POLICIES)[number];

/** How key and shard workflows are started: the gateway and the worker's activities must agree. */
export function keySettings(config: Config) {
  return { ...config.callPath, maxQueuedPerKey: config.limits.maxQueuedPerKey, maxQueuedPerTenant: config.limits.maxQueuedPerTenant, auditMaxPending: config.audit.maxPending, auditFlushMs: config.audit.flushMs };
}

/** Where the audit log is kept (config `audit.store`); undefined when the log is off. */
export function auditStoreLocation(config: Config): { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string } | undefined {
  if (!config.audit.enabled) return undefined;
  const store = config.audit.store;
  if (store !== undefined && /^postgres(ql)?:\/\//.test(store)) return { kind: 'postgres', url: store };
  return { kind: 'sqlite', path: store ?? `${config.temporal.dataDir}/audit.db` };
}
