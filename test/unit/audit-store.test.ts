// The audit log's store and hash chain (src/audit/): the same contract against the embedded
// SQLite store and a real, throwaway PostgreSQL server (test/support/postgres.ts). Each kind of
// tampering (a changed, a removed, a reordered record, a truncated end) is made with plain SQL
// on the database and must be found by verify, which names the first bad sequence number.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { canonicalJson, verifyChain } from '../../src/audit/chain.js';
import { openPostgresAuditStore } from '../../src/audit/postgres.js';
import { openSqliteAuditStore } from '../../src/audit/sqlite.js';
import type { AuditStore } from '../../src/audit/store.js';
import type { AuditRecord } from '../../src/shared/audit.js';
import { TestPostgres } from '../support/postgres.js';

/** Plain SQL on the store's database, as someone with write access to it would run it. */
type Raw = (sql: string) => Promise<void>;

interface Backend {
  name: string;
  /**
   * A fresh, empty store (a new database each time), raw SQL on it, and appends through another
   * connection: for SQLite another process, as a gateway and a worker beside each other are (one
   * process holds one connection).
   */
  fresh(): Promise<{ store: AuditStore; appendElsewhere: (records: AuditRecord[][], started: () => void) => Promise<number>; raw: Raw }>;
}

function call(tenant: string, n: number, extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    kind: 'call',
    tenant,
    key: `s1.00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    correlationId: `s1.00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    at: 1_700_000_000_000 + n * 1_000,
    who: { subject: n % 2 === 0 ? 'apikey:aaaaaaaaaaaa' : 'oauth:alice', keyFingerprint: 'aaaaaaaaaaaa', via: 'apikey' },
    tool: n % 3 === 0 ? 'fixture.slow' : 'everything.echo',
    arguments: { digest: 'ab'.repeat(32) },
    times: { acceptedAt: 1_700_000_000_000 + n * 1_000 - 50, startedAt: 1_700_000_000_000 + n * 1_000 - 40, endedAt: 1_700_000_000_000 + n * 1_000 },
    outcome: n % 4 === 0 ? 'cancelled' : 'completed',
    ...extra,
  };
}

const sqlite: Backend = {
  name: 'SQLite',
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-audit-'));
    const path = join(dir, 'audit.db');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = openSqliteAuditStore(path);
    return {
      store,
      appendElsewhere: (batches, started) => appendInChild(path, batches, started),
      raw: async (sql) => {
        const db = new DatabaseSync(path);
        db.exec(sql);
        db.close();
      },
    };
  },
};

let server: TestPostgres | undefined;
let databases = 0;
const postgres: Backend = {
  name: 'PostgreSQL',
  async fresh() {
    const name = `audit_${process.pid}_${++databases}`;
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = server!.url.replace(/\/postgres$/, `/${name}`);
    return {
      store: await openPostgresAuditStore(url),
      appendElsewhere: async (batches, started) => {
        const other = await openPostgresAuditStore(url);
        started();
        try {
          let added = 0;
          for (const batch of batches) {
            added += await other.append(batch);
            await pause();
          }
          return added;
        } finally {
          await other.close();
        }
      },
      raw: async (sql) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(sql);
        await client.end();
      },
    };
  },
};

const cleanups: Array<() => void> = [];
const pause = () => new Promise((resolve) => setTimeout(resolve, 2));

