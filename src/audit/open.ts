// Opens the audit store the config names (config `audit.store`): PostgreSQL for a postgres:// URL,
// else a SQLite file. Undefined when the audit log is off.
import { resolve } from 'node:path';
import { auditStoreLocation, type Config } from '../config/schema.js';
import { openPostgresAuditStore } from './postgres.js';
import { openSqliteAuditStore } from './sqlite.js';
import type { AuditStore } from './store.js';

export async function openAuditStore(config: Config, cwd = process.cwd()): Promise<AuditStore | undefined> {
  const location = auditStoreLocation(config);
  if (location === undefined) return undefined;
  try {
    return location.kind === 'postgres' ? await openPostgresAuditStore(location.url) : openSqliteAuditStore(resolve(cwd, location.path));
  } catch (error) {
    // Never the URL: it may hold a password.
    const where = location.kind === 'postgres' ? 'the PostgreSQL database of audit.store' : `the SQLite file ${resolve(cwd, location.path)} (audit.store)`;
    throw new Error(`cannot open the audit log in ${where}: ${(error as Error).message}`);
  }
}
