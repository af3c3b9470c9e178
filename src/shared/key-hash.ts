// What a client-chosen key becomes where Temporal stores it in the clear: search attributes and
// workflow ids are never encrypted, and an ordering key (`arg:/email=…`) or an idempotency key
// may hold personal data. With `encryption` configured, both are keyed hashes (HMAC-SHA256 under
// `encryption.hashKey`), so nobody without the key can test a guess against them; an operator
// computes the stored form with `switchyard search-key`. Gateway and CLI only (node:crypto).
import { createHash, createHmac } from 'node:crypto';

/** The key of the hash, from `encryption.hashKey`; undefined without encryption. */
export type HashKey = Uint8Array | undefined;

export function hashKeyOf(encryption: { hashKey: string } | undefined): HashKey {
  return encryption === undefined ? undefined : Buffer.from(encryption.hashKey, 'base64');
}

/** Stored ordering keys begin with this when hashed, so an operator can tell. */
export const HASHED_KEY_PREFIX = 'hmac:';

/**
 * The ordering key as it is stored (SwitchyardOrderingKey, key workflow routes, the envelope):
 * as given without encryption, else `hmac:` and 32 hex digits of HMAC(tenant, key). The tenant is
 * in the hash so one tenant's keys cannot be matched against another's.
 */
export function storedOrderingKey(hashKey: HashKey, tenant: string, orderingKey: string): string {
  if (hashKey === undefined) return orderingKey;
  return HASHED_KEY_PREFIX + createHmac('sha256', hashKey).update(`ordering\u0000${tenant}\u0000${orderingKey}`, 'utf8').digest('hex').slice(0, 32);
}

/** The 32-byte digest an idempotent correlation id is made from: SHA-256 without encryption (as before), HMAC with it. */
export function idempotencyDigest(hashKey: HashKey, text: string): Buffer {
  return hashKey === undefined
    ? createHash('sha256').update(text, 'utf8').digest()
    : createHmac('sha256', hashKey).update(`idempotency\u0000${text}`, 'utf8').digest();
}
