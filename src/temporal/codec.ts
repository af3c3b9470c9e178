// The payload codec that encrypts everything Switchyard writes into Temporal: AES-256-GCM, with
// the key's id in the payload's metadata so keys rotate without a migration. New payloads use the
// current key; a payload is decoded with whichever configured key its id names.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
// CommonJS: no named exports under ESM.
import proto from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ProtoPayload = proto.temporal.api.common.v1.Payload;

export interface EncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Uint8Array;
}

/** A payload this process cannot decrypt: it names the key id and never carries the payload. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  constructor(
    readonly keyId: string | undefined,
    reason: string,
  ) {
    super(reason);
  }
}

const text = new TextEncoder();
const utf8 = new TextDecoder();

export class AesGcmCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Uint8Array>;
  private readonly current: EncryptionKey;

  constructor(keys: EncryptionKey[], currentKeyId: string) {
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    for (const k of keys) if (k.key.length !== 32) throw new Error(`encryption key "${k.id}" must be 32 bytes, not ${k.key.length}`);
    const current = this.keys.get(currentKeyId);
    if (current === undefined) throw new Error(`the current encryption key "${currentKeyId}" is not among the configured keys`);
    this.current = { id: currentKeyId, key: current };
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  /**
   * Payloads written before encryption was turned on pass through, so histories in flight keep
   * working; an encrypted one is decrypted or fails, never passed on as it is.
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  encrypt(payload: Payload): Payload {
    const { id, key } = this.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    // The key id is authenticated too: relabelling a payload with another id fails to decrypt.
    cipher.setAAD(text.encode(id));
    const plain = ProtoPayload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { encoding: text.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text.encode(id), [CIPHER_METADATA]: text.encode(CIPHER) },
      data,
    };
  }

  decrypt(payload: Payload): Payload {
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    const id = rawId ? utf8.decode(rawId) : undefined;
    if (id === undefined) throw new PayloadDecryptionError(undefined, `an encrypted payload has no "${KEY_ID_METADATA}" metadata; it cannot be decrypted`);
    const key = this.keys.get(id);
    if (key === undefined) {
      throw new PayloadDecryptionError(id, `a payload is encrypted with key "${id}", which is not configured here (encryption.keys has ${[...this.keys.keys()].map((k) => `"${k}"`).join(', ')})`);
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(id, `a payload encrypted with key "${id}" is truncated (${data.length} bytes)`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(text.encode(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return ProtoPayload.decode(plain);
    } catch {
      throw new PayloadDecryptionError(id, `a payload encrypted with key "${id}" failed to decrypt: it was altered, or key "${id}" here is not the key that encrypted it`);
    }
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && utf8.decode(encoding) === ENCRYPTED_ENCODING;
}
