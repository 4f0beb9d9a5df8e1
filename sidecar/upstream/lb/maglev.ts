// MAGLEV (Envoy's weighted Maglev, paper §3.4): a prime-sized lookup table filled from per-host
// permutations offset = xxHash64(key, 0) mod M, skip = xxHash64(key, 1) mod (M−1) + 1; a request takes
// table[hash mod M].
import type { LbContext, UpstreamEndpoint } from '../../contracts.js';
import { xxhash64Split } from '../../../src/core/xxhash64.js';
import { type HashLoadBalancer, hashScratch, mod64, splitHash } from './load-balancer.js';

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

const keyHash = new Uint32Array(2);

export function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Owns the lookup table of a fixed endpoint set; pickHash() is one modulo and one read, no allocation. */
export class MaglevLb implements HashLoadBalancer {
  readonly #endpoints: readonly UpstreamEndpoint[];
  /** Index into #endpoints per table slot; empty when there are no endpoints. */
  readonly #table: Int32Array;
  readonly #size: number;
  readonly #random: () => number;
  /** Slots per endpoint (Envoy's min/max_entries_per_host come from these). */
  readonly entriesPerHost: Int32Array;

  /**
   * `normalizedWeights[i]` is endpoint i's share (see normalizeHostWeights). `tableSize` must be prime
   * (the xDS validator checks it); a non-prime size is raised to the next prime so the fill terminates.
   */
  constructor(
    endpoints: readonly UpstreamEndpoint[],
    normalizedWeights: readonly number[],
    tableSize: number,
    random: () => number = Math.random,
  ) {
    this.#endpoints = endpoints;
    this.#random = random;
    let m = Math.max(2, Math.floor(tableSize));
    while (!isPrime(m)) m++;
    this.#size = m;
    const n = endpoints.length;
    this.entriesPerHost = new Int32Array(n);
    // Hosts with weight 0 (a locality of weight 0) get no slot.
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (normalizedWeights[i]! > 0) idx.push(i);
    if (idx.length === 0) {
      this.#table = new Int32Array(0);
      return;
    }
    // Envoy fills in the order of the sorted host keys, so the table does not depend on EDS order.
    idx.sort((a, b) => (endpoints[a]!.key < endpoints[b]!.key ? -1 : endpoints[a]!.key > endpoints[b]!.key ? 1 : a - b));
    const k = idx.length;
    // pos[j] = permutation(j, next_j) = (offset + skip × next_j) mod M, advanced by + skip (mod M) per step.
    const pos = new Int32Array(k);
    const skip = new Int32Array(k);
    const weight = new Float64Array(k);
    const target = new Float64Array(k);
    let maxW = 0;
    for (let j = 0; j < k; j++) {
      const ep = endpoints[idx[j]!]!;
      xxhash64Split(ep.key, 0, keyHash);
      pos[j] = mod64(keyHash[0]!, keyHash[1]!, m);
      xxhash64Split(ep.key, 1, keyHash);
      skip[j] = mod64(keyHash[0]!, keyHash[1]!, m - 1) + 1;
      weight[j] = normalizedWeights[idx[j]!]!;
      if (weight[j]! > maxW) maxW = weight[j]!;
    }
    const table = new Int32Array(m).fill(-1);
    let filled = 0;
    for (let iteration = 1; filled < m; iteration++) {
      for (let j = 0; j < k && filled < m; j++) {
        // A host of weight maxW takes a slot every iteration, one of maxW/3 every third iteration.
        if (iteration * weight[j]! < target[j]!) continue;
        target[j]! += maxW;
        const s = skip[j]!;
        let c = pos[j]!;
        while (table[c] !== -1) {
          c += s;
          if (c >= m) c -= m;
        }
        table[c] = idx[j]!;
        c += s;
        pos[j] = c >= m ? c - m : c;
        this.entriesPerHost[idx[j]!]!++;
        filled++;
      }
    }
    this.#table = table;
  }

  get tableSize(): number {
    return this.#size;
  }

  // HashLoadBalancer
  pickHash(hi: number, lo: number, attempt: number): UpstreamEndpoint | null {
    const table = this.#table;
    if (table.length === 0) return null;
    if (attempt > 0) {
      // Envoy: hash ^= ~0 - attempt + 1 (= 2^64 − attempt), a large change per retry attempt.
      hi = (hi ^ 0xffffffff) >>> 0;
      lo = (lo ^ ((4294967296 - attempt) >>> 0)) >>> 0;
    }
    return this.#endpoints[table[mod64(hi, lo, this.#size)]!]!;
  }

  // LoadBalancer
  /** Hashes by `ctx.computeHash()`; no context or no hash = a random slot. */
  pick(ctx: LbContext | null): UpstreamEndpoint | null {
    splitHash(ctx === null ? null : ctx.computeHash(), this.#random);
    return this.pickHash(hashScratch[0]!, hashScratch[1]!, 0);
  }
}
