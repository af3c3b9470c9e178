// Builds the durable envelope of a tools/call from the request's _meta, its HTTP headers and the
// config defaults, in that order of precedence. Tenant and principal come from authentication only.
import { envelopeAudit } from '../audit/arguments.js';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseInput } from './arguments.js';
import { INVALID_PARAMS, JsonRpcError, UNAUTHORIZED } from './jsonrpc.js';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { PRIORITIES, type CallPolicy, type Config, type Mutation, type Priority, type ServerConfig } from '../config/schema.js';
import type { CallEnvelope } from '../shared/envelope.js';
import { hashKeyOf, idempotencyDigest, storedOrderingKey, type HashKey } from '../shared/key-hash.js';
import type { Principal } from './middleware/auth.js';

export const META = {
  correlationId: 'switchyard/correlation_id',
  orderingKey: 'switchyard/ordering_key',
  idempotencyKey: 'switchyard/idempotency_key',
  deadlineMs: 'switchyard/deadline_ms',
  deadline: 'switchyard/deadline',
  priority: 'switchyard/priority',
  acceptAsync: 'switchyard/accept_async',
  status: 'switchyard/status',
  retryAfterMs: 'switchyard/retry_after_ms',
} as const;

export const HEADERS = {
  orderingKey: 'x-switchyard-ordering-key',
  idempotencyKey: 'idempotency-key',
  deadlineMs: 'x-deadline-ms',
  priority: 'x-switchyard-priority',
} as const;

/** Longest key accepted: ordering and idempotency keys, saga ids and step names. */
export const MAX_KEY_LENGTH = 200;

/**
 * Largest tool arguments (as JSON) a call may carry. Temporal refuses any payload over 2 MB
 * (`limit.blobSize.error`), and the arguments travel inside the envelope, which is recorded as a
 * payload more than once (the call's input, its activity's input, a dead letter's input); a larger
 * call would fail at recording as "Temporal is unavailable" however often it was retried. The same
 * figure as the result limit (DEFAULT_MAX_RESULT_BYTES), leaving room for the rest of the envelope.
 */
export const MAX_ARGUMENT_BYTES = 1_536 * 1024;

export interface EnvelopeInput {
  principal: Principal;
  server: ServerConfig;
  tool: string;
  publicTool: string;
  arguments: Record<string, unknown>;
  /** The downstream tool's annotations: the default mutation class comes from them. */
  annotations?: ToolAnnotations;
  meta: Record<string, unknown> | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** The MCP session, for `ordering: session`. */
  sessionId?: string;
  /** How to name a `_meta` field in an error; switchyard.submit names its own arguments. */
  fieldName?: (metaKey: string) => string;
  /** How to name the tool's arguments in an error (default `arguments`). */
  argumentsName?: string;
  config: Config;
  now: number;
}

export interface BuiltEnvelope {
  envelope: CallEnvelope;
  /** `true`: answer "accepted" at once; `false`: wait for the outcome up to the deadline; unset: up to syncWaitMs. */
  acceptAsync?: boolean;
}

export function buildEnvelope(input: EnvelopeInput): BuiltEnvelope {
  const { config, now, server } = input;
  const policy = effectivePolicy(server, input.tool);
  checkRecordable(input.arguments, input.argumentsName ?? 'arguments');
  const hashKey = hashKeyOf(config.encryption);
  const givenOrderingKey = keyField(input, 'orderingKey') ?? derivedOrderingKey(input, policy.ordering);
  // From here on the key is only compared, routed and searched for, so with encryption it is its
  // keyed hash everywhere (shared/key-hash.ts); the plaintext goes nowhere.
  const orderingKey = givenOrderingKey === undefined ? undefined : storedOrderingKey(hashKey, input.principal.tenant, givenOrderingKey);
  const idempotencyKey = keyField(input, 'idempotencyKey');
  const maxDeadlineMs = policy.maxDeadlineMs ?? config.defaults.maxDeadlineMs;
  const deadlineAt = deadlineField(input, maxDeadlineMs) ?? now + (policy.deadlineMs ?? config.defaults.deadlineMs);
  const acceptAsync = booleanField(input, META.acceptAsync);
  const mutation = policy.mutation ?? mutationFromAnnotations(input.annotations);
  return {
    envelope: {
      correlationId: idempotencyKey === undefined ? uuidv7(now) : idempotentCorrelationId(input.principal.tenant, idempotencyKey, hashKey),
      tenant: input.principal.tenant,
      principal: input.principal.subject,
      identity: identityOf(input.principal),
      serverId: server.id,
      tool: input.tool,
      publicTool: input.publicTool,
      arguments: input.arguments,
      ...(orderingKey !== undefined ? { orderingKey } : {}),
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      acceptedAt: now,
      deadlineAt,
      requestTimeoutMs: server.timeoutMs,
      heartbeatTimeoutMs: config.worker.heartbeatTimeoutMs,
      retry: { ...config.defaults.retry, ...server.policy.retry, ...server.toolPolicies[input.tool]?.retry },
      priority: priorityField(input) ?? policy.priority ?? config.defaults.priority,
      mutation,
      execution: executionOf(server, mutation, config.callPath.localActivityMaxMs),
      onDeadLetter: policy.onDeadLetter ?? config.defaults.onDeadLetter,
      ...callerCredential(input),
      ...(config.audit.enabled ? { audit: envelopeAudit(input.principal, input.arguments, config.audit) } : {}),
    },
    ...(acceptAsync !== undefined ? { acceptAsync } : {}),
  };
}

