// The callTool activity (src/activities/call-tool.ts) keeps nothing of a finished call alive until
// the call's deadline. It once bounded its wait for a slot under the server's in-flight limit with
// AbortSignal.timeout(deadline): a timer that cannot be cleared, and that holds the async context
// it was created in, which is the SDK's whole activity. With the bench's 600 s deadlines the
// worker held every activity of the last ten minutes (docs/performance.md, "Soak"). Real parts: the
// HTTP fixture server, the real pool and activity, the SDK's activity environment; a forced GC.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCallToolActivity } from '../../src/activities/call-tool.js';
import type { ActivityDeps } from '../../src/activities/index.js';
import { parseConfig } from '../../src/config/load.js';
import { DownstreamPool } from '../../src/downstream/pool.js';
import { createLogger } from '../../src/observability/log.js';
import type { CallEnvelope } from '../../src/shared/envelope.js';
import { FixtureServer } from '../support/fixture-server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const HOUR = 3_600_000;

function envelope(step: number): CallEnvelope {
  const now = Date.now();
  return {
    correlationId: `memory-${step}`,
    tenant: 'default',
    principal: 'tester',
    serverId: 'fixture',
    tool: 'record',
    publicTool: 'fixture.record',
    arguments: { key: 'memory', step },
    acceptedAt: now,
    deadlineAt: now + HOUR,
    requestTimeoutMs: 10_000,
    heartbeatTimeoutMs: 5_000,
    retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 1_000, backoffCoefficient: 2 },
    priority: 'normal',
    mutation: 'idempotent',
    execution: 'local',
    onDeadLetter: 'continue',
  };
}

describe('the callTool activity and memory', { timeout: 60_000 }, () => {
  const fixture = new FixtureServer();
  let pool: DownstreamPool;

  before(async () => {
    await fixture.start();
    const config = parseConfig({ source: 'test.yaml', raw: { servers: [{ id: 'fixture', transport: 'http', url: fixture.url }] } }, {});
    pool = new DownstreamPool(config.servers, createLogger('silent'));
    await pool.start();
  });

  after(async () => {
    await pool?.close();
    await fixture.stop();
  });

  it('lets a finished call\'s activity be collected long before its deadline (an hour here)', async () => {
    const callTool = createCallToolActivity({ pool, log: createLogger('silent') } as unknown as ActivityDeps);
    // In a function of its own, so that no register of this test's frame still holds the last one.
    const run = async (step: number, isLocal: boolean): Promise<WeakRef<object>> => {
      const env = new MockActivityEnvironment({ isLocal });
      const result = (await env.run(callTool, envelope(step))) as { content: unknown };
      assert.deepEqual(result.content, [{ type: 'text', text: `memory#${step}` }]);
      return new WeakRef(env.context);
    };
    const contexts: Array<WeakRef<object>> = [];
    for (let step = 0; step < 5; step++) for (const isLocal of [true, false]) contexts.push(await run(step, isLocal));
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    const alive = contexts.filter((ref) => ref.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of ${contexts.length} finished activities are still reachable`);
  });
});
