// The audit log end to end (docs/security.md, "Audit log"), on the real stack: calls leave records
// with who, what, when and how they ended; refusals and operator actions are recorded; a key
// workflow an operator cancels ends its calls cancelled, each with its record; every
// acknowledged call has its record exactly once after SIGKILLs of the worker and the gateway;
// and with PostgreSQL as the store, a store that hangs delays the log but no answer, and the
// export retried meanwhile is stored once.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { argumentsDigest } from '../../src/audit/arguments.js';
import { openPostgresAuditStore } from '../../src/audit/postgres.js';
import { NO_TENANT } from '../../src/audit/sink.js';
import { openSqliteAuditStore } from '../../src/audit/sqlite.js';
import type { AuditFilter, AuditStore } from '../../src/audit/store.js';
import type { AuditEntry } from '../../src/shared/audit.js';
import { keyWorkflowId } from '../../src/shared/ids.js';
import { keyRoute } from '../../src/shared/route.js';
import { waitFor } from '../support/ports.js';
import { TestPostgres } from '../support/postgres.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';

const KEY = 'acme-user-key-0123456789';
const ADMIN_KEY = 'acme-admin-key-0123456789';
const GLOBEX_ADMIN_KEY = 'globex-admin-key-0123456789';
const DIGEST_KEY = 'a-digest-key-of-at-least-32-characters';
const fingerprint = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 12);
const auth = (key: string) => ({ Authorization: `Bearer ${key}` });

const GLOBEX_KEY = 'globex-user-key-0123456789';

function stackWith(configure: (config: Record<string, unknown>) => void = () => undefined): Stack {
  return new Stack({
    syncWaitMs: 1_500,
    heartbeatTimeoutMs: 2_000,
    withEverything: false,
    // Key workflows continue as new every 3 calls: audit records cross continue-as-new.
    callsPerRun: 3,
    configure: (config) => {
      config.tenants = [
        { id: 'acme', apiKeys: [KEY], adminApiKeys: [ADMIN_KEY] },
        { id: 'globex', apiKeys: [GLOBEX_KEY], adminApiKeys: [GLOBEX_ADMIN_KEY] },
      ];
      // RBAC: everything, except fixture.fail for globex (its refusals go to the audit log).
      config.auth = {
        policy: {
          rules: [
            { name: 'everyone', principals: { tenants: ['acme', 'globex'] }, allow: { tools: ['*'], broker: ['*'] } },
            { name: 'no-fail-for-globex', principals: { tenants: ['globex'] }, deny: { tools: ['fixture.fail'] } },
          ],
        },
      };
      configure(config);
    },
  });
}

/** The calls' records, by correlation id (several per id would be a duplicate). */
async function callRecords(store: AuditStore, filter: AuditFilter = {}): Promise<Map<string, AuditEntry[]>> {
  const byId = new Map<string, AuditEntry[]>();
  for (const e of await store.list({ tenant: 'acme', kind: 'call', ...filter })) byId.set(e.key, [...(byId.get(e.key) ?? []), e]);
  return byId;
}

async function recordsFor(store: AuditStore, ids: Iterable<string>, what: string, timeoutMs = 90_000): Promise<Map<string, AuditEntry[]>> {
  const wanted = [...ids];
  return waitFor(
    what,
    async () => {
      const byId = await callRecords(store);
      return wanted.every((id) => byId.has(id)) ? byId : undefined;
    },
    timeoutMs,
    250,
  );
}

