// Temporal connections for the gateway and the worker, and the search attributes every call carries.
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../shared/messages.js';
import type { Logger } from '../observability/log.js';

export interface ConnectOptions {
  waitMs?: number;
  /** Tracing's interceptors (observability/tracing.ts): start, update and signal carry the active trace. */
  workflowInterceptors?: WorkflowClientInterceptor[];
  /** From `dataConverterFor(config.encryption)` (data-converter.ts): every client of Switchyard needs it. */
  dataConverter?: DataConverter | undefined;
}

export async function connectClient(address: string, namespace: string, log: Logger, options: ConnectOptions = {}): Promise<{ connection: Connection; client: Client }> {
  const { waitMs = 30_000, workflowInterceptors = [], dataConverter } = options;
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      return { connection, client: new Client({ connection, namespace, interceptors: { workflow: workflowInterceptors }, ...(dataConverter ? { dataConverter } : {}) }) };
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`cannot reach Temporal at ${address}: ${(error as Error).message}`);
      if (attempt === 1) log.warn('Temporal not reachable yet; retrying', { address });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** True when Temporal answers within a second and a half. Never throws (for /readyz). */
export async function isTemporalReachable(client: Client): Promise<boolean> {
  try {
    await client.withDeadline(Date.now() + 1_500, () => client.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers the broker's search attributes on a real cluster if they are missing (the embedded
 * dev server registers them at start). Without them, no call could start.
 */
export async function ensureSearchAttributes(client: Client, namespace: string, log: Logger): Promise<void> {
  const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length === 0) return;
  try {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
    });
    log.info('registered search attributes', { names: missing.map((k) => k.name).join(',') });
  } catch (error) {
    throw new Error(
      `search attributes ${missing.map((k) => k.name).join(', ')} are missing in namespace "${namespace}" and could not be registered ` +
        `(${(error as Error).message}). Register them with: ${missing.map((k) => `temporal operator search-attribute create --namespace ${namespace} --name ${k.name} --type Keyword`).join(' && ')}`,
    );
  }
}
