import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamEndpoint } from '../../../../../sidecar/contracts.js';
import { normalizeHostWeights } from '../../../../../sidecar/upstream/lb/load-balancer.js';
import { RingHashLb } from '../../../../../sidecar/upstream/lb/ring-hash.js';
import { xxhash64 } from '../../../../../src/core/xxhash64.js';
import { ep, hashCtx, seeded } from './fixtures.js';

const SIZES = { minRingSize: 1024, maxRingSize: 8 * 1024 * 1024 };

function ring(eps: UpstreamEndpoint[], weights = eps.map(() => 1), sizes = SIZES, random = seeded(9)): RingHashLb {
  const norm: number[] = [];
  normalizeHostWeights(weights, 1, norm);
  return new RingHashLb(eps, norm, sizes, random);
}

function hosts(n: number): UpstreamEndpoint[] {
  return Array.from({ length: n }, (_, i) => ep(`10.0.0.${i + 1}:80`));
}

/** 64-bit pseudo-random request hashes from a seeded stream. */
function hashes(n: number, seed: number): bigint[] {
  const r = seeded(seed);
  return Array.from({ length: n }, () => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
}

const at = (lb: RingHashLb, h: bigint) => lb.pick(hashCtx(h))!.key;

describe('RingHashLb', () => {
  it('sizes the ring as Envoy: ceil(min weight × min ring size) / min weight, capped by max', () => {
    const lb = ring(hosts(3));
    // min weight 1/3 → ceil(341.33) = 342 hashes per host → 1026 entries
    assert.equal(lb.ringSize, 1026);
    assert.equal(lb.minHashesPerHost, 342);
    assert.equal(lb.maxHashesPerHost, 342);
    const capped = ring(hosts(3), [1, 1, 1], { minRingSize: 1024, maxRingSize: 300 });
    assert.equal(capped.ringSize, 300);
    const weighted = ring(hosts(2), [1, 3]);
    // min weight 1/4 → 256 per unit → 1024 entries, 256 and 768 per host
    assert.equal(weighted.ringSize, 1024);
    assert.equal(weighted.minHashesPerHost, 256);
    assert.equal(weighted.maxHashesPerHost, 768);
  });

  it('places hosts at xxHash64("<address:port>_<i>") and takes the first entry at or after the request hash', () => {
    const eps = hosts(4);
    const lb = ring(eps);
    for (const e of eps) {
      for (const i of [0, 1, 100]) assert.equal(at(lb, xxhash64(`${e.key}_${i}`)), e.key);
    }
  });

  it('wraps past the last entry to the first', () => {
    const lb = ring(hosts(5));
    assert.equal(at(lb, 0xffffffffffffffffn), at(lb, 0n));
  });

  it('maps the same hash to the same host, across rebuilds and endpoint order', () => {
    const eps = hosts(8);
    const a = ring(eps);
    const b = ring([...eps].reverse());
    for (const h of hashes(2000, 3)) assert.equal(at(a, h), at(b, h));
  });

  it('moves about 1/n of the keys when a host is added, all to the new host (same hashes per host)', () => {
    // 100 hashes per host before and after, so old hosts keep exactly their ring points.
    const before = ring(hosts(10), undefined, { minRingSize: 1000, maxRingSize: 1_000_000 });
    const grown = hosts(11);
    const after = ring(grown, undefined, { minRingSize: 1100, maxRingSize: 1_000_000 });
    let moved = 0;
    const hs = hashes(20_000, 4);
    for (const h of hs) {
      const y = at(after, h);
      if (at(before, h) !== y) {
        moved++;
        assert.equal(y, grown[10]!.key);
      }
    }
    assert.ok(Math.abs(moved / hs.length - 1 / 11) < 0.03, `moved ${moved / hs.length}`);
    // With Envoy's default sizing the ring also shrinks from 103 to 94 hashes per host: still a bounded move.
    const d0 = ring(hosts(10));
    const d1 = ring(grown);
    let movedDefault = 0;
    for (const h of hs) if (at(d0, h) !== at(d1, h)) movedDefault++;
    assert.ok(movedDefault / hs.length < 0.2, `moved ${movedDefault / hs.length}`);
  });

  it('spreads random hashes by weight', () => {
    const eps = hosts(3);
    const lb = ring(eps, [1, 2, 5]);
    const counts = new Map<string, number>();
    const hs = hashes(40_000, 5);
    for (const h of hs) counts.set(at(lb, h), (counts.get(at(lb, h)) ?? 0) + 1);
    const share = (i: number) => counts.get(eps[i]!.key)! / hs.length;
    assert.ok(Math.abs(share(0) - 1 / 8) < 0.04, `${share(0)}`);
    assert.ok(Math.abs(share(1) - 2 / 8) < 0.05, `${share(1)}`);
    assert.ok(Math.abs(share(2) - 5 / 8) < 0.06, `${share(2)}`);
  });

  it('moves to the following ring entries for retry attempts', () => {
    const eps = hosts(3);
    const lb = ring(eps);
    const h = xxhash64(`${eps[0]!.key}_0`);
    const hi = Number(h >> 32n);
    const lo = Number(h & 0xffffffffn);
    assert.equal(lb.pickHash(hi, lo, 0)!.key, eps[0]!.key);
    // attempt k = the k-th entry after it; over a few attempts another host shows up
    const seen = new Set<string>();
    for (let k = 0; k < 20; k++) seen.add(lb.pickHash(hi, lo, k)!.key);
    assert.ok(seen.size > 1);
  });

  it('uses a random point without a context or hash, and handles no hosts', () => {
    const lb = ring(hosts(4), [1, 1, 1, 1], SIZES, seeded(11));
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(lb.pick(null)!.key);
    assert.equal(seen.size, 4);
    const ctx = hashCtx(null);
    assert.ok(lb.pick(ctx) !== null);
    assert.equal(ctx.hashCalls, 1);
    assert.equal(ring([]).pick(null), null);
  });
});
