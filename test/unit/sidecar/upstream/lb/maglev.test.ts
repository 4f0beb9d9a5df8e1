import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamEndpoint } from '../../../../../sidecar/contracts.js';
import { normalizeHostWeights } from '../../../../../sidecar/upstream/lb/load-balancer.js';
import { MaglevLb, isPrime } from '../../../../../sidecar/upstream/lb/maglev.js';
import { xxhash64 } from '../../../../../src/core/xxhash64.js';
import { ep, hashCtx, seeded } from './fixtures.js';

function maglev(eps: UpstreamEndpoint[], weights = eps.map(() => 1), size = 65537, random = seeded(3)): MaglevLb {
  const norm: number[] = [];
  normalizeHostWeights(weights, 1, norm);
  return new MaglevLb(eps, norm, size, random);
}

function hosts(n: number): UpstreamEndpoint[] {
  return Array.from({ length: n }, (_, i) => ep(`10.1.0.${i + 1}:8080`));
}

function hashes(n: number, seed: number): bigint[] {
  const r = seeded(seed);
  return Array.from({ length: n }, () => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
}

const at = (lb: MaglevLb, h: bigint) => lb.pick(hashCtx(h))!.key;
const sum = (a: Int32Array) => a.reduce((x, y) => x + y, 0);

describe('MaglevLb', () => {
  it('fills every slot of the prime table, equal weights within one entry of each other', () => {
    const lb = maglev(hosts(7));
    assert.equal(lb.tableSize, 65537);
    assert.equal(sum(lb.entriesPerHost), 65537);
    const counts = [...lb.entriesPerHost];
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, JSON.stringify(counts));
  });

  it('matches a literal reading of Envoy\'s table build (sorted keys, weighted iterations, permutation probing)', () => {
    const eps = [ep('10.0.0.3:80'), ep('10.0.0.1:80'), ep('10.0.0.2:80')];
    const weights = [1, 2, 3];
    const m = 31;
    const lb = maglev(eps, weights, m);
    // reference: straight from the description, BigInt hashes, no incremental tricks
    const order = [1, 2, 0]; // sorted by key
    const norm = weights.map((w) => w / 6);
    const maxW = Math.max(...norm);
    const e = order.map((i) => ({
      i,
      offset: Number(xxhash64(eps[i]!.key, 0) % BigInt(m)),
      skip: Number(xxhash64(eps[i]!.key, 1) % BigInt(m - 1)) + 1,
      next: 0,
      target: 0,
    }));
    const table: number[] = new Array(m).fill(-1);
    let filled = 0;
    for (let iter = 1; filled < m; iter++) {
      for (const x of e) {
        if (filled === m) break;
        if (iter * norm[x.i]! < x.target) continue;
        x.target += maxW;
        let c = (x.offset + x.skip * x.next) % m;
        while (table[c] !== -1) c = (x.offset + x.skip * ++x.next) % m;
        table[c] = x.i;
        x.next++;
        filled++;
      }
    }
    for (let h = 0; h < m; h++) assert.equal(lb.pickHash(0, h, 0)!.key, eps[table[h]!]!.key, `slot ${h}`);
  });

  it('gives slots in proportion to weight', () => {
    const lb = maglev(hosts(3), [1, 2, 5]);
    const e = lb.entriesPerHost;
    assert.equal(sum(e), 65537);
    assert.ok(Math.abs(e[0]! / 65537 - 1 / 8) < 0.005, `${e[0]}`);
    assert.ok(Math.abs(e[1]! / 65537 - 2 / 8) < 0.005, `${e[1]}`);
    assert.ok(Math.abs(e[2]! / 65537 - 5 / 8) < 0.005, `${e[2]}`);
  });

  it('looks up hash mod table size, independent of endpoint order', () => {
    const eps = hosts(5);
    const a = maglev(eps, [1, 1, 1, 1, 1], 251);
    const b = maglev([...eps].reverse(), [1, 1, 1, 1, 1], 251);
    for (const h of hashes(1000, 8)) {
      assert.equal(at(a, h), at(b, h));
      assert.equal(at(a, h), at(a, h + 251n * 1000n));
    }
  });

  it('moves a small share of keys when a host is added', () => {
    const before = maglev(hosts(10));
    const grown = hosts(11);
    const after = maglev(grown);
    let moved = 0;
    let toNew = 0;
    const hs = hashes(20_000, 6);
    for (const h of hs) {
      const y = at(after, h);
      if (at(before, h) !== y) moved++;
      if (y === grown[10]!.key) toNew++;
    }
    const frac = moved / hs.length;
    // the new host takes ~1/11; Maglev's extra disruption is small
    assert.ok(Math.abs(toNew / hs.length - 1 / 11) < 0.01, `to new ${toNew / hs.length}`);
    assert.ok(frac > 0.07 && frac < 0.16, `moved ${frac}`);
  });

  it('mutates the hash per retry attempt as Envoy (h ^ (2^64 − attempt))', () => {
    const lb = maglev(hosts(6), [1, 1, 1, 1, 1, 1], 65537);
    for (const h of hashes(200, 12)) {
      for (const attempt of [1, 2, 5]) {
        const m = h ^ (2n ** 64n - BigInt(attempt));
        const got = lb.pickHash(Number(h >> 32n), Number(h & 0xffffffffn), attempt)!.key;
        assert.equal(got, lb.pickHash(Number(m >> 32n), Number(m & 0xffffffffn), 0)!.key);
      }
    }
  });

  it('raises a non-prime table size to the next prime and handles no hosts', () => {
    assert.equal(isPrime(65537), true);
    assert.equal(isPrime(65535), false);
    assert.equal(maglev(hosts(2), [1, 1], 100).tableSize, 101);
    assert.equal(maglev([]).pick(null), null);
    const lb = maglev(hosts(3), [1, 1, 1], 65537, seeded(1));
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(lb.pick(null)!.key);
    assert.equal(seen.size, 3);
  });
});