/** A tokenExchange server's calls carry the caller's sealed token; a caller without one (an API key) is refused here. */
function callerCredential(input: EnvelopeInput): { credential?: string } {
  const { server, principal } = input;
  if (server.transport !== 'http' || server.credentials.mode !== 'tokenExchange') return {};
  if (principal.credential === undefined) {
    throw new JsonRpcError(UNAUTHORIZED, `${input.publicTool} acts as the signed-in user: call it with an OAuth access token, not an API key`);
  }
  return { credential: principal.credential };
}

/** The caller's policy-relevant identity, recorded in the envelope for the worker's re-check before a redrive. */
export function identityOf(principal: Principal): NonNullable<CallEnvelope['identity']> {
  return {
    admin: principal.admin,
    ...(principal.groups !== undefined && principal.groups.length > 0 ? { groups: principal.groups } : {}),
    ...(principal.roles !== undefined && principal.roles.length > 0 ? { roles: principal.roles } : {}),
    ...(principal.keyName !== undefined ? { keyName: principal.keyName } : {}),
  };
}

/**
 * How a key workflow runs a call to this server (config `execution`). `auto` picks a local
 * activity for a tool that is safe to repeat and whose timeout is short: a worker killed mid-call
 * runs a local activity again, and a long one would hold its workflow task open. A
 * non-idempotent tool always runs as a regular activity, whose start Temporal records, so a
 * worker lost mid-request is an unknown outcome and is never repeated.
 */
export function executionOf(server: ServerConfig, mutation: Mutation, localActivityMaxMs: number): 'local' | 'activity' {
  if (mutation === 'non_idempotent') return 'activity';
  if (server.execution !== 'auto') return server.execution;
  return server.timeoutMs <= localActivityMaxMs ? 'local' : 'activity';
}

/** The tool's policy over its server's policy (each field separately). */
export function effectivePolicy(server: ServerConfig, tool: string): CallPolicy {
  const own = server.toolPolicies[tool] ?? {};
  const merged: CallPolicy = { ...server.policy };
  for (const [key, value] of Object.entries(own)) if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  return merged;
}

/**
 * MCP annotations are hints from the server: readOnlyHint means no side effects, idempotentHint
 * means repeating the call has no further effect. A tool with neither is treated as unsafe to repeat.
 */
export function mutationFromAnnotations(annotations: ToolAnnotations | undefined): Mutation {
  if (annotations?.readOnlyHint === true) return 'read_only';
  if (annotations?.idempotentHint === true) return 'idempotent';
  return 'non_idempotent';
}

function where(input: EnvelopeInput, metaKey: string, headerName?: string, fromHeader?: boolean): string {
  if (fromHeader && headerName !== undefined) return `header ${headerName}`;
  return input.fieldName ? input.fieldName(metaKey) : `_meta["${metaKey}"]`;
}

function keyField(input: EnvelopeInput, field: 'orderingKey' | 'idempotencyKey'): string | undefined {
  const fromMeta = input.meta?.[META[field]];
  const fromHeader = header(input.headers, HEADERS[field]);
  const value = fromMeta !== undefined ? fromMeta : fromHeader;
  if (value === undefined) return undefined;
  const name = where(input, META[field], HEADERS[field], fromMeta === undefined);
  return validKey(value, name);
}

/**
 * The one rule for every client-chosen key (ordering and idempotency keys, saga ids and step
 * names, wherever they come from): 1-200 characters, no controls, no lone surrogates. `name` says
 * where the value came from, for the -32602 message.
 */
export function validKey(value: unknown, name: string): string {
  return parseInput(KeySchema, value, { field: name });
}

const KEY_RULE = `must be a string of 1-${MAX_KEY_LENGTH} printable characters`;

/** The key rule as a schema, for broker tool arguments and `_meta` fields that are keys. */
export const KeySchema = z
  .string({ error: KEY_RULE })
  .min(1, { error: KEY_RULE })
  .max(MAX_KEY_LENGTH, { error: KEY_RULE })
  .refine((value) => !hasControlCharacters(value), { error: KEY_RULE });

/**
 * Refuses with -32602 a value that Temporal could not record (see MAX_ARGUMENT_BYTES), so the
 * client learns that retrying cannot help. `name` is the field, e.g. `arguments`.
 */
