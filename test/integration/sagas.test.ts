// Sagas (docs/sagas.md) against a real dev server, real worker and gateway processes, and a
// stateful MCP server split over two downstream servers ("infra" provisions, "net" configures and
// enables; one shared World). The check that matters after every failure: the World is back to
// what it was before the saga.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { sagaWorkflowId } from '../../src/shared/ids.js';
import { pipeline, SagaServers } from '../support/infra-server.js';
import { waitFor } from '../support/ports.js';
import { Stack, textOf } from '../support/stack.js';

type Result = Awaited<ReturnType<McpClient['callTool']>>;
interface SagaView {
  saga_id: string;
  state: string;
  reason?: string;
  steps: Array<{ step: string; state: string; may_have_run: boolean; compensation: { state: string; correlation_id?: string; message?: string; dead_letter?: string } }>;
}

const sagaOf = (result: Result) => result.structuredContent as unknown as SagaView;


describe('sagas', { timeout: 900_000 }, () => {
  const servers = new SagaServers();
  const world = servers.world;
  let stack: Stack;
  let client: McpClient;

  before(async () => {
    await servers.start();
    stack = await new Stack({
      withEverything: false,
      syncWaitMs: 30_000,
      retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 300 },
      configure: (config) => {
        // Default compensations live in the config, with templates over the step's arguments and result.
        config.servers.push(...servers.config());
        config.sagas = { compensationRetry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 300 } };
      },
    }).start();
    client = await stack.client();
  });

  beforeEach(() => {
    world.failing.clear();
    world.release();
  });

  after(async () => {
    await client?.close();
    await stack?.stop();
    await servers.stop();
  });

  const call = (name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}, c: McpClient = client) =>
    c.callTool({ name, arguments: args, _meta: meta }, CallToolResultSchema, { timeout: 180_000 }) as Promise<Result>;

  const untilEnded = (sagaId: string, c: McpClient = client) =>
    waitFor(
      `saga ${sagaId} to end`,
      async () => {
        const view = sagaOf(await call('switchyard.get_saga', { saga_id: sagaId }, {}, c));
        return ['completed', 'committed', 'compensated', 'failed_compensation'].includes(view.state) ? view : undefined;
      },
      120_000,
      250,
    );

  describe('whole sagas (switchyard.run_saga)', () => {
    it('runs provision → configure → enable across two servers; the saga and its calls are findable by saga id', async () => {
      const result = await call('switchyard.run_saga', { steps: pipeline('happy') });
      const saga = sagaOf(result);
      assert.equal(saga.state, 'completed', textOf(result));
      assert.equal(result.isError, undefined);
      assert.deepEqual(saga.steps.map((s) => [s.step, s.state]), [['provision', 'succeeded'], ['configure', 'succeeded'], ['enable', 'succeeded']]);
      const env = world.snapshot().find((e) => e.name === 'happy')!;
      assert.deepEqual({ settings: env.settings, enabled: env.enabled }, { settings: { tier: 'gold' }, enabled: true });

      // The Web UI's search: SwitchyardSagaId = "<id>" lists the saga and its three calls.
      const found = await waitFor('visibility', async () => {
        const count = await stack.temporalClient.workflow.count(`SwitchyardSagaId = '${saga.saga_id}'`);
        return count.count >= 4 ? count.count : undefined;
      });
      assert.equal(found, 4);
    });

    for (const failAt of ['provision', 'configure', 'enable'] as const) {
      it(`a failure at ${failAt} undoes every earlier step, newest first: the servers' state equals the state before`, async () => {
        const before = world.snapshot();
        const undoCount = world.requests.length;
        world.failing.add(failAt);
        const result = await call('switchyard.run_saga', { steps: pipeline(`fail-at-${failAt}`) });
        const saga = sagaOf(result);
        assert.equal(saga.state, 'compensated', textOf(result));
        assert.equal(result.isError, true);
        assert.match(saga.reason!, new RegExp(`step "${failAt}".*failed`));
        assert.deepEqual(world.snapshot(), before, 'state restored');
        const undos = world.requests.slice(undoCount).map((r) => r.tool).filter((t) => ['deprovision', 'unconfigure', 'disable'].includes(t));
        const expected = { provision: [], configure: ['deprovision'], enable: ['unconfigure', 'deprovision'] }[failAt];
        assert.deepEqual(undos, expected, 'reverse order, only what ran');
        const failed = saga.steps.find((s) => s.step === failAt)!;
        assert.equal(failed.state, 'failed');
        assert.equal(failed.compensation.state, 'not_needed', 'an isError step did not take effect');
      });
    }

    it('repeating a saga with the same idempotency key does not run it twice', async () => {
      const provisions = world.requestsOf('provision').length;
      const first = sagaOf(await call('switchyard.run_saga', { steps: pipeline('once'), idempotency_key: 'saga-once' }));
      const second = sagaOf(await call('switchyard.run_saga', { steps: pipeline('once'), idempotency_key: 'saga-once' }));
      assert.equal(second.saga_id, first.saga_id);
      assert.equal(second.state, 'completed');
      assert.equal(world.requestsOf('provision').length, provisions + 1, 'provisioned once');
      assert.equal(world.snapshot().filter((e) => e.name === 'once').length, 1);
    });

    it('refuses bad sagas with -32602 naming the field, and starts nothing', async () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ steps: [] }, /argument "steps"/],
        [{ steps: [{ tool: 'infra.nope' }] }, /steps\[0\]\.tool: unknown tool/],
        [{ steps: [{ tool: 'infra.provision', compensation: { tool: 'infra.deprovision', arguments: { id: '{{result.id' } } }] }, /unclosed/],
        [{ steps: [{ tool: 'infra.provision', compensation: { tool: 'infra.deprovision', arguments: { id: '{{nope.id}}' } } }] }, /must be a dotted path/],
        [{ steps: [{ tool: 'switchyard.get_saga' }] }, /not a switchyard tool/],
        [{ steps: [{ tool: 'infra.provision' }], deadline_ms: -1 }, /deadline_ms/],
      ];
      const before = await stack.temporalClient.workflow.count(`WorkflowType = 'sagaWorkflow'`);
      for (const [args, message] of cases) {
        await assert.rejects(call('switchyard.run_saga', args), (error: unknown) => error instanceof McpError && error.code === -32602 && message.test(error.message));
      }
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal((await stack.temporalClient.workflow.count(`WorkflowType = 'sagaWorkflow'`)).count, before.count);
    });
  });

  describe('incremental sagas (_meta["switchyard/saga"])', () => {
    const step = (sagaId: string, name: string, tool: string, args: Record<string, unknown>, compensation?: Record<string, unknown>, c: McpClient = client) =>
      call(tool, args, { 'switchyard/saga': { id: sagaId, step: name, ...(compensation ? { compensation } : {}) } }, c);

    it('steps then saga_commit: committed, nothing undone', async () => {
      const provisioned = await step('inc-commit', 'provision', 'infra.provision', { name: 'inc-commit' });
      const id = (provisioned.structuredContent as { id: string }).id;
      await step('inc-commit', 'configure', 'net.configure', { id, key: 'tier', value: 'silver' });
      // A repeated step (a client retry) answers with the first call; nothing runs again.
      const again = await step('inc-commit', 'provision', 'infra.provision', { name: 'inc-commit' });
      assert.equal((again.structuredContent as { id: string }).id, id);
      const committed = sagaOf(await call('switchyard.saga_commit', { saga_id: 'inc-commit' }));
      assert.equal(committed.state, 'committed');
      assert.equal(world.snapshot().find((e) => e.id === id)!.settings.tier, 'silver');
      await assert.rejects(step('inc-commit', 'late', 'net.enable', { id }), (error: unknown) => error instanceof McpError && error.code === -32602 && /committed|takes no new steps/.test(error.message));
    });

    it('saga_abort undoes the steps in reverse, with a compensation the caller gave', async () => {
      const before = world.snapshot();
      const provisioned = await step('inc-abort', 'provision', 'infra.provision', { name: 'inc-abort' });
      const id = (provisioned.structuredContent as { id: string }).id;
      await step('inc-abort', 'configure', 'net.configure', { id, key: 'tier', value: 'bronze' }, { tool: 'net.unconfigure', arguments: { id, key: 'tier' } });
      await step('inc-abort', 'enable', 'net.enable', { id });
      const aborted = sagaOf(await call('switchyard.saga_abort', { saga_id: 'inc-abort' }));
      assert.equal(aborted.state, 'compensated');
      assert.match(aborted.reason!, /aborted by/);
      assert.deepEqual(aborted.steps.map((s) => s.compensation.state), ['compensated', 'compensated', 'compensated']);
      assert.deepEqual(world.snapshot(), before);
    });

    it('a failing step compensates at once; a saga not committed by its deadline compensates by itself', async () => {
      const before = world.snapshot();
      const provisioned = await step('inc-fail', 'provision', 'infra.provision', { name: 'inc-fail' });
      const id = (provisioned.structuredContent as { id: string }).id;
      world.failing.add('configure');
      const failed = await step('inc-fail', 'configure', 'net.configure', { id, key: 'tier', value: 'x' });
      assert.equal(failed.isError, true);
      assert.equal((await untilEnded('inc-fail')).state, 'compensated');
      assert.deepEqual(world.snapshot(), before);

      const dl = await call('infra.provision', { name: 'inc-deadline' }, { 'switchyard/saga': { id: 'inc-deadline', step: 'provision', deadline_ms: 3_000 } });
      assert.ok((dl.structuredContent as { id: string }).id);
      const ended = await untilEnded('inc-deadline');
      assert.equal(ended.state, 'compensated');
      assert.match(ended.reason!, /deadline/);
      assert.deepEqual(world.snapshot(), before);
    });

    it('survives a gateway restart mid-saga', async () => {
      const provisioned = await step('inc-restart', 'provision', 'infra.provision', { name: 'inc-restart' });
      const id = (provisioned.structuredContent as { id: string }).id;
      await stack.kill('gateway');
      await stack.startGateway();
      const fresh = await stack.client();
      await step('inc-restart', 'enable', 'net.enable', { id }, undefined, fresh);
      const committed = sagaOf(await call('switchyard.saga_commit', { saga_id: 'inc-restart' }, {}, fresh));
      assert.equal(committed.state, 'committed');
      assert.equal(world.snapshot().find((e) => e.id === id)!.enabled, true);
      client = fresh;
    });
  });

  describe('crashes and failed compensations', () => {
    it('kill -9 of the worker in the middle of a step: the saga still completes, each step applied once', async () => {
      world.hanging.add('configure');
      const started = sagaOf(await call('switchyard.run_saga', { steps: pipeline('crash-step'), accept_async: true }));
      const reached = world.requestsOf('configure').length;
      await waitFor('configure to be running', () => (world.requestsOf('configure').length > reached ? true : undefined), 60_000);
      await stack.kill('worker');
      world.release();
      await stack.startWorker();
      const ended = await untilEnded(started.saga_id);
      assert.equal(ended.state, 'completed');
      const env = world.snapshot().find((e) => e.name === 'crash-step')!;
      assert.deepEqual({ settings: env.settings, enabled: env.enabled }, { settings: { tier: 'gold' }, enabled: true });
      assert.ok(world.requestsOf('configure').length > reached);
      assert.equal(world.snapshot().filter((e) => e.name === 'crash-step').length, 1, 'provisioned once');
    });

    it('kill -9 of the worker in the middle of compensation: the undo still finishes', async () => {
      const before = world.snapshot();
      world.failing.add('enable');
      world.hanging.add('unconfigure');
      const started = sagaOf(await call('switchyard.run_saga', { steps: pipeline('crash-undo'), accept_async: true }));
      const undos = world.requestsOf('unconfigure').length;
      await waitFor('unconfigure to be running', () => (world.requestsOf('unconfigure').length > undos ? true : undefined), 60_000);
      await stack.kill('worker');
      world.release();
      await stack.startWorker();
      const ended = await untilEnded(started.saga_id);
      assert.equal(ended.state, 'compensated');
      assert.deepEqual(world.snapshot(), before);
    });

    it('a compensation that keeps failing is dead-lettered compensation_failed and the saga ends failed_compensation; a redrive finishes the undo', async () => {
      const before = world.snapshot();
      world.failing.add('enable');
      world.failing.add('deprovision');
      const result = await call('switchyard.run_saga', { steps: pipeline('stuck-undo') });
      const saga = sagaOf(result);
      assert.equal(saga.state, 'failed_compensation', textOf(result));
      assert.equal(result.isError, true);
      const provision = saga.steps[0]!;
      assert.equal(provision.compensation.state, 'failed');
      assert.match(provision.compensation.message!, /deprovision failed/);
      assert.equal(saga.steps[1]!.compensation.state, 'compensated');
      const deadId = provision.compensation.correlation_id!;

      const listed = await stack.cli('dlq', 'list', '--json');
      assert.equal(listed.code, 0, listed.stderr);
      const entry = (JSON.parse(listed.stdout) as Array<{ correlationId: string; sagaId?: string }>).find((e) => e.correlationId === deadId);
      assert.ok(entry, 'the failed compensation is in the dead-letter list');
      assert.equal(entry.sagaId, saga.saga_id);
      const shown = await stack.cli('dlq', 'show', deadId, '--json');
      const letter = JSON.parse(shown.stdout) as { reason: string; message: string };
      assert.equal(letter.reason, 'compensation_failed');
      assert.match(letter.message, new RegExp(`saga ${saga.saga_id}, step "provision"`));

      // The operator fixes the server and redrives the undo: the state is back to before.
      world.failing.clear();
      const redriven = await stack.cli('dlq', 'redrive', deadId);
      assert.equal(redriven.code, 0, redriven.stderr);
      assert.deepEqual(world.snapshot(), before);
    });
  });

  it('get_saga of an unknown saga says so; saga workflow ids are tenant-scoped', async () => {
    const missing = await call('switchyard.get_saga', { saga_id: 'no-such-saga' });
    assert.equal(missing.isError, true);
    assert.match(textOf(missing), /No saga with id no-such-saga/);
    assert.equal(sagaWorkflowId('default', 'a/b'), 'switchyard/default/saga/a%2Fb');
  });
});
