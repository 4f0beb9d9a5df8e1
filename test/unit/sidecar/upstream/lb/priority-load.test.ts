import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PriorityCounts, computePriorityLoad } from '../../../../../sidecar/upstream/lb/priority-load.js';

/** A level of `hosts` weight-1 hosts, `healthy` of them healthy and `degraded` degraded. */
function lvl(hosts: number, healthy: number, degraded = 0): PriorityCounts {
  return { hosts, healthyHosts: healthy, degradedHosts: degraded, totalWeight: hosts, healthyWeight: healthy, degradedWeight: degraded };
}

function load(levels: PriorityCounts[], panicThreshold = 50, of = 140) {
  const r = computePriorityLoad(levels, of, panicThreshold);
  return { healthy: [...r.healthy], degraded: [...r.degraded], panic: [...r.panic], norm: r.normalizedTotalAvailability };
}

describe('computePriorityLoad', () => {
  // Envoy docs, "Panic threshold", first table: P=1 100% healthy.
  for (const [p0, toP0, toP1] of [[72, 100, 0], [71, 99, 1], [50, 70, 30], [25, 35, 65], [0, 0, 100]] as const) {
    it(`spills over from P0 ${p0}% healthy to a healthy P1: ${toP0}/${toP1}`, () => {
      const r = load([lvl(100, p0), lvl(100, 100)]);
      assert.deepEqual(r.healthy, [toP0, toP1]);
      assert.deepEqual(r.panic, [false, false]);
      assert.equal(r.norm, 100);
    });
  }

  it('follows the docs second table (P=1 degrading too)', () => {
    assert.deepEqual(load([lvl(100, 72), lvl(100, 72)]).healthy, [100, 0]);
    assert.deepEqual(load([lvl(100, 71), lvl(100, 71)]).healthy, [99, 1]);
    const both = load([lvl(100, 25), lvl(100, 25)]);
    assert.deepEqual(both.healthy, [50, 50]);
    assert.deepEqual(both.panic, [true, true]);
    assert.equal(both.norm, 70);
    // 5% / 65%: P0 panics, P1 does not; normalized 98. Envoy's code gives the rounding remainder to the
    // first healthy priority (8/92; the docs table prints 7/93).
    const mixed = load([lvl(100, 5), lvl(100, 65)]);
    assert.deepEqual(mixed.panic, [true, false]);
    assert.equal(mixed.norm, 98);
    assert.deepEqual(mixed.healthy, [8, 92]);
  });

  it('in total panic distributes by host counts', () => {
    const r = load([lvl(10, 1), lvl(30, 3)]);
    assert.deepEqual(r.panic, [true, true]);
    assert.deepEqual(r.healthy, [25, 75]);
    assert.deepEqual(r.degraded, [0, 0]);
    // nothing healthy anywhere, panic on: load by host count as well
    assert.deepEqual(load([lvl(3, 0), lvl(1, 0)]).healthy, [75, 25]);
  });

  it('uses degraded hosts only for what healthy ones cannot take (docs "Degraded endpoints")', () => {
    const cases: [number, number, number, number, number][] = [
      // healthy%, degraded%, unhealthy% → to healthy, to degraded
      [100, 0, 0, 100, 0],
      [71, 0, 29, 100, 0],
      [71, 29, 0, 99, 1],
      [25, 65, 10, 35, 65],
      [5, 0, 95, 100, 0],
    ];
    for (const [h, d, , toH, toD] of cases) {
      const r = load([lvl(100, h, d)]);
      assert.deepEqual([r.healthy[0], r.degraded[0]], [toH, toD], `${h}/${d}`);
    }
  });

  it('threshold 0 disables panic; with nothing available P0 gets the load', () => {
    const r = load([lvl(100, 25), lvl(100, 25)], 0);
    assert.deepEqual(r.panic, [false, false]);
    assert.deepEqual(r.healthy, [50, 50]);
    const none = load([lvl(4, 0), lvl(4, 0)], 0);
    assert.deepEqual(none.healthy, [100, 0]);
    assert.deepEqual(none.panic, [false, false]);
  });

  it('skips empty priorities and weighs health by endpoint weight', () => {
    assert.deepEqual(load([lvl(0, 0), lvl(5, 5)]).healthy, [0, 100]);
    // weights 3 (unhealthy) and 1 (healthy): availability 140 × 1/4 = 35
    const w: PriorityCounts = { hosts: 2, healthyHosts: 1, degradedHosts: 0, totalWeight: 4, healthyWeight: 1, degradedWeight: 0 };
    assert.deepEqual(load([w, lvl(10, 10)]).healthy, [35, 65]);
    // overprovisioning factor 100: 80% healthy spills 20%
    assert.deepEqual(load([lvl(10, 8), lvl(10, 10)], 50, 100).healthy, [80, 20]);
  });
});
