// RANDOM: one uniform draw per pick, proportional to weight. (Envoy's RandomLoadBalancer ignores weights;
// Tessera honours them, which is the same thing when weights are equal.)
import type { LbContext, UpstreamEndpoint } from '../../contracts.js';
import { type LoadBalancer, allEqual } from './load-balancer.js';

/** Owns the cumulative weights of a fixed endpoint set; pick() is O(1) unweighted, O(log n) weighted, no allocation. */
export class RandomLb implements LoadBalancer {
  readonly #endpoints: readonly UpstreamEndpoint[];
  /** Running sums of the weights; null when all weights are equal. */
  readonly #cumulative: Float64Array | null;
  readonly #total: number;
  readonly #random: () => number;

  constructor(endpoints: readonly UpstreamEndpoint[], weights: readonly number[], random: () => number = Math.random) {
    this.#endpoints = endpoints;
    this.#random = random;
    this.#cumulative = null;
    this.#total = endpoints.length;
    if (endpoints.length > 1 && !allEqual(weights)) {
      const cum = new Float64Array(endpoints.length);
      let sum = 0;
      for (let i = 0; i < cum.length; i++) {
        sum += Math.max(0, weights[i]!);
        cum[i] = sum;
      }
      this.#cumulative = cum;
      this.#total = sum;
    }
  }

  // LoadBalancer
  /** `ctx` is not used. */
  pick(_ctx: LbContext | null): UpstreamEndpoint | null {
    const eps = this.#endpoints;
    const n = eps.length;
    if (n === 0) return null;
    const cum = this.#cumulative;
    if (cum === null) return eps[Math.floor(this.#random() * n) % n]!;
    const r = this.#random() * this.#total;
    // first i with cum[i] > r
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return eps[lo]!;
  }
}
