// Verified-token cache of one JWT provider: an LRU keyed by the token string, entries dropped once expired.
import type { VerifiedJwt } from './verify.js';

/**
 * Owns the provider's verified tokens (Envoy's jwt_cache): at most `capacity` entries, least recently used evicted
 * first (a Map keeps insertion order; a hit re-inserts). An entry is dropped when looked up at or after
 * `exp + clock skew`, the moment its token can no longer pass; a hit skips the signature check only — callers still
 * check exp/nbf/iat against the current time. Only tokens whose signature verified are ever inserted.
 */
export class TokenCache {
  readonly capacity: number;
  readonly #skewSeconds: number;
  readonly #map: Map<string, VerifiedJwt>;

  constructor(capacity: number, skewSeconds: number) {
    this.capacity = capacity;
    this.#skewSeconds = skewSeconds;
    this.#map = new Map();
  }

  get size(): number {
    return this.#map.size;
  }

  /** The verified token, or null (absent, or expired and now dropped). */
  get(token: string, nowSeconds: number): VerifiedJwt | null {
    const map = this.#map;
    const v = map.get(token);
    if (v === undefined) return null;
    map.delete(token);
    if (nowSeconds >= v.exp + this.#skewSeconds) return null;
    map.set(token, v);
    return v;
  }

  set(token: string, jwt: VerifiedJwt): void {
    if (this.capacity <= 0) return;
    const map = this.#map;
    map.delete(token);
    if (map.size >= this.capacity) {
      // The first key is the least recently used.
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(token, jwt);
  }
}
