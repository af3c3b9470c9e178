// Encrypted payloads without a cluster: the AES-256-GCM codec (src/temporal/codec.ts), key
// rotation, the failure converter, the codec server's protocol, token and CORS
// (src/temporal/codec-server.ts) and the keyed hash of ordering and idempotency keys
// (src/shared/key-hash.ts). test/integration/encryption.test.ts runs them against Temporal.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmCodec, KEY_ID_METADATA, PayloadDecryptionError } from '../../src/temporal/codec.js';
import { createCodecApp } from '../../src/temporal/codec-server.js';
import { failureConverter } from '../../src/temporal/failure-converter.js';
import { hashKeyOf, idempotencyDigest, storedOrderingKey } from '../../src/shared/key-hash.js';
import { idempotentCorrelationId } from '../../src/gateway/envelope.js';
import { createLogger } from '../../src/observability/log.js';

const keyA = { id: 'a', key: Buffer.alloc(32, 0xa1) };
const keyB = { id: 'b', key: Buffer.alloc(32, 0xb2) };
const SECRET = 'card 4111-1111-1111-1111';
const toPayload = (value: unknown) => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload) => defaultPayloadConverter.fromPayload(payload);
const utf8 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

describe('AES-256-GCM payload codec', () => {
  it('round-trips a payload and leaves no plaintext in the encrypted one', async () => {
    const codec = new AesGcmCodec([keyA], 'a');
    const [encrypted] = await codec.encode([toPayload({ note: SECRET })]);
    assert.equal(utf8(encrypted!.metadata!.encoding), 'binary/encrypted');
    assert.equal(utf8(encrypted!.metadata![KEY_ID_METADATA]), 'a');
    assert.ok(!Buffer.from(encrypted!.data!).includes(SECRET), 'ciphertext contains the plaintext');
    assert.ok(!Buffer.from(encrypted!.data!).includes('json/plain'), 'the inner metadata is encrypted too');
    const [decoded] = await codec.decode([encrypted!]);
    assert.deepEqual(fromPayload(decoded!), { note: SECRET });
  });

  it('uses a fresh IV for each payload', async () => {
    const codec = new AesGcmCodec([keyA], 'a');
    const [one, two] = await codec.encode([toPayload('same'), toPayload('same')]);
    assert.notDeepEqual(Buffer.from(one!.data!), Buffer.from(two!.data!));
  });

  it('rotates: new payloads use the current key, old ones still decode with theirs', async () => {
    const [old] = await new AesGcmCodec([keyA], 'a').encode([toPayload('written under a')]);
    const rotated = new AesGcmCodec([keyA, keyB], 'b');
    const [fresh] = await rotated.encode([toPayload('written under b')]);
    assert.equal(utf8(fresh!.metadata![KEY_ID_METADATA]), 'b');
    const decoded = await rotated.decode([old!, fresh!]);
    assert.deepEqual(decoded.map(fromPayload), ['written under a', 'written under b']);
  });

  it('fails, naming the key id, on a payload whose key is not configured', async () => {
    const [encrypted] = await new AesGcmCodec([keyA], 'a').encode([toPayload(SECRET)]);
    await assert.rejects(new AesGcmCodec([keyB], 'b').decode([encrypted!]), (error: unknown) => {
      assert.ok(error instanceof PayloadDecryptionError);
      assert.equal(error.keyId, 'a');
      assert.match(error.message, /encrypted with key "a", which is not configured here \(encryption\.keys has "b"\)/);
      assert.ok(!error.message.includes(SECRET));
      return true;
    });
  });

  it('fails on altered ciphertext, on a relabelled key id and on other key material under the same id', async () => {
    const codec = new AesGcmCodec([keyA, keyB], 'a');
    const [encrypted] = await codec.encode([toPayload(SECRET)]);
    const altered = Buffer.from(encrypted!.data!);
    altered[20]! ^= 1;
    await assert.rejects(codec.decode([{ ...encrypted!, data: altered }]), /key "a" failed to decrypt: it was altered/);
    const relabelled = { ...encrypted!, metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from('b') } };
    await assert.rejects(codec.decode([relabelled]), /key "b" failed to decrypt/);
    const impostor = new AesGcmCodec([{ id: 'a', key: Buffer.alloc(32, 7) }], 'a');
    await assert.rejects(impostor.decode([encrypted!]), /key "a" failed to decrypt/);
    await assert.rejects(codec.decode([{ ...encrypted!, data: Buffer.alloc(4) }]), /truncated/);
  });

  it('passes through payloads written before encryption was turned on', async () => {
    const plain = toPayload({ before: true });
    const [decoded] = await new AesGcmCodec([keyA], 'a').decode([plain]);
    assert.equal(decoded, plain);
  });

  it('refuses a current key that is not configured and a key of the wrong size', () => {
    assert.throws(() => new AesGcmCodec([keyA], 'b'), /current encryption key "b" is not among the configured keys/);
    assert.throws(() => new AesGcmCodec([{ id: 'x', key: Buffer.alloc(16) }], 'x'), /key "x" must be 32 bytes/);
  });
});

describe('failure converter', () => {
  it('moves the message and stack trace into a payload, which the codec then encrypts', async () => {
    const failure = failureConverter.errorToFailure(ApplicationFailure.create({ message: `downstream said: ${SECRET}` }), defaultPayloadConverter);
    assert.equal(failure.message, 'Encoded failure');
    assert.equal(failure.stackTrace, '');
    const [encrypted] = await new AesGcmCodec([keyA], 'a').encode([failure.encodedAttributes!]);
    assert.ok(!Buffer.from(encrypted!.data!).includes('downstream said'));
    const restored = failureConverter.failureToError({ ...failure, encodedAttributes: (await new AesGcmCodec([keyA], 'a').decode([encrypted!]))[0]! }, defaultPayloadConverter);
    assert.equal(restored.message, `downstream said: ${SECRET}`);
  });
});

