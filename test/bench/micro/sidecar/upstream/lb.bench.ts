// LB pick over 16 endpoints: each policy alone, then the cluster-level pick (priorities, panic, localities).
import type { LbContext, UpstreamEndpoint } from '../../../../../sidecar/contracts.js';
import { LeastRequestLb } from '../../../../../sidecar/upstream/lb/least-request.js';
import { normalizeHostWeights } from '../../../../../sidecar/upstream/lb/load-balancer.js';
import { MaglevLb } from '../../../../../sidecar/upstream/lb/maglev.js';
import { type LocalityHosts, PrioritySetLb } from '../../../../../sidecar/upstream/lb/priority-set-lb.js';
import { RandomLb } from '../../../../../sidecar/upstream/lb/random.js';
import { RingHashLb } from '../../../../../sidecar/upstream/lb/ring-hash.js';
import { RoundRobinLb } from '../../../../../sidecar/upstream/lb/round-robin.js';
import { endpoint, prioritySetLbOptions as options } from '../../../../helpers/http-fakes.js';
import { bench } from '../../bench.js';

/** Endpoint 10.0.0.1:`port` of cluster `c`; an unhealthy one carries a health flag. */
function host(port: number, healthy = true): UpstreamEndpoint {
  return endpoint('c', port, '10.0.0.1', { healthy, healthFlags: healthy ? 0 : 1 });
}

/** A context cycling through 1024 precomputed request hashes (the hash policy cost is not measured here). */
function hashContext(): LbContext {
  const hashes: bigint[] = [];
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 1024; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    hashes.push(x);
  }
  let i = 0;
  return {
    computeHash: () => hashes[i++ & 1023]!,
    shouldSelectAnotherHost: () => false,
    hostSelectionRetryMaxAttempts: 0,
  };
}

export function run(): void {
  const eps = Array.from({ length: 16 }, (_, i) => host(10_000 + i));
  const equal = eps.map(() => 1);
  const weighted = eps.map((_, i) => 1 + (i % 5));
  const norm: number[] = [];
  normalizeHostWeights(equal, 1, norm);

  const rr = new RoundRobinLb(eps, equal);
  bench('lb: round robin, 16 equal endpoints', 2_000_000, () => rr.pick(null));
  const wrr = new RoundRobinLb(eps, weighted);
  bench('lb: round robin, 16 weighted endpoints', 2_000_000, () => wrr.pick(null));
  const lr = new LeastRequestLb(eps, equal);
  bench('lb: least request (P2C), 16 equal endpoints', 2_000_000, () => {
    const e = lr.pick(null)!;
    e.activeRequests = (e.activeRequests + 1) & 7;
    return e;
  });
  const lrw = new LeastRequestLb(eps, weighted);
  bench('lb: least request (EDF), 16 weighted endpoints', 1_000_000, () => lrw.pick(null));
  const rnd = new RandomLb(eps, equal);
  bench('lb: random, 16 equal endpoints', 2_000_000, () => rnd.pick(null));
  const rndw = new RandomLb(eps, weighted);
  bench('lb: random, 16 weighted endpoints', 2_000_000, () => rndw.pick(null));
  const ctx = hashContext();
  const ring = new RingHashLb(eps, norm, { minRingSize: 1024, maxRingSize: 8 << 20 });
  bench('lb: ring hash (1024 entries), 16 endpoints', 2_000_000, () => ring.pick(ctx));
  const maglev = new MaglevLb(eps, norm, 65537);
  bench('lb: maglev (65537), 16 endpoints', 2_000_000, () => maglev.pick(ctx));
  bench('lb: ring hash build, 16 endpoints', 200, () => new RingHashLb(eps, norm, { minRingSize: 1024, maxRingSize: 8 << 20 }));
  bench('lb: maglev build (65537), 16 endpoints', 50, () => new MaglevLb(eps, norm, 65537));

  // Cluster-level: one healthy priority; P0 half down spilling to P1; locality weighted; panic.
  const one: LocalityHosts[][] = [[{ weight: 1, hosts: eps }]];
  const single = new PrioritySetLb(one, options({}));
  bench('lb: cluster pick, round robin, 1 priority', 2_000_000, () => single.pick(null));
  const p0 = Array.from({ length: 16 }, (_, i) => host(20_000 + i, i < 8));
  const spill = new PrioritySetLb([[{ weight: 1, hosts: p0 }], [{ weight: 1, hosts: eps }]], options({}));
  bench('lb: cluster pick, round robin, P0 50% → P1 spill-over', 2_000_000, () => spill.pick(null));
  const locs: LocalityHosts[] = [0, 1, 2, 3].map((z) => ({ weight: z + 1, hosts: eps.slice(z * 4, z * 4 + 4) }));
  const lw = new PrioritySetLb([locs], options({ localityWeightedLb: true }));
  bench('lb: cluster pick, round robin, 4 weighted localities', 2_000_000, () => lw.pick(null));
  const panic = new PrioritySetLb([[{ weight: 1, hosts: Array.from({ length: 16 }, (_, i) => host(30_000 + i, i < 4)) }]], options({}));
  bench('lb: cluster pick, round robin, panic', 2_000_000, () => panic.pick(null));
  const hashed = new PrioritySetLb(one, options({ lbPolicy: 'MAGLEV' }));
  bench('lb: cluster pick, maglev, 1 priority', 2_000_000, () => hashed.pick(ctx));
  const retry: LbContext = { computeHash: () => null, shouldSelectAnotherHost: (e) => e.address.port === 10_000, hostSelectionRetryMaxAttempts: 3 };
  bench('lb: cluster pick, round robin, retry host predicate', 2_000_000, () => single.pick(retry));
}

if (import.meta.url === `file://${process.argv[1]}`) run();
