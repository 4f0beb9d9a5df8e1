// ROUND_ROBIN: plain rotation for equal weights, nginx's smooth weighted round robin otherwise (EDF when the period is huge).
import type { LbContext, UpstreamEndpoint } from '../../contracts.js';
import { EdfScheduler } from './edf-scheduler.js';
import { type LoadBalancer, allEqual, gcdOf } from './load-balancer.js';

/** Largest (period × endpoints) for which the smooth WRR sequence is precomputed. */
const MAX_SEQUENCE_WORK = 1 << 22;

/** Owns one rotation over a fixed endpoint set; pick() is O(1) (O(log n) in EDF mode) and allocates nothing. */
export class RoundRobinLb implements LoadBalancer {
  readonly #endpoints: readonly UpstreamEndpoint[];
  /** Endpoint index per slot of one smooth-WRR period; null in rotation or EDF mode. */
  readonly #sequence: Int32Array | null;
  readonly #edf: EdfScheduler | null;
  readonly #weights: readonly number[];
  #next: number;

  /**
   * `weights[i]` is the effective weight of `endpoints[i]` (> 0). `random` only chooses the starting
   * slot, so that many sidecars do not hit the same endpoint in lockstep.
   */
  constructor(endpoints: readonly UpstreamEndpoint[], weights: readonly number[], random: () => number = Math.random) {
    this.#endpoints = endpoints;
    this.#weights = weights;
    this.#sequence = null;
    this.#edf = null;
    const n = endpoints.length;
    if (n <= 1 || allEqual(weights)) {
      this.#next = n === 0 ? 0 : Math.floor(random() * n) % n;
      return;
    }
    const g = gcdOf(weights);
    const reduced = weights.map((w) => w / g);
    const period = reduced.reduce((a, b) => a + b, 0);
    if (Number.isInteger(period) && period * n <= MAX_SEQUENCE_WORK) {
      this.#sequence = smoothSequence(reduced, period);
      this.#next = Math.floor(random() * period) % period;
    } else {
      this.#edf = new EdfScheduler(weights);
      this.#next = 0;
    }
  }

  // LoadBalancer
  /** `ctx` is not used (round robin ignores the request hash). */
  pick(_ctx: LbContext | null): UpstreamEndpoint | null {
    const eps = this.#endpoints;
    if (eps.length === 0) return null;
    const seq = this.#sequence;
    if (seq !== null) {
      const i = this.#next;
      this.#next = i + 1 === seq.length ? 0 : i + 1;
      return eps[seq[i]!]!;
    }
    const edf = this.#edf;
    if (edf !== null) {
      const top = edf.peek();
      edf.rescheduleTop(this.#weights[top]!);
      return eps[top]!;
    }
    const i = this.#next;
    this.#next = i + 1 === eps.length ? 0 : i + 1;
    return eps[i]!;
  }
}

/** One period of nginx's smooth weighted round robin (weights 5,1,1 → a a b a c a a). */
export function smoothSequence(weights: readonly number[], period: number): Int32Array {
  const n = weights.length;
  const current = new Float64Array(n);
  const out = new Int32Array(period);
  for (let s = 0; s < period; s++) {
    let best = 0;
    for (let i = 0; i < n; i++) {
      current[i]! += weights[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= period;
    out[s] = best;
  }
  return out;
}
