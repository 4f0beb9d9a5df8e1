// LB pick: round robin (equal and weighted) and least request over 16 endpoints.
import { LeastRequestLb } from '../../../../../sidecar/upstream/lb/least-request.js';
import { RoundRobinLb } from '../../../../../sidecar/upstream/lb/round-robin.js';
import { endpoint } from '../../../../helpers/http-fakes.js';
import { bench } from '../../bench.js';

export function run(): void {
  const eps = Array.from({ length: 16 }, (_, i) => endpoint('c', 10_000 + i));
  const equal = eps.map(() => 1);
  const weighted = eps.map((_, i) => 1 + (i % 5));
  const rr = new RoundRobinLb(eps, equal);
  bench('lb: round robin, 16 equal endpoints', 2_000_000, () => rr.pick());
  const wrr = new RoundRobinLb(eps, weighted);
  bench('lb: round robin, 16 weighted endpoints', 2_000_000, () => wrr.pick());
  const lr = new LeastRequestLb(eps, equal);
  bench('lb: least request (P2C), 16 equal endpoints', 2_000_000, () => {
    const e = lr.pick()!;
    e.activeRequests = (e.activeRequests + 1) & 7;
    return e;
  });
  const lrw = new LeastRequestLb(eps, weighted);
  bench('lb: least request (EDF), 16 weighted endpoints', 1_000_000, () => lrw.pick());
}

if (import.meta.url === `file://${process.argv[1]}`) run();