export function checkRecordable(value: unknown, name: string, maxBytes = MAX_ARGUMENT_BYTES): void {
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  if (bytes > maxBytes) {
    throw new JsonRpcError(
      INVALID_PARAMS,
      `${name}: ${bytes} bytes as JSON, over the limit of ${maxBytes} bytes (${+(maxBytes / 1024 / 1024).toFixed(2)} MiB) that Switchyard can record durably (Temporal refuses payloads over 2 MB); nothing was started`,
    );
  }
}

/** An ordering key from the config's `ordering` policy, when the request gave none. */
function derivedOrderingKey(input: EnvelopeInput, ordering: CallPolicy['ordering']): string | undefined {
  if (ordering === undefined || ordering === 'none') return undefined;
  if (ordering === 'principal') return `principal:${input.principal.subject}`;
  if (ordering === 'session') return input.sessionId === undefined ? undefined : `session:${input.sessionId}`;
  const pointer = ordering.slice('arg:'.length);
  const value = resolvePointer(input.arguments, pointer);
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new JsonRpcError(INVALID_PARAMS, `argument ${pointer} is required (a string, number or boolean): calls of ${input.publicTool} are ordered by it`);
  }
  return validKey(`arg:${pointer}=${String(value)}`, `argument ${pointer} (the ordering key)`);
}

/** RFC 6901. */
export function resolvePointer(document: unknown, pointer: string): unknown {
  let current = document;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, token)) return undefined;
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}

/** The absolute deadline (epoch ms) the request asked for, if any. */
function deadlineField(input: EnvelopeInput, maxMs: number): number | undefined {
  const relative = input.meta?.[META.deadlineMs];
  const absolute = input.meta?.[META.deadline];
  const fromHeader = header(input.headers, HEADERS.deadlineMs);
  if (relative !== undefined && absolute !== undefined) {
    throw new JsonRpcError(INVALID_PARAMS, `give either ${where(input, META.deadlineMs)} or ${where(input, META.deadline)}, not both`);
  }
  if (absolute !== undefined) {
    const name = where(input, META.deadline);
    const at = typeof absolute === 'string' && RFC3339.test(absolute) ? Date.parse(absolute) : Number.NaN;
    if (Number.isNaN(at)) throw new JsonRpcError(INVALID_PARAMS, `${name} must be an RFC 3339 date-time with a time zone, e.g. 2026-01-31T12:00:00Z`);
    if (at <= input.now) throw new JsonRpcError(INVALID_PARAMS, `${name} is in the past`);
    if (at - input.now > maxMs) throw new JsonRpcError(INVALID_PARAMS, `${name} is more than ${maxMs} ms away (the longest deadline allowed for this tool)`);
    return at;
  }
  if (relative === undefined && fromHeader === undefined) return undefined;
  const name = where(input, META.deadlineMs, HEADERS.deadlineMs, relative === undefined);
  const value = relative !== undefined ? relative : /^\d+$/.test(fromHeader!) ? Number(fromHeader) : Number.NaN;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > maxMs) {
    throw new JsonRpcError(INVALID_PARAMS, `${name} must be an integer number of milliseconds between 1 and ${maxMs}`);
  }
  return input.now + value;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function priorityField(input: EnvelopeInput): Priority | undefined {
  const fromMeta = input.meta?.[META.priority];
  const fromHeader = header(input.headers, HEADERS.priority);
  const value = fromMeta !== undefined ? fromMeta : fromHeader;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(PRIORITIES as readonly string[]).includes(value)) {
    throw new JsonRpcError(INVALID_PARAMS, `${where(input, META.priority, HEADERS.priority, fromMeta === undefined)} must be one of ${PRIORITIES.join(', ')}`);
  }
  return value as Priority;
}

function booleanField(input: EnvelopeInput, key: string): boolean | undefined {
  const value = input.meta?.[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new JsonRpcError(INVALID_PARAMS, `${where(input, key)} must be true or false`);
  return value;
}

function header(headers: EnvelopeInput['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * C0 and C1 controls, and lone UTF-16 surrogates: a lone surrogate has no UTF-8 encoding, so
 * Temporal (search attributes, workflow ids) cannot store it, and hashing an idempotency key
 * would turn it into U+FFFD, making two different keys one call.
 */
function hasControlCharacters(value: string): boolean {
  return /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value);
}

/** Time-ordered UUID (RFC 9562 v7): correlation ids sort by acceptance time in the Web UI. */
export function uuidv7(now: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return formatUuid(bytes);
}

/**
 * A repeated idempotency key in a tenant is the same call, so it gets the same correlation id,
 * and therefore the same workflow id: Temporal's id uniqueness is the dedupe record.
 */
export function idempotentCorrelationId(tenant: string, key: string, hashKey: HashKey): string {
  // Workflow ids are stored in the clear: with encryption the digest is keyed (shared/key-hash.ts).
  const bytes = idempotencyDigest(hashKey, `${tenant}\u0000${key}`).subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // v8: custom, name-based
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return formatUuid(bytes);
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
