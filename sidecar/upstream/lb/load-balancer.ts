// The load-balancer seam: one instance per host source (priority × healthy/degraded/all × locality), rebuilt
// whenever its endpoints change; priority, panic and locality selection live in priority-set-lb.ts.
import type { LbContext, UpstreamEndpoint } from '../../contracts.js';

/** Picks one endpoint among a fixed set (already filtered by the caller); null when the set is empty. */
export interface LoadBalancer {
  /** One pick; `ctx` is read only by hash-based policies (its hash), the retry host predicate is the caller's. */
  pick(ctx: LbContext | null): UpstreamEndpoint | null;
}

/** A consistent-hashing LB (RING_HASH, MAGLEV): the hash is given split into unsigned 32-bit halves. */
export interface HashLoadBalancer extends LoadBalancer {
  /** `attempt` > 0 = a re-pick for a retry host predicate (Envoy moves along the ring / mutates the hash). */
  pickHash(hi: number, lo: number, attempt: number): UpstreamEndpoint | null;
}

export function isHashLoadBalancer(lb: LoadBalancer): lb is HashLoadBalancer {
  return typeof (lb as Partial<HashLoadBalancer>).pickHash === 'function';
}

/** Greatest common divisor of positive integers (1 for non-integers). */
export function gcdOf(weights: readonly number[]): number {
  let g = 0;
  for (const w of weights) {
    if (!Number.isInteger(w)) return 1;
    let a = g;
    let b = w;
    while (b !== 0) {
      const t = a % b;
      a = b;
      b = t;
    }
    g = a;
  }
  return g === 0 ? 1 : g;
}

export function allEqual(weights: readonly number[]): boolean {
  for (let i = 1; i < weights.length; i++) if (weights[i] !== weights[0]) return false;
  return true;
}

/** Shared split of a request hash: [high 32 bits, low 32 bits]. Single-threaded, so one scratch is enough. */
export const hashScratch = new Uint32Array(2);

const MASK32 = 0xffffffffn;

/** Writes `h` (or a random 64-bit value when null, as Envoy does) into `hashScratch`. */
export function splitHash(h: bigint | null, random: () => number): void {
  if (h === null) {
    hashScratch[0] = Math.floor(random() * 4294967296) >>> 0;
    hashScratch[1] = Math.floor(random() * 4294967296) >>> 0;
  } else {
    hashScratch[0] = Number((h >> 32n) & MASK32);
    hashScratch[1] = Number(h & MASK32);
  }
}

/** (hi·2^32 + lo) mod m for m < 2^26 without BigInt. */
export function mod64(hi: number, lo: number, m: number): number {
  return (((hi % m) * (4294967296 % m)) + lo) % m;
}

/**
 * Envoy's normalizeHostWeights: weight × localityShare / Σweights, so that one locality's (or the whole
 * set's) normalized weights sum to `localityShare`. Appends to `out`.
 */
export function normalizeHostWeights(weights: readonly number[], localityShare: number, out: number[]): void {
  let sum = 0;
  for (const w of weights) sum += w;
  if (sum <= 0) return;
  for (const w of weights) out.push((w * localityShare) / sum);
}
