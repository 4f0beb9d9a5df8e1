import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EdfScheduler } from '../../../../../sidecar/upstream/lb/edf-scheduler.js';
import { RoundRobinLb, smoothSequence } from '../../../../../sidecar/upstream/lb/round-robin.js';
import { ep } from './fixtures.js';


const keys = (lb: RoundRobinLb, n: number) => Array.from({ length: n }, () => lb.pick(null)!.key).join('');

describe('RoundRobinLb', () => {
  it('gives the smooth WRR sequence for weights 5,1,1', () => {
    const lb = new RoundRobinLb([ep('a'), ep('b'), ep('c')], [5, 1, 1], () => 0);
    assert.equal(keys(lb, 14), 'aabacaaaabacaa');
  });

  it('reduces weights by their gcd and keeps proportions', () => {
    assert.deepEqual([...smoothSequence([2, 1], 3)], [0, 1, 0]);
    const lb = new RoundRobinLb([ep('a'), ep('b')], [20, 10], () => 0);
    assert.equal(keys(lb, 6), 'abaaba');
  });

  it('rotates equal weights from a random start', () => {
    const lb = new RoundRobinLb([ep('a'), ep('b'), ep('c')], [1, 1, 1], () => 0.5);
    assert.equal(keys(lb, 6), 'bcabca');
  });

  it('returns null with no endpoints', () => {
    assert.equal(new RoundRobinLb([], []).pick(null), null);
  });

  it('falls back to EDF for huge periods and keeps proportions', () => {
    const lb = new RoundRobinLb([ep('a'), ep('b')], [3_000_001, 1_000_000], () => 0);
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 4000; i++) counts[lb.pick(null)!.key]!++;
    assert.ok(Math.abs(counts.a! - 3000) <= 2, JSON.stringify(counts));
  });
});

describe('EdfScheduler', () => {
  it('picks by earliest deadline, ties in insertion order', () => {
    const s = new EdfScheduler([2, 1]);
    const out: number[] = [];
    for (let i = 0; i < 6; i++) {
      const top = s.peek();
      out.push(top);
      s.rescheduleTop(top === 0 ? 2 : 1);
    }
    // deadlines: a .5, b 1 → a(→1) ; tie a/b at 1: b queued first → b(→2), a(→1.5), a(→2), tie → b, a
    assert.deepEqual(out, [0, 1, 0, 0, 1, 0]);
  });
});
