// LEAST_REQUEST: power-of-N-choices on active requests for equal weights; EDF on weight / (active + 1) otherwise (Envoy).
import type { UpstreamEndpoint } from '../../contracts.js';
import { EdfScheduler } from './edf-scheduler.js';
import { type LoadBalancer, allEqual } from './load-balancer.js';

/** Owns the choice state over a fixed endpoint set; pick() is O(choiceCount) or O(log n), no allocation. */
export class LeastRequestLb implements LoadBalancer {
  readonly #endpoints: readonly UpstreamEndpoint[];
  readonly #weights: readonly number[];
  readonly #choiceCount: number;
  readonly #random: () => number;
  readonly #edf: EdfScheduler | null;

  constructor(
    endpoints: readonly UpstreamEndpoint[],
    weights: readonly number[],
    choiceCount = 2,
    random: () => number = Math.random,
  ) {
    this.#endpoints = endpoints;
    this.#weights = weights;
    this.#choiceCount = Math.max(1, choiceCount);
    this.#random = random;
    this.#edf =
      endpoints.length > 1 && !allEqual(weights)
        ? new EdfScheduler(weights.map((w, i) => w / (endpoints[i]!.activeRequests + 1)))
        : null;
  }

  // LoadBalancer
  pick(): UpstreamEndpoint | null {
    const eps = this.#endpoints;
    const n = eps.length;
    if (n === 0) return null;
    if (n === 1) return eps[0]!;
    const edf = this.#edf;
    if (edf !== null) {
      const top = edf.peek();
      const ep = eps[top]!;
      edf.rescheduleTop(this.#weights[top]! / (ep.activeRequests + 1));
      return ep;
    }
    let best = eps[Math.floor(this.#random() * n) % n]!;
    for (let c = 1; c < this.#choiceCount; c++) {
      const cand = eps[Math.floor(this.#random() * n) % n]!;
      if (cand.activeRequests < best.activeRequests) best = cand;
    }
    return best;
  }
}
