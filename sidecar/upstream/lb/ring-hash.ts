// RING_HASH (Envoy's ketama ring, gRFC A42): each host gets hashes xxHash64("<address:port>_<i>") on a
// 64-bit ring, their count proportional to its normalized weight; a request takes the first ring entry at
// or after its hash (wrapping to the start).
import type { LbContext, UpstreamEndpoint } from '../../contracts.js';
import { xxhash64Split } from '../../../src/core/xxhash64.js';
import { type HashLoadBalancer, hashScratch, splitHash } from './load-balancer.js';

export const DEFAULT_MIN_RING_SIZE = 1024;
export const DEFAULT_MAX_RING_SIZE = 8 * 1024 * 1024;

const keyHash = new Uint32Array(2);

/** Owns the sorted ring of (hash, host) of a fixed endpoint set; pickHash() is a binary search, no allocation. */
export class RingHashLb implements HashLoadBalancer {
  readonly #endpoints: readonly UpstreamEndpoint[];
  readonly #ringHi: Uint32Array;
  readonly #ringLo: Uint32Array;
  readonly #ringHost: Int32Array;
  readonly #random: () => number;
  readonly #minHashesPerHost: number;
  readonly #maxHashesPerHost: number;

  /**
   * `normalizedWeights[i]` is endpoint i's share (Σ ≤ 1, see normalizeHostWeights); the ring size is
   * ceil(min(ceil(minWeight × minRingSize) / minWeight, maxRingSize)), as in Envoy.
   */
  constructor(
    endpoints: readonly UpstreamEndpoint[],
    normalizedWeights: readonly number[],
    ringSize: { readonly minRingSize: number; readonly maxRingSize: number },
    random: () => number = Math.random,
  ) {
    this.#endpoints = endpoints;
    this.#random = random;
    const hashes: number[] = [];
    const hosts: number[] = [];
    let minPer = 0;
    let maxPer = 0;
    const n = endpoints.length;
    if (n > 0) {
      let minW = 1;
      for (const w of normalizedWeights) if (w > 0 && w < minW) minW = w;
      const scale = Math.min(Math.ceil(minW * ringSize.minRingSize) / minW, ringSize.maxRingSize);
      let current = 0;
      let target = 0;
      minPer = Number.MAX_SAFE_INTEGER;
      for (let h = 0; h < n; h++) {
        const prefix = `${endpoints[h]!.key}_`;
        target += scale * normalizedWeights[h]!;
        let i = 0;
        while (current < target) {
          xxhash64Split(prefix + i, 0, keyHash);
          hashes.push(keyHash[0]!, keyHash[1]!);
          hosts.push(h);
          i++;
          current++;
        }
        if (i < minPer) minPer = i;
        if (i > maxPer) maxPer = i;
      }
    }
    const size = hosts.length;
    const order = Array.from({ length: size }, (_, i) => i);
    order.sort((a, b) => hashes[2 * a]! - hashes[2 * b]! || hashes[2 * a + 1]! - hashes[2 * b + 1]! || a - b);
    this.#ringHi = new Uint32Array(size);
    this.#ringLo = new Uint32Array(size);
    this.#ringHost = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const o = order[i]!;
      this.#ringHi[i] = hashes[2 * o]!;
      this.#ringLo[i] = hashes[2 * o + 1]!;
      this.#ringHost[i] = hosts[o]!;
    }
    this.#minHashesPerHost = n === 0 ? 0 : minPer;
    this.#maxHashesPerHost = maxPer;
  }

  get ringSize(): number {
    return this.#ringHost.length;
  }

  /** Envoy's ring_hash_lb.min_hashes_per_host / max_hashes_per_host. */
  get minHashesPerHost(): number {
    return this.#minHashesPerHost;
  }

  get maxHashesPerHost(): number {
    return this.#maxHashesPerHost;
  }

  // HashLoadBalancer
  pickHash(hi: number, lo: number, attempt: number): UpstreamEndpoint | null {
    const size = this.#ringHost.length;
    if (size === 0) return null;
    const rh = this.#ringHi;
    const rl = this.#ringLo;
    // first entry with hash >= (hi, lo)
    let l = 0;
    let r = size;
    while (l < r) {
      const m = (l + r) >>> 1;
      const mh = rh[m]!;
      if (mh < hi || (mh === hi && rl[m]! < lo)) l = m + 1;
      else r = m;
    }
    if (l === size) l = 0;
    // A retry host predicate: behave as if the host were not on the ring (Envoy: next entries).
    if (attempt > 0) l = (l + attempt) % size;
    return this.#endpoints[this.#ringHost[l]!]!;
  }

  // LoadBalancer
  /** Hashes by `ctx.computeHash()`; no context or no hash = a random point of the ring. */
  pick(ctx: LbContext | null): UpstreamEndpoint | null {
    splitHash(ctx === null ? null : ctx.computeHash(), this.#random);
    return this.pickHash(hashScratch[0]!, hashScratch[1]!, 0);
  }
}
