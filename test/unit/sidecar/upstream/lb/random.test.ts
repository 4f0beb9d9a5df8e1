import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RandomLb } from '../../../../../sidecar/upstream/lb/random.js';
import { ep, seeded, seq, tally } from './fixtures.js';

describe('RandomLb', () => {
  it('draws uniformly with equal weights', () => {
    const eps = [ep('a'), ep('b'), ep('c'), ep('d')];
    const lb = new RandomLb(eps, [1, 1, 1, 1], seeded(1));
    const t = tally(40_000, () => lb.pick(null));
    for (const k of ['a', 'b', 'c', 'd']) assert.ok(Math.abs(t.get(k)! - 10_000) < 400, `${k}: ${t.get(k)}`);
  });

  it('draws proportionally to weight', () => {
    const lb = new RandomLb([ep('a'), ep('b'), ep('c')], [1, 3, 6], seeded(2));
    const n = 50_000;
    const t = tally(n, () => lb.pick(null));
    assert.ok(Math.abs(t.get('a')! / n - 0.1) < 0.01, JSON.stringify([...t]));
    assert.ok(Math.abs(t.get('b')! / n - 0.3) < 0.01, JSON.stringify([...t]));
    assert.ok(Math.abs(t.get('c')! / n - 0.6) < 0.01, JSON.stringify([...t]));
  });

  it('maps draws onto cumulative weight boundaries exactly', () => {
    // weights 1,3 → [0, 0.25) a, [0.25, 1) b
    const lb = new RandomLb([ep('a'), ep('b')], [1, 3], seq([0, 0.2499, 0.25, 0.9999]));
    assert.deepEqual([0, 1, 2, 3].map(() => lb.pick(null)!.key), ['a', 'a', 'b', 'b']);
  });

  it('returns null with no endpoints and ignores the context', () => {
    assert.equal(new RandomLb([], []).pick(null), null);
    const only = ep('x');
    assert.equal(new RandomLb([only], [1]).pick(null), only);
  });
});
