import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamEndpoint } from '../../../../../sidecar/contracts.js';
import { type LocalityHosts, PrioritySetLb, type PrioritySetLbOptions } from '../../../../../sidecar/upstream/lb/priority-set-lb.js';
import { prioritySetLbOptions } from '../../../../helpers/http-fakes.js';
import { ep, hashCtx, seeded, tally } from './fixtures.js';

function opts(over: Partial<PrioritySetLbOptions> = {}): PrioritySetLbOptions & { panics: { n: number } } {
  const panics = { n: 0 };
  return { ...prioritySetLbOptions({ random: seeded(42), panicCounter: { inc: () => void panics.n++ }, ...over }), panics };
}

/** `n` endpoints named `<prefix><i>`, the first `healthy` healthy, the next `degraded` degraded, the rest unhealthy. */
function group(prefix: string, n: number, healthy: number, degraded = 0, weight = 1): UpstreamEndpoint[] {
  return Array.from({ length: n }, (_, i) =>
    ep(`${prefix}${i}`, { healthy: i < healthy + degraded, healthFlags: i < healthy + degraded ? 0 : 1, degraded: i >= healthy && i < healthy + degraded, weight }),
  );
}

const loc = (hosts: UpstreamEndpoint[], weight = 1): LocalityHosts => ({ weight, hosts });

function share(t: Map<string, number>, prefix: string, n: number): number {
  let s = 0;
  for (const [k, v] of t) if (k.startsWith(prefix)) s += v;
  return s / n;
}

