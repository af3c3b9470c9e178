// `switchyard search-key VALUE [--tenant ID]`: what an ordering key or idempotency key is stored
// as, so an operator can search the Web UI or `temporal workflow list` for it when encryption
// keeps the plaintext out of search attributes and workflow ids (shared/key-hash.ts).
import type { Config } from '../config/schema.js';
import { DEFAULT_TENANT } from '../gateway/middleware/auth.js';
import { idempotentCorrelationId } from '../gateway/envelope.js';
import { callWorkflowId, keyWorkflowId } from '../shared/ids.js';
import { hashKeyOf, storedOrderingKey } from '../shared/key-hash.js';
import { keyRoute } from '../shared/route.js';

export const SEARCH_KEY_USAGE = `Usage: switchyard search-key VALUE [--tenant ID]

VALUE is an ordering key as the broker forms it (a client's key as sent; "arg:/repo=acme/web" for
an arg: ordering; "principal:<subject>") or an idempotency key. --tenant defaults to "${DEFAULT_TENANT}".`;

export function runSearchKey(positionals: string[], tenantArg: string | undefined, config: Config, out: (text: string) => void, err: (text: string) => void): number {
  const [value, ...rest] = positionals;
  if (value === undefined || value === '' || rest.length > 0) {
    err(`switchyard search-key: expected one VALUE (quote it if it has spaces)\n\n${SEARCH_KEY_USAGE}\n`);
    return 2;
  }
  const tenant = tenantArg ?? DEFAULT_TENANT;
  const hashKey = hashKeyOf(config.encryption);
  const ordering = storedOrderingKey(hashKey, tenant, value);
  const correlationId = idempotentCorrelationId(tenant, value, hashKey);
  out(
    [
      `tenant ${tenant}, ${hashKey === undefined ? 'no encryption: keys are stored as given' : 'encryption on: keys are stored as keyed hashes'}`,
      `as an ordering key:`,
      `  SwitchyardTenant = ${quote(tenant)} AND SwitchyardOrderingKey = ${quote(ordering)}`,
      `  key workflow ${keyWorkflowId(tenant, keyRoute(tenant, ordering))}`,
      `as an idempotency key:`,
      `  SwitchyardCorrelationId = ${quote(correlationId)}`,
      `  call workflow ${callWorkflowId(tenant, correlationId)}`,
    ].join('\n') + '\n',
  );
  return 0;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
