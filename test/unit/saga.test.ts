// The saga template language and step verdicts (src/shared/saga.ts), and the start-up checks of
// default compensations in the config.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { jsonBytes, judgeStep, outcomeRef, renderTemplate, TemplateError, templateReferences, type TemplateScope } from '../../src/shared/saga.js';

const scope: TemplateScope = {
  args: { path: '/tmp/x', n: 3 },
  result: { content: [{ type: 'text', text: 'made' }], structuredContent: { id: 'env-7', tags: ['a', 'b'] } },
  saga: { id: 'saga-1', step: 'provision' },
  steps: { provision: { args: { name: 'web' }, result: { content: [], structuredContent: { id: 'env-1' } } } },
};

describe('compensation templates', () => {
  it('replaces a whole-string reference by the value itself, keeping its type', () => {
    assert.deepEqual(renderTemplate({ id: '{{result.structuredContent.id}}', n: '{{args.n}}', tags: '{{result.structuredContent.tags}}' }, scope), {
      id: 'env-7',
      n: 3,
      tags: ['a', 'b'],
    });
  });

  it('interpolates references inside a longer string, and walks arrays and nested objects', () => {
    assert.deepEqual(renderTemplate({ note: 'undo {{saga.id}}/{{saga.step}} n={{args.n}}', list: [{ p: '{{ args.path }}' }], first: '{{result.structuredContent.tags.0}}' }, scope), {
      note: 'undo saga-1/provision n=3',
      list: [{ p: '/tmp/x' }],
      first: 'a',
    });
  });

  it('reads earlier steps of a whole saga', () => {
    assert.equal(renderTemplate('{{steps.provision.result.structuredContent.id}}', scope), 'env-1');
  });

  it('names what is missing', () => {
    assert.throws(() => renderTemplate({ id: '{{result.structuredContent.nope}}' }, scope), (e: unknown) => e instanceof TemplateError && /result\.structuredContent has no "nope"/.test(e.message));
    assert.throws(() => renderTemplate('{{result.structuredContent.id}}', { ...scope, result: undefined }), TemplateError);
    assert.throws(() => renderTemplate('{{steps.configure.args.id}}', scope), /steps has no "configure"/);
  });

  it('with `only`, leaves references under other roots as they are', () => {
    assert.deepEqual(renderTemplate({ a: '{{steps.provision.args.name}}', b: 'Hello {{name}}', c: '{{args.path}}' }, scope, ['steps']), { a: 'web', b: 'Hello {{name}}', c: '{{args.path}}' });
  });

  it('finds references and refuses bad syntax with the place named', () => {
    assert.deepEqual(templateReferences({ a: ['{{args.x}}', 'plain'], b: { c: 'x {{result.id}} y' } }), [
      { where: 'arguments.a.0', path: 'args.x' },
      { where: 'arguments.b.c', path: 'result.id' },
    ]);
    assert.throws(() => templateReferences({ a: '{{args.x' }), /arguments\.a: unclosed/);
    assert.throws(() => templateReferences({ a: '{{env.HOME}}' }), /arguments\.a: "\{\{env\.HOME\}\}" must be a dotted path starting with args, result, saga, steps/);
  });
});

describe('step verdicts', () => {
  const report = (outcome: Parameters<typeof judgeStep>[0]['outcome'], mayHaveRun = true) => judgeStep({ correlationId: 'c', outcome, mayHaveRun });

  it('a completed step succeeded; an isError answer failed and did not take effect', () => {
    assert.deepEqual(report({ status: 'completed', result: { content: [] } }), { ok: true, mayHaveRun: true });
    const error = report({ status: 'completed', result: { content: [{ type: 'text', text: 'quota' }], isError: true } });
    assert.equal(error.ok, false);
    assert.equal(error.mayHaveRun, false);
    assert.match(error.message!, /quota/);
  });

  it('an unknown outcome, a cancel or a deadline after sending may have taken effect; a JSON-RPC error did not', () => {
    assert.equal(report({ status: 'dead_lettered', reason: 'outcome_unknown', message: 'x', attempts: 1 }).mayHaveRun, true);
    assert.equal(report({ status: 'cancelled', message: 'x' }).mayHaveRun, true);
    assert.equal(report({ status: 'cancelled', message: 'x' }, false).mayHaveRun, false);
    assert.equal(report({ status: 'deadline_exceeded', message: 'x' }).mayHaveRun, true);
    assert.equal(report({ status: 'failed', reason: 'downstream_error', message: 'x', attempts: 1 }).mayHaveRun, false);
    assert.equal(report({ status: 'failed', reason: 'circuit_open', message: 'x', attempts: 1 }).mayHaveRun, false);
  });
});

describe('results by reference in a saga\'s status', () => {
  it('keeps a completed call\'s size and isError, never its result', () => {
    const result = { content: [{ type: 'text', text: 'x'.repeat(1_200_000) }], isError: true };
    const ref = outcomeRef({ status: 'completed', result });
    assert.deepEqual(ref, { status: 'completed', isError: true, resultBytes: Buffer.byteLength(JSON.stringify(result)) });
    assert.ok(JSON.stringify(ref).length < 100);
    const failed = { status: 'failed', reason: 'transport', message: 'x', attempts: 2 } as const;
    assert.equal(outcomeRef(failed), failed);
  });

  it('counts UTF-8 bytes of the JSON, as Buffer does', () => {
    for (const value of [{ a: 'plain' }, { t: 'é ü ß' }, { t: '漢字 ✓' }, { t: 'emoji 🚀 and \u0000' }, []]) {
      assert.equal(jsonBytes(value), Buffer.byteLength(JSON.stringify(value)), JSON.stringify(value));
    }
  });
});

describe('default compensations in the config', () => {
  const refuse = (servers: unknown[]) => {
    try {
      parseConfig({ source: 'test.yaml', raw: { servers } }, {});
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
    assert.fail('expected a ConfigError');
  };
  const files = (compensations: unknown) => ({ id: 'files', transport: 'stdio', command: 'node', compensations });

  it('accepts a compensation on a configured server', () => {
    const config = parseConfig({ source: 'test.yaml', raw: { servers: [files({ create_directory: { tool: 'files.delete', arguments: { path: '{{args.path}}' } } })] } }, {});
    assert.deepEqual(config.servers[0]!.compensations.create_directory, { tool: 'files.delete', arguments: { path: '{{args.path}}' } });
    assert.equal(config.sagas.compensationRetry.maxAttempts, 10);
  });

  it('names the key and the reason for a bad template or an unknown server', () => {
    assert.deepEqual(refuse([files({ mk: { tool: 'files.delete', arguments: { path: '{{args.path' } } })]), ['servers[0].compensations.mk: arguments.path: unclosed "{{"']);
    assert.match(refuse([files({ mk: { tool: 'other.delete' } })])[0]!, /^servers\[0\]\.compensations\.mk\.tool: "other\.delete" names no configured server/);
    assert.match(refuse([files({ mk: { tool: 'files.delete', arguments: { p: '{{saga.owner}}' } } })])[0]!, /^servers\[0\]\.compensations\.mk\.arguments\.p: .*only \{\{saga\.id\}\} and \{\{saga\.step\}\}/);
  });
});
