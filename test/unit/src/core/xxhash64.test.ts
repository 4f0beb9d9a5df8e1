import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uint64ToHex, xxhash64, xxhash64Split } from '../../../../src/core/xxhash64.js';

// Expected values from the reference C implementation (libxxhash 0.8.3, XXH64), the first ones also
// published in python-xxhash's README and the xxHash repository.
const VECTORS: [string, number | bigint, string][] = [
  ['', 0, 'ef46db3751d8e999'],
  ['a', 0, 'd24ec4f1a98c6e5b'],
  ['abc', 0, '44bc2cf5ad770999'],
  ['xxhash', 0, '32dd38952c4bc720'],
  ['xxhash', 20141025, 'b559b98d844e0635'],
  ['Nobody inspects the spammish repetition', 0, 'fbcea83c8a378bf1'],
  ['The quick brown fox jumps over the lazy dog', 0, '0b242d361fda71bc'],
  ['1234', 0, 'd8316e61d84f6ba4'],
  ['12345678', 0, 'd2d02f08cf7cfd4a'],
  ['0123456789abcdef0123456789abcdef', 0, '642a94958e71e6c5'],
  ['10.0.0.1:80', 0, '011facba8043b217'],
  ['10.0.0.1:80', 1, 'a456919bcbffaa92'],
  ['10.0.0.1:80_0', 0, '75041381e7371a08'],
  ['héllo wörld ✓', 7, '6db5451ec85af610'],
  ['a'.repeat(100), 0xffffffffffffffffn, '871fb2a3d888a10e'],
];

describe('xxhash64', () => {
  for (const [input, seed, hex] of VECTORS) {
    it(`XXH64(${JSON.stringify(input.length > 24 ? `${input.slice(0, 24)}…` : input)}, ${seed}) = ${hex}`, () => {
      assert.equal(uint64ToHex(xxhash64(input, seed)), hex);
      assert.equal(uint64ToHex(xxhash64(Buffer.from(input, 'utf8'), seed)), hex);
    });
  }

  it('splits into high and low words without BigInt', () => {
    const out = new Uint32Array(2);
    xxhash64Split('xxhash', 0, out);
    assert.deepEqual([...out], [0x32dd3895, 0x2c4bc720]);
  });

  it('hashes strings longer than the scratch buffer and every length around the 32-byte stripe', () => {
    const long = 'z'.repeat(5000);
    assert.equal(xxhash64(long), xxhash64(Buffer.from(long)));
    const seen = new Set<bigint>();
    for (let n = 0; n <= 70; n++) seen.add(xxhash64('q'.repeat(n)));
    assert.equal(seen.size, 71);
  });

  it('formats as 16 zero-padded hex digits', () => {
    assert.equal(uint64ToHex(0x1fn), '000000000000001f');
  });
});
