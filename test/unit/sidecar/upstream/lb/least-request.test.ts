import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamEndpoint } from '../../../../../sidecar/contracts.js';
import { LeastRequestLb } from '../../../../../sidecar/upstream/lb/least-request.js';

function ep(key: string, activeRequests = 0): UpstreamEndpoint {
  return {
    key,
    address: { address: '127.0.0.1', port: 1 },
    clusterName: 'c',
    weight: 1,
    labels: {},
    activeRequests,
    healthy: true,
    removed: false,
    rqTotal: 0,
    rqError: 0,
    cxActive: 0,
  };
}

function seq(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('LeastRequestLb', () => {
  it('of two random choices takes the one with fewer active requests', () => {
    const eps = [ep('a', 5), ep('b', 1), ep('c', 3)];
    // choices: (a, b) → b ; (c, a) → c ; (a, a) → a
    const lb = new LeastRequestLb(eps, [1, 1, 1], 2, seq([0.1, 0.4, 0.9, 0.1, 0.2, 0.2]));
    assert.equal(lb.pick()!.key, 'b');
    assert.equal(lb.pick()!.key, 'c');
    assert.equal(lb.pick()!.key, 'a');
  });

  it('P2C steers load toward the less loaded endpoint under a pseudo-random draw', () => {
    let s = 7;
    const rnd = () => ((s = (s * 48271) % 2147483647) / 2147483647);
    const busy = ep('busy', 10);
    const idle = ep('idle', 0);
    const other = ep('other', 5);
    const lb = new LeastRequestLb([busy, idle, other], [1, 1, 1], 2, rnd);
    const counts: Record<string, number> = { busy: 0, idle: 0, other: 0 };
    for (let i = 0; i < 3000; i++) counts[lb.pick()!.key]!++;
    // busy wins only when drawn twice (1/9); idle wins whenever drawn (5/9).
    assert.ok(counts.busy! < 450, JSON.stringify(counts));
    assert.ok(counts.idle! > 1500, JSON.stringify(counts));
  });

  it('uses weight / (active + 1) when weights differ', () => {
    const a = ep('a', 0);
    const b = ep('b', 0);
    const lb = new LeastRequestLb([a, b], [3, 1]);
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 400; i++) counts[lb.pick()!.key]!++;
    assert.equal(counts.a, 300);
    // a now carries 3 requests per pick: weight 3/4 vs b's 1/1 → b is preferred.
    a.activeRequests = 3;
    const lb2 = new LeastRequestLb([a, b], [3, 1]);
    const c2: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 70; i++) c2[lb2.pick()!.key]!++;
    assert.ok(c2.b! > c2.a!, JSON.stringify(c2));
  });

  it('handles zero and one endpoint', () => {
    assert.equal(new LeastRequestLb([], []).pick(), null);
    const only = ep('only');
    assert.equal(new LeastRequestLb([only], [1]).pick(), only);
  });
});
