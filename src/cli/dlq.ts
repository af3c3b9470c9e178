// `switchyard dlq list|show|redrive|discard`: the operator's side of the dead-letter list. It
// talks to Temporal directly (the gateway need not run) with the config's address and namespace.
import { userInfo } from 'node:os';
import { openAuditStore } from '../audit/open.js';
import { StoreAuditSink, type OperatorBy } from '../audit/sink.js';
import type { Config } from '../config/schema.js';
import { DeadLetterNotFound, DeadLetterNotPending, DeadLetterService, deadLetterSummary, RedriveRefused } from '../services/dead-letters.js';
import { DEFAULT_TENANT } from '../gateway/middleware/auth.js';
import type { Logger } from '../observability/log.js';
import { CORRELATION_ID } from '../shared/ids.js';
import { connectClient } from '../temporal/client.js';
import { dataConverterFor } from '../temporal/data-converter.js';

export const DLQ_USAGE = `Usage: switchyard dlq <list|show|redrive|discard> [CORRELATION_ID] [--tenant ID] [--note TEXT] [--json]

  list                 pending dead letters (all tenants unless --tenant)
  show ID              why the call was dead-lettered, its attempts and the operator actions on it
  redrive ID           run the call again (same arguments, a fresh deadline of the same length)
  discard ID           give up on the call; calls halted behind it on its ordering key continue

--tenant defaults to "${DEFAULT_TENANT}" for show, redrive and discard.`;

export interface DlqArgs {
  action: string | undefined;
  id: string | undefined;
  tenant: string | undefined;
  note: string | undefined;
  json: boolean;
}

export async function runDlq(args: DlqArgs, config: Config, log: Logger, out: (text: string) => void, err: (text: string) => void, cwd: string): Promise<number> {
  const { action, id } = args;
  if (action === undefined || !['list', 'show', 'redrive', 'discard'].includes(action)) {
    err(`switchyard dlq: expected list, show, redrive or discard\n\n${DLQ_USAGE}\n`);
    return 2;
  }
  if (action !== 'list' && (id === undefined || !CORRELATION_ID.test(id))) {
    err(`switchyard dlq ${action}: expected the correlation id (a UUID) of a dead-lettered call\n`);
    return 2;
  }
  const address = config.temporal.address === 'embedded' ? `127.0.0.1:${config.temporal.port}` : config.temporal.address;
  const { connection, client } = await connectClient(address, config.temporal.namespace, log, { dataConverter: dataConverterFor(config.encryption) });
  // Redrives and discards are operator actions: written to the audit log before this answers.
  const audit = action === 'redrive' || action === 'discard' ? await openAuditStore(config, cwd) : undefined;
  try {
    const service = new DeadLetterService(client, audit !== undefined ? new StoreAuditSink(audit, log) : undefined);
    const tenant = args.tenant ?? DEFAULT_TENANT;
    const by: OperatorBy = { who: { subject: userInfo().username, via: 'cli' }, via: 'cli' };
    if (action === 'list') {
      const entries = await service.list(args.tenant);
      if (args.json) out(`${JSON.stringify(entries, null, 2)}\n`);
      else if (entries.length === 0) out('No dead letters.\n');
      else for (const e of entries) out(`${e.correlationId}  tenant=${e.tenant}  ${e.tool ?? '?'}${e.orderingKey !== undefined ? `  key=${e.orderingKey}` : ''}${e.sagaId !== undefined ? `  saga=${e.sagaId}` : ''}  since ${e.deadLetteredAt}\n`);
      return 0;
    }
    const status =
      action === 'show' ? await service.show(tenant, id!) : action === 'redrive' ? await service.redrive(tenant, id!, by) : await service.discard(tenant, id!, by, args.note);
    const summary = { correlation_id: id, tenant, tool: status.tool, ordering_key: status.orderingKey, ...deadLetterSummary(status) };
    out(args.json ? `${JSON.stringify(summary, null, 2)}\n` : `${Object.entries(summary).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n')}\n`);
    return 0;
  } catch (error) {
    if (error instanceof DeadLetterNotFound || error instanceof DeadLetterNotPending || error instanceof RedriveRefused) {
      err(`switchyard dlq ${action}: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await audit?.close();
    await connection.close();
  }
}
