// Test fixtures for load balancer tests: plain endpoints, a seeded PRNG and LbContext builders.
import type { LbContext, UpstreamEndpoint } from '../../../../../sidecar/contracts.js';
import { endpoint } from '../../../../helpers/http-fakes.js';

/** Endpoint `key` of cluster `c`: `host:port` keys give that address, other keys are a host on port 80. */
export function ep(key: string, over: Partial<UpstreamEndpoint> = {}): UpstreamEndpoint {
  const colon = key.lastIndexOf(':');
  const [address, port] = colon >= 0 ? [key.slice(0, colon), Number(key.slice(colon + 1))] : [key, 80];
  return endpoint('c', port, address, { key, ...over });
}

/** mulberry32: a small seeded PRNG in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cycles through fixed draws. */
export function seq(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/** An LbContext with a fixed hash and an optional predicate. */
export function hashCtx(hash: bigint | null, avoid: (ep: UpstreamEndpoint) => boolean = () => false, maxAttempts = 0): LbContext & { hashCalls: number } {
  const ctx = {
    hashCalls: 0,
    computeHash(): bigint | null {
      ctx.hashCalls++;
      return hash;
    },
    shouldSelectAnotherHost: avoid,
    hostSelectionRetryMaxAttempts: maxAttempts,
  };
  return ctx;
}

/** Counts picks per endpoint key. */
export function tally(n: number, pick: () => UpstreamEndpoint | null): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = pick();
    const k = e === null ? 'null' : e.key;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
