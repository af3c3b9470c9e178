// SEP-2243 Mcp-Param-* headers checked against a tools/call's arguments (src/gateway/modern/param-headers.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { paramHeaderProblem } from '../../src/gateway/modern/param-headers.js';

const schema = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    priority: { type: 'integer', 'x-mcp-header': 'Priority' },
    verbose: { type: 'boolean', 'x-mcp-header': 'Verbose' },
    query: { type: 'string' },
  },
};
const check = (args: Record<string, unknown>, headers: Record<string, string>) => paramHeaderProblem(schema, args, new Headers(headers));
const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

describe('paramHeaderProblem', () => {
  it('accepts matching headers, plain or Base64, and numbers and booleans as text', () => {
    assert.equal(check({ region: 'eu-west', priority: 5, verbose: true, query: 'x' }, { 'Mcp-Param-Region': 'eu-west', 'Mcp-Param-Priority': '5', 'Mcp-Param-Verbose': 'true' }), undefined);
    assert.equal(check({ region: 'Zürich ' }, { 'mcp-param-region': b64('Zürich ') }), undefined);
    assert.equal(check({ priority: 5 }, { 'Mcp-Param-Priority': '5.0' }), undefined, 'numbers compare as numbers');
  });

  it('takes a value without the whole =?base64?…?= form literally', () => {
    const encoded = Buffer.from('Hello').toString('base64');
    assert.equal(check({ region: encoded }, { 'Mcp-Param-Region': encoded }), undefined);
    assert.equal(check({ region: `=?base64?${encoded}` }, { 'Mcp-Param-Region': `=?base64?${encoded}` }), undefined);
  });

  it('refuses a missing header, bad Base64 and a mismatch, naming the header', () => {
    assert.equal(check({ region: 'eu' }, {})?.header, 'Mcp-Param-Region');
    assert.match(check({ region: 'Hello' }, { 'Mcp-Param-Region': '=?base64?SGVsbG8?=' })?.message ?? '', /not valid Base64/);
    assert.match(check({ region: 'Hello' }, { 'Mcp-Param-Region': '=?base64?SGVs!!!bG8=?=' })?.message ?? '', /not valid Base64/);
    assert.match(check({ region: 'eu' }, { 'Mcp-Param-Region': 'us' })?.message ?? '', /does not match region/);
    assert.equal(check({ verbose: false }, { 'Mcp-Param-Verbose': 'true' })?.header, 'Mcp-Param-Verbose');
  });

  it('ignores arguments that are absent or null, and properties without the annotation', () => {
    assert.equal(check({ query: 'no header needed', verbose: null }, {}), undefined);
    assert.equal(paramHeaderProblem(undefined, { region: 'eu' }, new Headers()), undefined);
  });
});
