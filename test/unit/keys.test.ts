// The one key rule (validKey) and the recordable-size check (checkRecordable) of
// src/gateway/envelope.ts, and saga step names (src/gateway/sagas.ts), which apply them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRecordable, MAX_ARGUMENT_BYTES, validKey } from '../../src/gateway/envelope.js';
import { INVALID_PARAMS, JsonRpcError } from '../../src/gateway/jsonrpc.js';
import { parseInput } from '../../src/gateway/arguments.js';
import { parseSagaMeta, StepNameSchema } from '../../src/gateway/sagas.js';

const BAD_KEYS: unknown[] = ['', 'k'.repeat(201), 'a\u0001b', 'a\u007f', 'a\u0085b', 'a\u009fb', 'lone\ud800', '\udc00tail', 'x\udbff', 42, null, { k: 1 }];

function refused(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof JsonRpcError, String(error));
    assert.equal(error.code, INVALID_PARAMS);
    assert.equal(error.message, message);
    return true;
  });
}

describe('validKey', () => {
  it('refuses every bad kind of key with -32602 naming the field', () => {
    for (const bad of BAD_KEYS) refused(() => validKey(bad, 'argument "saga_id"'), 'argument "saga_id" must be a string of 1-200 printable characters');
  });

  it('accepts 1-200 characters, astral characters (a surrogate pair) included', () => {
    for (const good of ['k', 'k'.repeat(200), 'ünïcode key 🚂', '\ud83d\ude82']) assert.equal(validKey(good, 'x'), good);
  });
});

describe('saga step names', () => {
  it('takes an integer as its decimal string', () => {
    assert.equal(parseInput(StepNameSchema, 1, { field: 'step' }), '1');
    assert.equal(parseInput(StepNameSchema, 0, { field: 'step' }), '0');
    assert.equal(parseSagaMeta({ id: 'saga', step: 3 }).step, '3');
  });

  it('refuses bad strings and other values, naming the field', () => {
    for (const bad of ['', 'lone\ud800', 'a\u0085b']) refused(() => parseSagaMeta({ id: 'saga', step: bad }), '_meta["switchyard/saga"].step must be a string of 1-200 printable characters');
    for (const bad of [1.5, Number.MAX_SAFE_INTEGER + 1, true, null, { n: 1 }]) {
      refused(() => parseSagaMeta({ id: 'saga', step: bad }), '_meta["switchyard/saga"].step must be an integer or a string of 1-200 printable characters');
    }
    for (const bad of BAD_KEYS) refused(() => parseSagaMeta({ id: bad, step: 1 }), '_meta["switchyard/saga"].id must be a string of 1-200 printable characters');
  });
});

describe('checkRecordable', () => {
  it('lets through exactly MAX_ARGUMENT_BYTES of JSON and refuses one byte more, naming the field and the limit', () => {
    const fits = 'x'.repeat(MAX_ARGUMENT_BYTES - '{"m":""}'.length);
    checkRecordable({ m: fits }, 'arguments');
    refused(() => checkRecordable({ m: `${fits}x` }, 'arguments'), `arguments: ${MAX_ARGUMENT_BYTES + 1} bytes as JSON, over the limit of 1572864 bytes (1.5 MiB) that Switchyard can record durably (Temporal refuses payloads over 2 MB); nothing was started`);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const chars = Math.floor(MAX_ARGUMENT_BYTES / 3); // "€" is 3 bytes in UTF-8
    assert.throws(() => checkRecordable({ m: '€'.repeat(chars) }, 'arguments'), JsonRpcError);
  });
});