describe('PrioritySetLb', () => {
  it('spills load from P0 to P1 by availability and never picks unhealthy hosts outside panic', () => {
    const p0 = group('p0-', 10, 5);
    const lb = new PrioritySetLb([[loc(p0)], [loc(group('p1-', 10, 10))]], opts());
    assert.deepEqual([...lb.load.healthy], [70, 30]);
    const n = 20_000;
    const t = tally(n, () => lb.pick(null));
    assert.ok(Math.abs(share(t, 'p0-', n) - 0.7) < 0.02, JSON.stringify([...t]));
    for (const e of p0.slice(5)) assert.equal(t.has(e.key), false);
  });

  it('in panic picks among all hosts of the priority and counts each panic pick', () => {
    const o = opts();
    const lb = new PrioritySetLb([[loc(group('a', 4, 1))]], o);
    assert.deepEqual(lb.load.panic, [true]);
    const t = tally(400, () => lb.pick(null));
    assert.deepEqual([...t.keys()].sort(), ['a0', 'a1', 'a2', 'a3']);
    assert.equal(o.panics.n, 400);
  });

  it('with panic disabled serves only healthy hosts, and none when none is healthy', () => {
    const o = opts({ healthyPanicThresholdPercent: 0 });
    const lb = new PrioritySetLb([[loc(group('a', 4, 1))]], o);
    assert.deepEqual([...tally(50, () => lb.pick(null)).keys()], ['a0']);
    assert.equal(o.panics.n, 0);
    const dead = new PrioritySetLb([[loc(group('b', 3, 0))]], o);
    assert.equal(dead.pick(null), null);
  });

  it('sends to degraded hosts only the load healthy ones cannot take', () => {
    // 2 healthy, 8 degraded of 10: healthy availability 28, degraded 100 → 28% / 72%
    const lb = new PrioritySetLb([[loc(group('h', 10, 2, 8))]], opts());
    assert.deepEqual([lb.load.healthy[0], lb.load.degraded[0]], [28, 72]);
    const n = 20_000;
    const t = tally(n, () => lb.pick(null));
    const toHealthy = ((t.get('h0') ?? 0) + (t.get('h1') ?? 0)) / n;
    assert.ok(Math.abs(toHealthy - 0.28) < 0.02, `${toHealthy}`);
  });

  // Envoy docs, "Locality weighted load balancing": X weight 1, Y weight 2 (Y fully available).
  for (const [xHealthyOf20, expectX] of [[20, 1 / 3], [14, 0.98 / 2.98], [10, 0.7 / 2.7], [5, 0.35 / 2.35], [0, 0]] as const) {
    it(`picks localities by weight × availability: X ${(xHealthyOf20 / 20) * 100}% healthy → ${(expectX * 100).toFixed(1)}%`, () => {
      const x = group('x', 20, xHealthyOf20);
      const y = group('y', 20, 20);
      const lb = new PrioritySetLb([[loc(x, 1), loc(y, 2)]], opts({ localityWeightedLb: true }));
      const n = 6000;
      const t = tally(n, () => lb.pick(null));
      assert.ok(Math.abs(share(t, 'x', n) - expectX) < 0.005, `${share(t, 'x', n)}`);
      for (const e of x.slice(xHealthyOf20)) assert.equal(t.has(e.key), false);
    });
  }

  it('without locality weighted LB uses endpoint weights only (locality weights ignored)', () => {
    const lb = new PrioritySetLb([[loc([ep('a')], 1), loc([ep('b', { weight: 3 })], 9)]], opts());
    const t = tally(400, () => lb.pick(null));
    assert.deepEqual([t.get('a'), t.get('b')], [100, 300]);
  });

  it('re-picks while the retry host predicate rejects, up to hostSelectionRetryMaxAttempts', () => {
    const eps = [ep('a'), ep('b'), ep('c')];
    const lb = new PrioritySetLb([[loc(eps)]], opts({ random: () => 0 }));
    // round robin from a: a rejected → b
    let asked = 0;
    const ctx = hashCtx(null, (e) => (asked++, e.key === 'a'), 2);
    assert.equal(lb.pick(ctx)!.key, 'b');
    assert.equal(asked, 2);
    // no re-pick allowed: the rejected host is returned
    const lb2 = new PrioritySetLb([[loc(eps)]], opts({ random: () => 0 }));
    assert.equal(lb2.pick(hashCtx(null, (e) => e.key === 'a', 0))!.key, 'a');
    // everything rejected: 1 + max attempts picks, the last one returned
    asked = 0;
    const lb3 = new PrioritySetLb([[loc(eps)]], opts({ random: () => 0 }));
    const all = hashCtx(null, () => (asked++, true), 3);
    // picks a, b, c, a
    assert.equal(lb3.pick(all)!.key, 'a');
    assert.equal(asked, 4);
    assert.equal(lb3.pick(null)!.key, 'b');
  });

  it('hash policies: the request hash chooses the priority (hash mod 100) and the host, consistently', () => {
    const p0 = group('p0-', 10, 5);
    const p1 = group('p1-', 10, 10);
    for (const policy of ['RING_HASH', 'MAGLEV']) {
      const lb = new PrioritySetLb([[loc(p0)], [loc(p1)]], opts({ lbPolicy: policy }));
      assert.deepEqual([...lb.load.healthy], [70, 30]);
      assert.ok(lb.pick(hashCtx(10n))!.key.startsWith('p0-'), policy);
      assert.ok(lb.pick(hashCtx(169n))!.key.startsWith('p0-'), policy);
      assert.ok(lb.pick(hashCtx(95n))!.key.startsWith('p1-'), policy);
      assert.ok(lb.pick(hashCtx(1_000_000_075n))!.key.startsWith('p1-'), policy);
      const h = 0x1234_5678_9abc_def0n;
      const first = lb.pick(hashCtx(h))!.key;
      for (let i = 0; i < 5; i++) assert.equal(lb.pick(hashCtx(h))!.key, first);
    }
  });

  it('hash policies: retries probe other hosts, panic counted once per pick', () => {
    const o = opts({ lbPolicy: 'RING_HASH' });
    const eps = group('a', 4, 1);
    const lb = new PrioritySetLb([[loc(eps)]], o);
    const h = 77n;
    const first = lb.pick(hashCtx(h))!;
    assert.equal(o.panics.n, 1);
    const other = lb.pick(hashCtx(h, (e) => e === first, 5))!;
    assert.notEqual(other, first);
    assert.equal(o.panics.n, 2);
  });
});