/** Appends the batches from a child process with its own connection to the SQLite file. */
async function appendInChild(path: string, batches: AuditRecord[][], started: () => void): Promise<number> {
  const module = pathToFileURL(join(import.meta.dirname, '../../src/audit/sqlite.ts')).href;
  const code = `const { openSqliteAuditStore } = await import(${JSON.stringify(module)});
    const store = openSqliteAuditStore(${JSON.stringify(path)});
    let added = 0;
    process.stdout.write('go ');
    for (const batch of ${JSON.stringify(batches)}) {
      added += await store.append(batch);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await store.close();
    process.stdout.write(String(added));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    if (out.startsWith('go ')) started();
  });
  const [status] = (await once(child, 'exit')) as [number | null];
  assert.equal(status, 0, 'the child process appended');
  return Number(out.slice('go '.length));
}

/**
 * Edits made the way someone covering their tracks would: the sequence numbers, the searchable
 * columns and the head row stay consistent with the bodies, so only the hash chain gives them away.
 */
const TAMPERING: Array<{ name: string; sql: string; firstBad: number }> = [
  { name: 'a changed record (its arguments digest)', sql: `UPDATE audit_records SET body = replace(body, '"digest":"abab', '"digest":"cdab') WHERE tenant = 'acme' AND seq = 3`, firstBad: 3 },
  { name: 'a changed searchable column only', sql: `UPDATE audit_records SET subject = 'someone-else' WHERE tenant = 'acme' AND seq = 2`, firstBad: 2 },
  {
    name: 'a removed record, the later ones renumbered and the head moved back',
    sql: [
      `DELETE FROM audit_records WHERE tenant = 'acme' AND seq = 3`,
      `UPDATE audit_records SET seq = 3, body = replace(body, '"seq":4,', '"seq":3,') WHERE tenant = 'acme' AND seq = 4`,
      `UPDATE audit_records SET seq = 4, body = replace(body, '"seq":5,', '"seq":4,') WHERE tenant = 'acme' AND seq = 5`,
      `UPDATE audit_heads SET seq = 4, hash = (SELECT hash FROM audit_records WHERE tenant = 'acme' AND seq = 4) WHERE tenant = 'acme'`,
    ].join('; '),
    firstBad: 3,
  },
  {
    name: 'two reordered records (their places swapped, sequence numbers and all)',
    sql: [
      `UPDATE audit_records SET seq = -2, body = replace(body, '"seq":2,', '"seq":4,') WHERE tenant = 'acme' AND seq = 2`,
      `UPDATE audit_records SET seq = 2, body = replace(body, '"seq":4,', '"seq":2,') WHERE tenant = 'acme' AND seq = 4`,
      `UPDATE audit_records SET seq = 4 WHERE tenant = 'acme' AND seq = -2`,
    ].join('; '),
    firstBad: 2,
  },
  { name: 'records removed from the end (the head row left as it was)', sql: `DELETE FROM audit_records WHERE tenant = 'acme' AND seq >= 4`, firstBad: 4 },
];

describe('the audit hash chain', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined, x: 'é' }], c: null } }), '{"a":{"c":null,"d":[1,{"x":"é","z":1}]},"b":1}');
  });

  it('an empty chain is fine; a head recorded for an empty chain is a truncation at 1', () => {
    assert.equal(verifyChain('t', []).ok, true);
    const check = verifyChain('t', [], { seq: 2, hash: 'x'.repeat(64) });
    assert.equal(check.ok, false);
    assert.equal(check.firstBad, 1);
  });
});

for (const backend of [sqlite, postgres]) {
  describe(`the audit store on ${backend.name}`, () => {
    before(async () => {
      if (backend === postgres) server = await new TestPostgres().start();
    });
    after(async () => {
      if (backend === postgres) await server?.stop();
      for (const cleanup of cleanups.splice(0)) cleanup();
    });

    it('numbers each tenant from 1, chains every record and filters by tenant, subject, tool, outcome, kind and time', async () => {
      const { store } = await backend.fresh();
      try {
        assert.equal(await store.append([call('acme', 1), call('acme', 2), call('globex', 3), call('acme', 4)]), 4);
        const acme = await store.list({ tenant: 'acme' });
        assert.deepEqual(acme.map((e) => e.seq), [1, 2, 3]);
        assert.equal(acme[1]!.prevHash, acme[0]!.hash);
        assert.deepEqual((await store.list({ tenant: 'globex' })).map((e) => [e.seq, e.key]), [[1, call('globex', 3).key]]);
        assert.deepEqual((await store.list({ tenant: 'acme', subject: 'oauth:alice' })).map((e) => e.correlationId), [call('acme', 1).correlationId]);
        assert.deepEqual((await store.list({ tool: 'fixture.slow' })).map((e) => e.tenant), ['globex']);
        assert.deepEqual((await store.list({ tenant: 'acme', outcome: 'cancelled' })).map((e) => e.seq), [3]);
        assert.equal((await store.list({ kind: 'refusal' })).length, 0);
        const since = 1_700_000_000_000 + 2_000;
        assert.deepEqual((await store.list({ tenant: 'acme', since, until: since + 2_000 })).map((e) => e.seq), [2, 3]);
        assert.deepEqual((await store.list({ after: { tenant: 'acme', seq: 2 } })).map((e) => `${e.tenant}#${e.seq}`), ['acme#3', 'globex#1']);
        // The body is what was appended: who, what, when, outcome.
        const [first] = acme;
        assert.deepEqual({ who: first!.who, arguments: first!.arguments, times: first!.times, outcome: first!.outcome }, { who: call('acme', 1).who, arguments: call('acme', 1).arguments, times: call('acme', 1).times, outcome: 'completed' });
        assert.deepEqual(await store.get('acme', 2), acme[1]);
        assert.deepEqual((await store.verify()).map((c) => [c.tenant, c.ok, c.records]), [['acme', true, 3], ['globex', true, 1]]);
      } finally {
        await store.close();
      }
    });

    it('stores a call exported twice once (same tenant, kind and correlation id), in one batch or in two', async () => {
      const { store } = await backend.fresh();
      try {
        assert.equal(await store.append([call('acme', 1), call('acme', 1, { at: 1 })]), 1);
        assert.equal(await store.append([call('acme', 1), call('acme', 2)]), 1);
        // A refusal or operator record with the same key is another kind: kept.
        assert.equal(await store.append([{ ...call('acme', 1), kind: 'operator', action: 'cancel', outcome: 'cancel_requested' }]), 1);
        const entries = await store.list({ tenant: 'acme' });
        assert.deepEqual(entries.map((e) => [e.seq, e.kind, e.key]), [[1, 'call', call('acme', 1).key], [2, 'call', call('acme', 2).key], [3, 'operator', call('acme', 1).key]]);
        assert.equal(entries[0]!.at, call('acme', 1).at, 'the first copy stays');
      } finally {
        await store.close();
      }
    });

    it('keeps one chain per tenant when two connections append at once', async () => {
      const { store, appendElsewhere } = await backend.fresh();
      try {
        const batches = (from: number) => Array.from({ length: 100 }, (_, i) => [call('acme', from + i), call('globex', from + 1_000 + i)]);
        let started!: () => void;
        const elsewhereStarted = new Promise<void>((resolve) => (started = resolve));
        const there = appendElsewhere(batches(100), started);
        await elsewhereStarted;
        // Both sides pause between appends, so that each finds the other's records in between.
        const here: number[] = [];
        for (const batch of batches(0)) {
          here.push(await store.append(batch));
          await pause();
        }
        assert.equal(here.reduce((a, b) => a + b, 0) + (await there), 400);
        const checks = await store.verify();
        assert.deepEqual(checks.map((c) => [c.tenant, c.ok, c.records]), [['acme', true, 200], ['globex', true, 200]]);
        // The two writers took turns within the chain, not one after the other.
        const writers = (await store.list({ tenant: 'acme' })).map((e) => Number(e.key.slice(-12)) >= 100);
        assert.ok(writers.filter((w, i) => i > 0 && w !== writers[i - 1]).length >= 2, `the writers interleaved: ${writers.map(Number).join('')}`);
      } finally {
        await store.close();
      }
    });

    for (const tamper of TAMPERING) {
      it(`verify finds ${tamper.name} and names the first bad sequence number`, async () => {
        const { store, raw } = await backend.fresh();
        try {
          await store.append([1, 2, 3, 4, 5].map((n) => call('acme', n)));
          await store.append([call('globex', 9)]);
          assert.ok((await store.verify()).every((c) => c.ok));
          await raw(tamper.sql);
          const [acme, globex] = await store.verify();
          assert.equal(acme!.ok, false, `tampering not found: ${JSON.stringify(acme)}`);
          assert.equal(acme!.firstBad, tamper.firstBad, acme!.problem);
          assert.equal(globex!.ok, true, 'another tenant is untouched');
          assert.equal((await store.verify('acme'))[0]!.firstBad, tamper.firstBad);
        } finally {
          await store.close();
        }
      });
    }
  });
}
