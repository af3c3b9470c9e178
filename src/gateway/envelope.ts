// Builds the durable envelope of a tools/call from the request's _meta, its HTTP headers and the
// config defaults, in that order of precedence. Tenant and principal come from authentication only.
import { createHash, randomBytes } from 'node:crypto';
import { INVALID_PARAMS, JsonRpcError } from './jsonrpc.js';
import type { Config, ServerConfig } from '../config/schema.js';
import type { CallEnvelope } from '../shared/envelope.js';
import type { Principal } from './middleware/auth.js';

export const META = {
  correlationId: 'switchyard/correlation_id',
  orderingKey: 'switchyard/ordering_key',
  idempotencyKey: 'switchyard/idempotency_key',
  deadlineMs: 'switchyard/deadline_ms',
  status: 'switchyard/status',
} as const;

export const HEADERS = {
  orderingKey: 'x-switchyard-ordering-key',
  idempotencyKey: 'idempotency-key',
  deadlineMs: 'x-deadline-ms',
} as const;

/** Longest ordering or idempotency key accepted. */
export const MAX_KEY_LENGTH = 200;

export interface EnvelopeInput {
  principal: Principal;
  server: ServerConfig;
  tool: string;
  publicTool: string;
  arguments: Record<string, unknown>;
  meta: Record<string, unknown> | undefined;
  headers: Record<string, string | string[] | undefined>;
  config: Config;
  now: number;
}

export function buildEnvelope(input: EnvelopeInput): CallEnvelope {
  const { config, now } = input;
  const orderingKey = keyField(input, 'orderingKey');
  const idempotencyKey = keyField(input, 'idempotencyKey');
  const deadlineMs = deadlineField(input) ?? config.defaults.deadlineMs;
  return {
    correlationId: idempotencyKey === undefined ? uuidv7(now) : idempotentCorrelationId(input.principal.tenant, idempotencyKey),
    tenant: input.principal.tenant,
    principal: input.principal.subject,
    serverId: input.server.id,
    tool: input.tool,
    publicTool: input.publicTool,
    arguments: input.arguments,
    ...(orderingKey !== undefined ? { orderingKey } : {}),
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    acceptedAt: now,
    deadlineAt: now + deadlineMs,
    requestTimeoutMs: input.server.timeoutMs,
    heartbeatTimeoutMs: config.worker.heartbeatTimeoutMs,
    retry: config.defaults.retry,
  };
}

function keyField(input: EnvelopeInput, field: 'orderingKey' | 'idempotencyKey'): string | undefined {
  const fromMeta = input.meta?.[META[field]];
  const fromHeader = header(input.headers, HEADERS[field]);
  const value = fromMeta !== undefined ? fromMeta : fromHeader;
  if (value === undefined) return undefined;
  const where = fromMeta !== undefined ? `_meta["${META[field]}"]` : `header ${HEADERS[field]}`;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_KEY_LENGTH || hasControlCharacters(value)) {
    throw new JsonRpcError(INVALID_PARAMS, `${where} must be a string of 1-${MAX_KEY_LENGTH} printable characters`);
  }
  return value;
}

function deadlineField(input: EnvelopeInput): number | undefined {
  const fromMeta = input.meta?.[META.deadlineMs];
  const fromHeader = header(input.headers, HEADERS.deadlineMs);
  if (fromMeta === undefined && fromHeader === undefined) return undefined;
  const where = fromMeta !== undefined ? `_meta["${META.deadlineMs}"]` : `header ${HEADERS.deadlineMs}`;
  const value = fromMeta !== undefined ? fromMeta : /^\d+$/.test(fromHeader!) ? Number(fromHeader) : Number.NaN;
  const max = input.config.defaults.deadlineMs * 1_000;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new JsonRpcError(INVALID_PARAMS, `${where} must be an integer number of milliseconds between 1 and ${max}`);
  }
  return value;
}

function header(headers: EnvelopeInput['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function hasControlCharacters(value: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(value);
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
export function idempotentCorrelationId(tenant: string, key: string): string {
  const bytes = createHash('sha256').update(`${tenant}\u0000${key}`, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // v8: custom, name-based
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return formatUuid(bytes);
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
