// Upgrades: a call in flight during an upgrade from the lane-based version (commit 6ad613c: one
// call workflow per call, one lane workflow per ordering key handing out turns) finishes, and the
// key's order holds across the upgrade. The old build's worker and gateway really run (its own
// sources, test/support/old-build.ts), are killed mid-call, and this checkout's build takes over
// the same Temporal database.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@temporalio/client';
import { callWorkflowId, keyWorkflowId, laneWorkflowId } from '../../src/shared/ids.js';
import { laneStateQuery } from '../../src/shared/messages.js';
import { keyRoute } from '../../src/shared/route.js';
import type { Execution } from '../support/fixture-server.js';
import { oldBuild } from '../support/old-build.js';
import { waitFor } from '../support/ports.js';
import { correlationIdOf, Stack, textOf } from '../support/stack.js';

/** The last commit before the fast call path: calls are call workflows, ordered ones take turns in a lane. */
const OLD_COMMIT = '6ad613c';
const TENANT = 'default';

describe('upgrade from the lane-based version', { timeout: 180_000 }, () => {
  let stack: Stack;

  before(async () => {
    const old = await oldBuild(OLD_COMMIT);
    stack = new Stack({ entry: old.entry, syncWaitMs: 30_000, heartbeatTimeoutMs: 2_000, withEverything: false });
    await stack.start();
    await stack.waitForReady();
  });
  after(async () => {
    await stack?.stop();
  });

  it('calls in flight under the old build finish under the new one, and a new call on their key runs after them', async (t) => {
    const key = `upgrade-${Date.now()}`;
    const ordered = { 'switchyard/ordering_key': key };

    // Old build: one call running on the key, one queued behind it in the key's lane.
    const oldClient = await stack.client();
    const accept = (ms: number, tag: string) =>
      oldClient.callTool({ name: 'fixture.slow', arguments: { ms, tag }, _meta: { ...ordered, 'switchyard/accept_async': true } }, CallToolResultSchema, { timeout: 30_000 });
    const first = correlationIdOf(await accept(4_000, 'old-1'));
    const second = correlationIdOf(await accept(1_500, 'old-2'));
    await waitFor('the first old call to reach the server', () => stack.fixture.executionsOf('slow').find((e) => e.correlationId === first));
    const lane = await stack.temporalClient.workflow.getHandle(laneWorkflowId(TENANT, key)).query(laneStateQuery);
    assert.deepEqual(lane, { holder: callWorkflowId(TENANT, first), queued: [callWorkflowId(TENANT, second)] }, 'the old build queued the second call in the lane, behind the running first');
    await oldClient.close().catch(() => undefined);

    // The upgrade: the old processes die mid-call (as a crash), the new build takes over.
    await stack.kill('worker');
    await stack.kill('gateway');
    await Promise.all([stack.startWorker(), stack.startGateway()]);
    const upgradedAt = Date.now();
    await stack.waitForReady();

    // New build: a call on the same key, on the fast path, waiting for its answer while the old
    // calls are still going (the first is being retried, the second waits for its turn).
    const newClient = await stack.client();
    const sent = newClient.callTool({ name: 'fixture.slow', arguments: { ms: 200, tag: 'new-3' }, _meta: ordered }, CallToolResultSchema, { timeout: 60_000 });
    sent.catch(() => undefined); // awaited below, after the old calls; a failure there must not go unhandled meanwhile

    // Both old calls finish, completed, read through the new gateway.
    for (const [id, name, text] of [
      [first, 'old-1', 'slept 4000 ms (old-1)'],
      [second, 'old-2', 'slept 1500 ms (old-2)'],
    ] as const) {
      const done = await waitFor(`old call ${name} (${id}) to end`, async () => {
        const r = await newClient.callTool({ name: 'switchyard.get_call', arguments: { correlation_id: id } });
        const status = (r.structuredContent as { status: string }).status;
        return status === 'running' || status === 'queued' ? undefined : r;
      }, 60_000, 300);
      assert.equal((done.structuredContent as { status: string }).status, 'completed', `old call ${name}: ${JSON.stringify(done.structuredContent)}`);
      assert.equal(textOf(done), text);
    }
    const third = await sent;
    const thirdId = correlationIdOf(third);
    assert.equal(textOf(third), 'slept 200 ms (new-3)');
    assert.equal(thirdId.startsWith(`${keyRoute(TENANT, key)}.`), true, `the new call ran in its key workflow: ${thirdId}`);
    await newClient.close();

    // The server saw each call complete, one at a time in acceptance order: the new call started
    // only after the old calls on its key had finished.
    const completed = (id: string): Execution => {
      const runs = stack.fixture.executionsOf('slow').filter((e) => e.correlationId === id && e.finishedAt !== undefined && e.cancelled !== true);
      assert.ok(runs.length >= 1, `the server saw call ${id} complete`);
      return runs.at(-1)!;
    };
    const [one, two, three] = [completed(first), completed(second), completed(thirdId)];
    const at = (ms: number) => `${((ms - upgradedAt) / 1000).toFixed(1)} s`;
    t.diagnostic(`since the new build started: old-1 ran ${at(one.startedAt)}..${at(one.finishedAt!)}, old-2 ${at(two.startedAt)}..${at(two.finishedAt!)}, new-3 ${at(three.startedAt)}..${at(three.finishedAt!)}`);
    assert.ok(two.startedAt >= one.finishedAt!, `the second old call started (${two.startedAt}) after the first finished (${one.finishedAt})`);
    assert.ok(three.startedAt >= two.finishedAt!, `the new call started (${three.startedAt}) after the second old call finished (${two.finishedAt})`);
    assert.ok(stack.fixture.executionsOf('slow').filter((e) => e.correlationId === first).length >= 2, 'the first old call was retried after its worker died mid-call');

    // It really was an old call in flight: both are call workflows that took their turns in the
    // lane (no patch marker: they replayed the lane path on the new worker), and the new key
    // workflow asked whether that lane was busy before running its first call.
    for (const id of [first, second]) {
      const handle = stack.temporalClient.workflow.getHandle(callWorkflowId(TENANT, id));
      assert.equal((await handle.describe()).type, 'callWorkflow');
      const history = await historyText(stack.temporalClient, callWorkflowId(TENANT, id));
      assert.ok(history.includes('enqueueInLane'), `call ${id} entered the lane`);
      assert.ok(!history.includes('ordered-calls-queue-in-key-workflow'), `call ${id} kept the old path`);
    }
    const laneHistory = await historyText(stack.temporalClient, laneWorkflowId(TENANT, key));
    for (const id of [first, second]) assert.ok(laneHistory.includes(`"callWorkflowId":"${callWorkflowId(TENANT, id)}"`), `the lane queued ${id}`);
    const keyDescription = await stack.temporalClient.workflow.getHandle(keyWorkflowId(TENANT, keyRoute(TENANT, key))).describe();
    assert.equal(keyDescription.type, 'keyWorkflow');
    assert.ok((await historyText(stack.temporalClient, keyDescription.workflowId)).includes('laneBusy'), 'the key workflow asked whether the lane was busy before its first call');
  });
});

/** Every payload in a workflow's history (signal inputs, markers, results), as text: enough to look for names and ids. */
async function historyText(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const texts: string[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) texts.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) walk(v);
    else if (typeof value === 'string') texts.push(value);
  };
  walk(history.events);
  return texts.join('\n');
}
