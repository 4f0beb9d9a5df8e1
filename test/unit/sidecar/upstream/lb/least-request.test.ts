import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeastRequestLb } from '../../../../../sidecar/upstream/lb/least-request.js';
import { ep, seq } from './fixtures.js';

describe('LeastRequestLb', () => {
  it('of two random choices takes the one with fewer active requests', () => {
    const eps = [ep('a', { activeRequests: 5 }), ep('b', { activeRequests: 1 }), ep('c', { activeRequests: 3 })];
    // choices: (a, b) → b ; (c, a) → c ; (a, a) → a
    const lb = new LeastRequestLb(eps, [1, 1, 1], 2, seq([0.1, 0.4, 0.9, 0.1, 0.2, 0.2]));
    assert.equal(lb.pick(null)!.key, 'b');
    assert.equal(lb.pick(null)!.key, 'c');
    assert.equal(lb.pick(null)!.key, 'a');
  });

  it('P2C steers load toward the less loaded endpoint under a pseudo-random draw', () => {
    let s = 7;
    const rnd = () => ((s = (s * 48271) % 2147483647) / 2147483647);
    const busy = ep('busy', { activeRequests: 10 });
    const idle = ep('idle', { activeRequests: 0 });
    const other = ep('other', { activeRequests: 5 });
    const lb = new LeastRequestLb([busy, idle, other], [1, 1, 1], 2, rnd);
    const counts: Record<string, number> = { busy: 0, idle: 0, other: 0 };
    for (let i = 0; i < 3000; i++) counts[lb.pick(null)!.key]!++;
    // busy wins only when drawn twice (1/9); idle wins whenever drawn (5/9).
    assert.ok(counts.busy! < 450, JSON.stringify(counts));
    assert.ok(counts.idle! > 1500, JSON.stringify(counts));
  });

  it('uses weight / (active + 1) when weights differ', () => {
    const a = ep('a', { activeRequests: 0 });
    const b = ep('b', { activeRequests: 0 });
    const lb = new LeastRequestLb([a, b], [3, 1]);
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 400; i++) counts[lb.pick(null)!.key]!++;
    assert.equal(counts.a, 300);
    // a now carries 3 requests per pick: weight 3/4 vs b's 1/1 → b is preferred.
    a.activeRequests = 3;
    const lb2 = new LeastRequestLb([a, b], [3, 1]);
    const c2: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 70; i++) c2[lb2.pick(null)!.key]!++;
    assert.ok(c2.b! > c2.a!, JSON.stringify(c2));
  });

  it('applies active_request_bias: 0 = weighted round robin, 2 = weight / (active + 1)^2', () => {
    const a = ep('a', { activeRequests: 1 });
    const b = ep('b', { activeRequests: 0 });
    // bias 0: active requests ignored, plain 2:1 by weight
    const rr = new LeastRequestLb([a, b], [2, 1], 2, Math.random, 0);
    const c0: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 300; i++) c0[rr.pick(null)!.key]!++;
    assert.deepEqual(c0, { a: 200, b: 100 });
    // bias 2 with a fixed load: a = 2/4 = 0.5, b = 1/1 → b gets twice a's share
    const sq = new LeastRequestLb([a, b], [2, 1], 2, Math.random, 2);
    const c2: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 300; i++) c2[sq.pick(null)!.key]!++;
    assert.ok(Math.abs(c2.b! - 200) <= 1 && Math.abs(c2.a! - 100) <= 1, JSON.stringify(c2));
    // bias 1 (default): a = 2/2 = 1, b = 1/1 → even
    const lin = new LeastRequestLb([a, b], [2, 1]);
    const c1: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 300; i++) c1[lin.pick(null)!.key]!++;
    assert.ok(Math.abs(c1.a! - 150) <= 1, JSON.stringify(c1));
  });

  it('handles zero and one endpoint', () => {
    assert.equal(new LeastRequestLb([], []).pick(null), null);
    const only = ep('only');
    assert.equal(new LeastRequestLb([only], [1]).pick(null), only);
  });
});
