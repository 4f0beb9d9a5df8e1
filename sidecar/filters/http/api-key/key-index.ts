// The API-key lookup: SHA-256 of the presented key, a bucket found by the hash's first 48 bits, then a
// crypto.timingSafeEqual of the full 32-byte hash against every entry of that bucket. Why this stays constant-time
// with respect to the key: docs/api-keys.md#why-the-lookup-is-constant-time.
import * as crypto from 'node:crypto';
import type { ApiKeyConsumerConfig } from '../../../../src/xds/resources/filters/api-key.js';
import { consumerMetadataHeader } from '../../../../src/xds/resources/filters/api-key.js';

/** What a matching key grants, prebuilt once per key: nothing here is the key itself. */
export interface ApiKeyGrant {
  readonly consumerId: string;
  readonly keyName: string;
  /** Headers set upstream, flat `[name, value, name, value, …]`: the consumer header, then forwarded metadata. */
  readonly upstreamHeaders: readonly string[];
  /** Dynamic-metadata entries `[key, value]`: consumer_id, key_name, then the consumer's metadata. */
  readonly metadata: readonly (readonly [string, string])[];
}

interface Entry {
  readonly hash: Buffer;
  readonly grant: ApiKeyGrant;
}

/** One-shot SHA-256 (crypto.hash, Node ≥ 20.12) or a Hash object on older Node 20 releases. */
const sha256: (data: Buffer) => Buffer =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

/** The bucket of a 32-byte hash: its first 6 bytes as a number (48 bits, exact in a double). */
function bucketOf(hash: Buffer): number {
  return hash.readUIntBE(0, 6);
}

/** Every configured key by bucket, with the grant each one gives (built once per filter chain). */
export class ApiKeyIndex {
  readonly #buckets: Map<number, Entry[]>;
  readonly size: number;

  constructor(consumers: readonly ApiKeyConsumerConfig[], consumerHeader: string, forwardMetadata: readonly string[]) {
    this.#buckets = new Map();
    let size = 0;
    for (const c of consumers) {
      for (const k of c.keys) {
        const upstreamHeaders: string[] = [consumerHeader, c.id];
        for (const m of forwardMetadata) {
          const v = c.metadata[m];
          if (v !== undefined) upstreamHeaders.push(consumerMetadataHeader(m), v);
        }
        const metadata: (readonly [string, string])[] = [['consumer_id', c.id], ['key_name', k.name]];
        for (const [mk, mv] of Object.entries(c.metadata)) metadata.push([mk, mv]);
        const grant: ApiKeyGrant = Object.freeze({
          consumerId: c.id,
          keyName: k.name,
          upstreamHeaders: Object.freeze(upstreamHeaders),
          metadata: Object.freeze(metadata),
        });
        const hash = Buffer.from(k.sha256, 'hex');
        const b = bucketOf(hash);
        let bucket = this.#buckets.get(b);
        if (bucket === undefined) {
          bucket = [];
          this.#buckets.set(b, bucket);
        }
        bucket.push(Object.freeze({ hash, grant }));
        size++;
      }
    }
    this.size = size;
  }

  /**
   * The grant of the key whose bytes are `key` (a byte string: one char per byte), or null. Every entry of the
   * bucket is compared in full, without an early exit, so the time spent does not tell which entry matched.
   */
  lookup(key: string): ApiKeyGrant | null {
    const hash = sha256(Buffer.from(key, 'latin1'));
    const bucket = this.#buckets.get(bucketOf(hash));
    if (bucket === undefined) return null;
    let found: ApiKeyGrant | null = null;
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if (crypto.timingSafeEqual(e.hash, hash) && found === null) found = e.grant;
    }
    return found;
  }
}
