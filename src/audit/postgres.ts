// The production audit store: PostgreSQL through `pg`. Appends to one tenant lock that tenant's
// head row (SELECT … FOR UPDATE), so gateways, workers and the CLI append concurrently and each
// tenant's chain stays one line; different tenants do not wait for each other.
import pg from 'pg';
import { SCHEMA, SqlAuditStore, type SqlDialect, type SqlRunner } from './store.js';

/** Serializes schema creation across processes that start at once (CREATE … IF NOT EXISTS races in PostgreSQL). */
const SCHEMA_LOCK = 7_310_448_722;

export async function openPostgresAuditStore(url: string): Promise<SqlAuditStore> {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const runnerOf = (client: pg.Pool | pg.PoolClient): SqlRunner => ({
    query: async <T extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) => (await client.query(numbered(sql), params as unknown[])).rows as T[],
    run: async (sql: string, params: readonly unknown[] = []) => void (await client.query(numbered(sql), params as unknown[])),
  });
  const setup = await pool.connect();
  try {
    await setup.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
    for (const statement of SCHEMA) await setup.query(statement);
    await setup.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]);
  } catch (error) {
    setup.release();
    await pool.end();
    throw error;
  }
  setup.release();
  const dialect: SqlDialect = {
    name: 'postgres',
    db: runnerOf(pool),
    lockRow: 'FOR UPDATE',
    async transaction<T>(_tenant: string, fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(runnerOf(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
  return new SqlAuditStore(dialect);
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the statements here have no `?` inside strings). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