describe('codec server', () => {
  const TOKEN = 'codec-token-0123456789-0123456789-abc';
  const UI = 'http://127.0.0.1:8233';
  const codec = new AesGcmCodec([keyA], 'a');
  const app = createCodecApp({ codec, token: TOKEN, allowedOrigins: [UI], log: createLogger('silent') });
  const json = (payload: Payload) => ({
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, body: JSON.stringify(body) });

  it('decodes with the bearer token, and with the token as the first path segment (the Web UI form)', async () => {
    const [encrypted] = await codec.encode([toPayload(SECRET)]);
    for (const [path, headers] of [['/decode', { authorization: `Bearer ${TOKEN}` }], [`/${encodeURIComponent(TOKEN)}/decode`, {}]] as const) {
      const response = await post(path, { payloads: [json(encrypted!)] }, headers);
      assert.equal(response.status, 200, path);
      const body = (await response.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
      assert.equal(Buffer.from(body.payloads[0]!.data, 'base64').toString('utf8'), JSON.stringify(SECRET));
      assert.equal(Buffer.from(body.payloads[0]!.metadata.encoding!, 'base64').toString('utf8'), 'json/plain');
    }
  });

  it('encodes what it decodes', async () => {
    const response = await post('/encode', { payloads: [json(toPayload(SECRET))] }, { authorization: `Bearer ${TOKEN}` });
    const body = (await response.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    assert.equal(Buffer.from(body.payloads[0]!.metadata[KEY_ID_METADATA]!, 'base64').toString('utf8'), 'a');
    assert.ok(!Buffer.from(body.payloads[0]!.data, 'base64').includes(SECRET));
  });

  it('answers 401 without the token, with a wrong one, and with a wrong path token', async () => {
    const [encrypted] = await codec.encode([toPayload(SECRET)]);
    for (const [path, headers] of [['/decode', {}], ['/decode', { authorization: 'Bearer wrong' }], ['/wrong/decode', {}], ['/encode', {}]] as const) {
      const response = await post(path, { payloads: [json(encrypted!)] }, headers);
      assert.equal(response.status, 401, `${path} ${JSON.stringify(headers)}`);
      assert.ok(!(await response.text()).includes(SECRET));
    }
  });

  it('sets CORS headers for the Web UI origin only, on preflight and on answers', async () => {
    const preflight = await app.request('/decode', { method: 'OPTIONS', headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), UI);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
    const other = await app.request('/decode', { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const answer = await post('/decode', { payloads: [] }, { authorization: `Bearer ${TOKEN}`, origin: UI });
    assert.equal(answer.headers.get('access-control-allow-origin'), UI);
    const refused = await post('/decode', { payloads: [] }, { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' });
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
  });

  it('answers 422 naming the key id it lacks, 400 for a body that is not payloads, and takes {} as no payloads', async () => {
    const [foreign] = await new AesGcmCodec([keyB], 'b').encode([toPayload(SECRET)]);
    const response = await post('/decode', { payloads: [json(foreign!)] }, { authorization: `Bearer ${TOKEN}` });
    assert.equal(response.status, 422);
    assert.deepEqual(await response.json(), { error: 'a payload is encrypted with key "b", which is not configured here (encryption.keys has "a")', keyId: 'b' });
    assert.equal((await post('/decode', { payloads: 'x' }, { authorization: `Bearer ${TOKEN}` })).status, 400);
    assert.equal((await post('/decode', [1], { authorization: `Bearer ${TOKEN}` })).status, 400);
    // Proto3 JSON omits an empty list; the Temporal CLI sends `{}`.
    const empty = await post('/decode', {}, { authorization: `Bearer ${TOKEN}` });
    assert.deepEqual([empty.status, await empty.json()], [200, { payloads: [] }]);
  });
});

describe('keyed hash of ordering and idempotency keys', () => {
  const hashKey = hashKeyOf({ hashKey: Buffer.alloc(32, 5).toString('base64') });

  it('keeps keys as given without encryption, and the idempotent correlation id as before', () => {
    assert.equal(storedOrderingKey(undefined, 'acme', 'arg:/email=a@b.c'), 'arg:/email=a@b.c');
    assert.deepEqual(idempotencyDigest(undefined, 'acme\u0000k'), createHash('sha256').update('acme\u0000k').digest());
  });

  it('hashes with the key: stable, per tenant, no plaintext, and a different id for an idempotency key', () => {
    const stored = storedOrderingKey(hashKey, 'acme', 'arg:/email=a@b.c');
    assert.match(stored, /^hmac:[0-9a-f]{32}$/);
    assert.equal(storedOrderingKey(hashKey, 'acme', 'arg:/email=a@b.c'), stored);
    assert.notEqual(storedOrderingKey(hashKey, 'other', 'arg:/email=a@b.c'), stored);
    assert.notEqual(storedOrderingKey(hashKeyOf({ hashKey: Buffer.alloc(32, 6).toString('base64') }), 'acme', 'arg:/email=a@b.c'), stored);
    assert.notEqual(idempotentCorrelationId('acme', 'k', hashKey), idempotentCorrelationId('acme', 'k', undefined));
    assert.match(idempotentCorrelationId('acme', 'k', hashKey), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
