// The load-balancer seam: one instance per cluster priority set, rebuilt whenever its endpoints change.
import type { UpstreamEndpoint } from '../../contracts.js';

/** Picks one endpoint among a fixed set (already filtered to healthy ones); null when the set is empty. */
export interface LoadBalancer {
  pick(): UpstreamEndpoint | null;
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
