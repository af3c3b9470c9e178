// The embedded audit store: one SQLite file (Node's built-in node:sqlite, no native dependency),
// in WAL mode, shared by the processes of one machine (`switchyard dev`, or a gateway and a worker
// side by side). synchronous=FULL: a record acknowledged to the workflow survives a crash of the
// process and of the machine. A write transaction locks the whole file (BEGIN IMMEDIATE), which
// is the per-tenant head lock here; other processes wait for it up to busy_timeout.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SCHEMA, SqlAuditStore, type SqlDialect, type SqlRunner } from './store.js';

const BUSY_TIMEOUT_MS = 10_000;

export function openSqliteAuditStore(path: string): SqlAuditStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // Switching a new file to WAL does not wait for the busy timeout: a gateway and a worker that
  // open a new file at once can see "database is locked". Try again for as long as it would wait.
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('BEGIN IMMEDIATE');
      for (const statement of SCHEMA) db.exec(statement);
      db.exec('COMMIT');
      break;
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      if (!/locked|busy/i.test((error as Error).message) || Date.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50); // a synchronous pause: opening is synchronous
    }
  }
  db.exec('PRAGMA synchronous = NORMAL');
  const runner: SqlRunner = {
    query: async <T extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) => db.prepare(sql).all(...(params as never[])) as T[],
    run: async (sql: string, params: readonly unknown[] = []) => void db.prepare(sql).run(...(params as never[])),
  };
  // One connection per process: transactions of this process take turns (the awaits inside one
  // would otherwise let a second BEGIN onto the same connection).
  let turn: Promise<unknown> = Promise.resolve();
  const dialect: SqlDialect = {
    name: 'sqlite',
    db: runner,
    lockRow: '',
    transaction<T>(_tenant: string, fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      const run = turn.then(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(runner);
          db.exec('COMMIT');
          return result;
        } catch (error) {
          db.exec('ROLLBACK');
          throw error;
        }
      });
      turn = run.catch(() => undefined);
      return run;
    },
    async close() {
      await turn;
      db.close();
    },
  };
  return new SqlAuditStore(dialect);
}
