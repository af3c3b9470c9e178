// What every Temporal client, worker and replayer of Switchyard converts payloads with: the
// default, or, with `encryption` configured, the AES-256-GCM codec and encoded failure messages.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import type { EncryptionConfig } from '../config/schema.js';
import { AesGcmCodec } from './codec.js';

/** Only the keys matter here (tests pass a plain object). */
type Keys = Pick<EncryptionConfig, 'keys' | 'currentKeyId'>;

export function codecFromConfig(encryption: Keys): AesGcmCodec {
  return new AesGcmCodec(
    encryption.keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') })),
    encryption.currentKeyId,
  );
}

/** Undefined without encryption: the SDK's defaults, exactly as before. */
export function dataConverterFor(encryption: Keys | undefined): DataConverter | undefined {
  if (encryption === undefined) return undefined;
  return { payloadCodecs: [codecFromConfig(encryption)], failureConverterPath: failureConverterPath() };
}

/** The failure converter module beside this one (compiled .js, or .ts under tsx). */
export function failureConverterPath(): string {
  for (const name of ['./failure-converter.js', './failure-converter.ts']) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('failure-converter module not found next to data-converter');
}
