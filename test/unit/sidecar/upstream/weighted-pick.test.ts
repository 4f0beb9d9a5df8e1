import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WeightedPick } from '../../../../sidecar/upstream/weighted-pick.js';

test('WeightedPick draws proportionally to weight, treats negative as 0, and all-zero as the first item', () => {
  const p = new WeightedPick(['a', 'b', 'c'], [1, 0, 3]);
  assert.equal(p.pick(() => 0), 'a');
  assert.equal(p.pick(() => 0.24), 'a');
  assert.equal(p.pick(() => 0.26), 'c');
  assert.equal(p.pick(() => 0.999), 'c');
  const counts = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 400; i++) counts[p.pick(() => (i + 0.5) / 400) as 'a' | 'b' | 'c']++;
  assert.deepEqual(counts, { a: 100, b: 0, c: 300 });
  assert.equal(new WeightedPick(['x', 'y'], [0, -5]).pick(() => 0.9), 'x');
});
