// LEAST_REQUEST (Envoy): with equal weights, the best of `choice_count` random picks (P2C by default);
// with unequal weights, EDF on weight / (active_requests + 1)^active_request_bias, re-weighted at each pick.
import type { LbContext, UpstreamEndpoint } from '../../contracts.js';
import { EdfScheduler } from './edf-scheduler.js';
import { type LoadBalancer, allEqual } from './load-balancer.js';

/** Owns the choice state over a fixed endpoint set; pick() is O(choiceCount) or O(log n), no allocation. */
export class LeastRequestLb implements LoadBalancer {
  readonly #endpoints: readonly UpstreamEndpoint[];
  readonly #weights: readonly number[];
  readonly #choiceCount: number;
  readonly #random: () => number;
  readonly #bias: number;
  readonly #edf: EdfScheduler | null;

  /**
   * `activeRequestBias` is least_request_lb_config.active_request_bias (Envoy default 1.0; 0 = plain
   * weighted round robin). It only matters when weights differ.
   */
  constructor(
    endpoints: readonly UpstreamEndpoint[],
    weights: readonly number[],
    choiceCount = 2,
    random: () => number = Math.random,
    activeRequestBias = 1,
  ) {
    this.#endpoints = endpoints;
    this.#weights = weights;
    this.#choiceCount = Math.max(1, choiceCount);
    this.#random = random;
    this.#bias = activeRequestBias;
    this.#edf = null;
    if (endpoints.length > 1 && !allEqual(weights)) {
      const initial = new Float64Array(endpoints.length);
      for (let i = 0; i < initial.length; i++) initial[i] = this.#effectiveWeight(i);
      this.#edf = new EdfScheduler(initial);
    }
  }

  /** Envoy's hostWeight(): weight / (active + 1)^bias, computed when the host is (re)scheduled. */
  #effectiveWeight(i: number): number {
    const w = this.#weights[i]!;
    const bias = this.#bias;
    if (bias === 0) return w;
    const active = this.#endpoints[i]!.activeRequests + 1;
    return bias === 1 ? w / active : w / Math.pow(active, bias);
  }

  // LoadBalancer
  /** `ctx` is not used (least request ignores the request hash). */
  pick(_ctx: LbContext | null): UpstreamEndpoint | null {
    const eps = this.#endpoints;
    const n = eps.length;
    if (n === 0) return null;
    if (n === 1) return eps[0]!;
    const edf = this.#edf;
    if (edf !== null) {
      const top = edf.peek();
      edf.rescheduleTop(this.#effectiveWeight(top));
      return eps[top]!;
    }
    const random = this.#random;
    let best = eps[Math.floor(random() * n) % n]!;
    for (let c = 1; c < this.#choiceCount; c++) {
      const cand = eps[Math.floor(random() * n) % n]!;
      if (cand.activeRequests < best.activeRequests) best = cand;
    }
    return best;
  }
}