describe('audit log (SQLite, the default store)', { timeout: 400_000 }, () => {
  const stack = stackWith();
  let store: AuditStore;

  before(async () => {
    await stack.start();
    await stack.waitForReady();
    // The default store: <temporal.dataDir>/audit.db under the processes' working directory.
    store = openSqliteAuditStore(join(stack.dir, '.switchyard', 'audit.db'));
  });
  after(async () => {
    await store?.close();
    await stack.stop();
  });

  it('a call leaves one record: who (tenant, subject, key fingerprint), what (tool, arguments digest), when, outcome, correlation id', async () => {
    const client = await stack.client(auth(KEY));
    const before = Date.now();
    const fast = await client.callTool({ name: 'fixture.echo', arguments: { message: 'audit me' } });
    const own = await client.callTool({ name: 'fixture.fail', arguments: { reason: 'for the log' }, _meta: { 'switchyard/idempotency_key': `audit-${Date.now()}` } });
    await client.close();
    const ids = [correlationIdOf(fast), correlationIdOf(own)];
    const byId = await recordsFor(store, ids, 'both calls recorded');
    const [echo, fail] = ids.map((id) => byId.get(id)!);
    assert.equal(echo!.length, 1);
    const record = echo![0]!;
    assert.equal(record.tenant, 'acme');
    assert.equal(record.correlationId, ids[0]);
    assert.deepEqual(record.who, { subject: `apikey:${fingerprint(KEY)}`, keyFingerprint: fingerprint(KEY), via: 'apikey' });
    assert.equal(record.tool, 'fixture.echo');
    assert.deepEqual(record.arguments, { digest: argumentsDigest({ message: 'audit me' }) }, 'the digest only, by default');
    assert.equal(record.outcome, 'completed');
    assert.deepEqual(record.detail, { isError: false });
    const { acceptedAt, startedAt, endedAt } = record.times!;
    assert.ok(before <= acceptedAt && acceptedAt <= startedAt! && startedAt! <= endedAt && endedAt <= Date.now(), JSON.stringify(record.times));
    // The call workflow's path (an idempotency key): a tool error is a completed call with isError.
    assert.equal(fail!.length, 1);
    assert.equal(fail![0]!.tool, 'fixture.fail');
    assert.equal(fail![0]!.outcome, 'completed');
    assert.equal(fail![0]!.detail?.isError, true);
    assert.match(String(fail![0]!.detail?.idempotencyKey), /^audit-/);

    // The CLI reads the same log: filters, show, export as JSON lines, verify.
    const listed = await stack.cli('audit', 'list', '--tenant', 'acme', '--tool', 'fixture.echo', '--outcome', 'completed');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`fixture\\.echo ${ids[0]!.replace('.', '\\.')}`));
    assert.doesNotMatch(listed.stdout, /fixture\.fail/);
    const shown = await stack.cli('audit', 'show', ids[1]!, '--tenant', 'acme');
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout) as AuditEntry).tool, 'fixture.fail');
    const exported = await stack.cli('audit', 'export', '--tenant', 'acme', '--since', new Date(before).toISOString(), '--kind', 'call');
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    assert.deepEqual(lines.map((l) => l.correlationId).sort(), [...ids].sort());
    const verified = await stack.cli('audit', 'verify');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /^ok {6}tenant acme: \d+ records, head \d+:[0-9a-f]{64}$/m);
    const bad = await stack.cli('audit', 'list', '--since', 'yesterday');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since must be an ISO 8601 time or epoch milliseconds/);
  });

  it('refusals are recorded: an unknown API key (no tenant), a non-admin calling an admin tool, a call the RBAC policy denies', async () => {
    const before = Date.now();
    const refused = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer not-a-key-of-anyone-123' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(refused.status, 401);
    const client = await stack.client(auth(KEY));
    const forbidden = await client.callTool({ name: 'switchyard.dlq_list', arguments: {} });
    await client.close();
    assert.equal(forbidden.isError, true);
    const globex = await stack.client(auth(GLOBEX_KEY));
    const denied = await globex.callTool({ name: 'fixture.fail', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error as { code?: number },
    );
    await globex.close();
    assert.equal(denied?.code, -32003, 'the policy refuses it');
    const [policy] = await waitFor('the policy refusal recorded', async () => {
      const found = await store.list({ tenant: 'globex', kind: 'refusal', outcome: 'policy', since: before });
      return found.length > 0 ? found : undefined;
    });
    assert.equal(policy!.tool, 'fixture.fail');
    assert.equal(policy!.who.subject, `apikey:${fingerprint(GLOBEX_KEY)}`);
    assert.equal(policy!.detail?.method, 'tools/call');
    const [unauthenticated, admin] = await waitFor('both refusals recorded', async () => {
      const none = await store.list({ tenant: NO_TENANT, kind: 'refusal', since: before });
      const acme = await store.list({ tenant: 'acme', kind: 'refusal', since: before });
      return none.length > 0 && acme.length > 0 ? [none, acme] : undefined;
    });
    assert.equal(unauthenticated![0]!.outcome, 'unauthenticated');
    assert.match(String(unauthenticated![0]!.detail?.message), /unknown API key/);
    assert.doesNotMatch(JSON.stringify(unauthenticated), /not-a-key-of-anyone/, 'the credential is never recorded');
    assert.equal(admin![0]!.outcome, 'forbidden');
    assert.equal(admin![0]!.tool, 'switchyard.dlq_list');
    assert.equal(admin![0]!.who.subject, `apikey:${fingerprint(KEY)}`);
  });

  it("a tenant's admin reads its own tenant's records through switchyard.audit_list, and no other tenant's", async () => {
    const acme = await stack.client(auth(KEY));
    const acmeCall = correlationIdOf(await acme.callTool({ name: 'fixture.echo', arguments: { message: 'acme only' } }));
    await acme.close();
    const globex = await stack.client(auth(GLOBEX_ADMIN_KEY));
    const globexCall = correlationIdOf(await globex.callTool({ name: 'fixture.echo', arguments: { message: 'globex only' } }));
    await recordsFor(store, [acmeCall], 'the acme call recorded');
    const listed = await waitFor('the globex call in its admin\'s list', async () => {
      const result = await globex.callTool({ name: 'switchyard.audit_list', arguments: { kind: 'call', limit: 500 } });
      const records = (result.structuredContent as { records: AuditEntry[] }).records;
      return records.some((r) => r.correlationId === globexCall) ? records : undefined;
    });
    assert.ok(listed.every((r) => r.tenant === 'globex'), 'only globex records');
    assert.ok(!listed.some((r) => r.correlationId === acmeCall), "acme's call is not in globex's list");
    const filtered = await globex.callTool({ name: 'switchyard.audit_list', arguments: { correlation_id: acmeCall } });
    assert.deepEqual((filtered.structuredContent as { records: AuditEntry[] }).records, [], 'naming another tenant\'s call finds nothing');
    const unknown = await globex.callTool({ name: 'switchyard.audit_list', arguments: { tenant: 'acme' } }).catch((error: unknown) => error as Error);
    assert.match(String((unknown as Error).message ?? JSON.stringify(unknown)), /tenant/, 'there is no argument to name a tenant');
    await globex.close();
    const user = await stack.client(auth(KEY));
    const refused = await user.callTool({ name: 'switchyard.audit_list', arguments: {} });
    await user.close();
    assert.equal(refused.isError, true, 'a non-admin key may not read the log');
  });

  it('an operator cancel is recorded with who did it, and the call ends cancelled in its own record', async () => {
    const client = await stack.client(auth(KEY));
    const accepted = await client.callTool({ name: 'fixture.slow', arguments: { ms: 60_000, tag: 'cancel-me' }, _meta: { 'switchyard/accept_async': true } });
    const id = correlationIdOf(accepted);
    await waitFor('the call running downstream', () => stack.fixture.executions.find((e) => e.correlationId === id));
    const admin = await stack.client(auth(ADMIN_KEY));
    const cancelled = await admin.callTool({ name: 'switchyard.cancel_call', arguments: { correlation_id: id } });
    await admin.close();
    await client.close();
    assert.match(textOf(cancelled), /Cancellation of .* requested/);
    const [operator] = await waitFor('the cancel recorded', async () => {
      const found = await store.list({ tenant: 'acme', kind: 'operator', correlationId: id });
      return found.length > 0 ? found : undefined;
    });
    assert.equal(operator!.action, 'cancel');
    assert.equal(operator!.outcome, 'cancel_requested');
    assert.equal(operator!.who.subject, `apikey:${fingerprint(ADMIN_KEY)}`);
    assert.deepEqual(operator!.detail, { via: 'cancel_call' });
    const call = (await recordsFor(store, [id], 'the cancelled call recorded')).get(id)!;
    assert.equal(call.length, 1);
    assert.equal(call[0]!.outcome, 'cancelled');
  });

  it("a key workflow an operator cancels (the Web UI's RequestCancelWorkflowExecution) ends its running and queued calls cancelled, each with its record, and closes", async () => {
    const client = await stack.client(auth(KEY));
    const key = 'audit-cancelled-key';
    const keyMeta = { 'switchyard/ordering_key': key };
    // On the fast path, answered "working" after syncWaitMs: a running call and three queued behind it.
    const running = correlationIdOf(await client.callTool({ name: 'fixture.slow', arguments: { ms: 60_000, tag: 'key-cancel' }, _meta: keyMeta }));
    const queued: string[] = [];
    for (let i = 0; i < 3; i++) queued.push(correlationIdOf(await client.callTool({ name: 'fixture.echo', arguments: { message: `queued-${i}` }, _meta: keyMeta })));
    await client.close();
    const handle = stack.temporalClient.workflow.getHandle(keyWorkflowId('acme', keyRoute('acme', stack.storedKey(key, 'acme'))));
    await waitFor('three calls queued', async () => ((await handle.query<{ queued: string[] }>('keyState')).queued.length === 3 ? true : undefined));
    await handle.cancel();
    await waitFor('the key workflow closed', async () => ((await handle.describe()).status.name === 'CANCELLED' ? true : undefined), 60_000, 250);
    const byId = await recordsFor(store, [running, ...queued], 'every call of the cancelled key recorded');
    for (const id of [running, ...queued]) {
      assert.deepEqual(byId.get(id)!.map((r) => r.outcome), ['cancelled'], `${id}: one record, cancelled`);
    }
    assert.ok(!stack.fixture.executions.some((e) => queued.includes(e.correlationId!)), 'no queued call reached the server');
    // The key goes on in a new key workflow.
    const later = await stack.client(auth(KEY));
    assert.equal(textOf(await later.callTool({ name: 'fixture.echo', arguments: { message: 'after the cancel' }, _meta: keyMeta })), 'after the cancel');
    await later.close();
  });

  it('every acknowledged call has its record exactly once after a SIGKILL of the worker mid-call and of the gateway after acknowledgement', async () => {
    const acknowledged = new Set<string>();
    const ack = (result: object) => {
      const id = correlationIdOf(result);
      acknowledged.add(id);
      return id;
    };
    const client = await stack.client(auth(KEY));
    // Records that cross key workflows' continue-as-new (every 3 calls): fast calls on one key.
    for (let i = 0; i < 7; i++) ack(await client.callTool({ name: 'fixture.echo', arguments: { message: `k-${i}` }, _meta: { 'switchyard/ordering_key': 'audit-key' } }));

    // 1. The worker dies mid-call: idempotent calls are retried, a non-idempotent one is dead-lettered.
    const slowAsync = await Promise.all([0, 1, 2].map((i) => client.callTool({ name: 'fixture.slow', arguments: { ms: 2_500, tag: `w-${i}` }, _meta: { 'switchyard/accept_async': true } })));
    const applied = await client.callTool({ name: 'fixture.apply', arguments: { key: 'w-apply', ms: 2_500 }, _meta: { 'switchyard/accept_async': true } });
    const asyncIds = [...slowAsync.map(ack), ack(applied)];
    // Fast-path calls whose caller waits: acknowledged ("accepted" at syncWaitMs, or the result) across the kill.
    const waiting = [0, 1, 2].map((i) => client.callTool({ name: 'fixture.slow', arguments: { ms: 2_500, tag: `f-${i}` } }));
    await waitFor('the async calls running downstream', () => asyncIds.every((id) => stack.fixture.executions.some((e) => e.correlationId === id)) || undefined);
    await stack.kill('worker');
    await stack.startWorker();
    for (const result of await Promise.all(waiting)) ack(result);
    await client.close();

    // 2. The gateway dies right after acknowledging calls: nothing the gateway held is needed.
    const other = await stack.client(auth(KEY));
    for (let i = 0; i < 3; i++) ack(await other.callTool({ name: 'fixture.slow', arguments: { ms: 1_000, tag: `g-${i}` }, _meta: { 'switchyard/accept_async': true } }));
    const fastAcked = await Promise.all([0, 1, 2].map((i) => other.callTool({ name: 'fixture.slow', arguments: { ms: 3_000, tag: `gf-${i}` } })));
    for (const result of fastAcked) ack(result); // "accepted" at 1.5 s, still running
    await stack.kill('gateway');
    await stack.startGateway();

    const byId = await recordsFor(store, acknowledged, `all ${acknowledged.size} acknowledged calls recorded`, 120_000);
    const counts = [...acknowledged].map((id) => [id, byId.get(id)!.length] as const);
    assert.deepEqual(counts.filter(([, n]) => n !== 1), [], 'each acknowledged call is recorded exactly once');
    assert.equal(byId.get(ack(applied))![0]!.outcome, 'dead_lettered', 'the non-idempotent call caught by the kill is dead-lettered, and recorded so');

    // An operator then discards the dead letter: recorded too.
    const admin = await stack.client(auth(ADMIN_KEY));
    const discarded = await admin.callTool({ name: 'switchyard.dlq_discard', arguments: { correlation_id: correlationIdOf(applied), note: 'audit test' } });
    await admin.close();
    assert.notEqual(discarded.isError, true, textOf(discarded));
    const [discard] = await waitFor('the discard recorded', async () => {
      const found = await store.list({ tenant: 'acme', kind: 'operator', correlationId: correlationIdOf(applied) });
      return found.length > 0 ? found : undefined;
    });
    assert.equal(discard!.action, 'discard');
    assert.equal(discard!.outcome, 'discarded');
    assert.equal(discard!.detail?.note, 'audit test');

    const verified = await stack.cli('audit', 'verify', '--tenant', 'acme');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
});

describe('audit log (PostgreSQL store)', { timeout: 300_000 }, () => {
  const postgres = new TestPostgres();
  let store: AuditStore;
  let stack: Stack;

  before(async () => {
    await postgres.start();
    stack = stackWith((config) => {
      config.audit = { store: postgres.url, arguments: 'redacted', digestKey: DIGEST_KEY, maxPending: 3 };
    });
    await stack.start();
    await stack.waitForReady();
    store = await openPostgresAuditStore(postgres.url);
  });
  after(async () => {
    await store?.close();
    await stack?.stop();
    await postgres.stop();
  });

  it('a store that hangs delays no answer, then refuses calls past audit.maxPending; the exports retried meanwhile are stored once', async () => {
    // Someone holds the head table: every append waits, longer than an export's 10 s timeout, so
    // exports are retried while the first attempts still wait. Both go on when it is released.
    const locker = new pg.Client({ connectionString: postgres.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_heads IN EXCLUSIVE MODE');
    const lockedAt = Date.now();
    const client = await stack.client(auth(KEY));
    const ids: string[] = [];
    try {
      const onKey = { 'switchyard/ordering_key': 'pg-key' };
      for (let i = 0; i < 3; i++) {
        const fast = await client.callTool({ name: 'fixture.echo', arguments: { message: `locked-${i}`, password: 'hunter2' }, _meta: onKey });
        assert.equal(textOf(fast), `locked-${i}`);
        ids.push(correlationIdOf(fast));
      }
      // Three records wait in the key's workflow (audit.maxPending: 3): it takes no more calls.
      const refused = await client.callTool({ name: 'fixture.echo', arguments: { message: 'one too many' }, _meta: onKey }).then(
        () => undefined,
        (error: unknown) => error as { code?: number; message?: string },
      );
      assert.equal(refused?.code, -32029, `refused as busy: ${JSON.stringify(refused)}`);
      assert.match(String(refused?.message), /audit log cannot be written/);
      const own = await client.callTool({ name: 'fixture.echo', arguments: { message: 'locked-own' }, _meta: { 'switchyard/idempotency_key': `pg-${Date.now()}` } });
      assert.equal(textOf(own), 'locked-own', 'a call workflow answers while its record waits for the store');
      ids.push(correlationIdOf(own));
      assert.equal((await callRecords(store)).size, 0, 'nothing was written while the store was locked');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 13_000 - (Date.now() - lockedAt))));
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
      await client.close();
    }
    const byId = await recordsFor(store, ids, 'the calls recorded once the store is free', 120_000);
    const after = await stack.client(auth(KEY));
    assert.equal(textOf(await after.callTool({ name: 'fixture.echo', arguments: { message: 'accepted again' }, _meta: { 'switchyard/ordering_key': 'pg-key' } })), 'accepted again', 'the key takes calls again once its records are out');
    await after.close();
    assert.deepEqual(ids.map((id) => byId.get(id)!.length), [1, 1, 1, 1], 'each call recorded exactly once');
    // audit.arguments: redacted keeps the arguments, without the configured secret keys.
    assert.deepEqual(byId.get(ids[0]!)![0]!.arguments, { digest: argumentsDigest({ message: 'locked-0', password: 'hunter2' }, DIGEST_KEY), redacted: { message: 'locked-0', password: '[redacted]' } });
    assert.notEqual(byId.get(ids[0]!)![0]!.arguments!.digest, argumentsDigest({ message: 'locked-0', password: 'hunter2' }), 'with audit.digestKey, an HMAC: a reader cannot test guesses');
    const verified = await stack.cli('audit', 'verify');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
});
