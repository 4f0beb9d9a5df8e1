// xxHash64 of short keys (ring hash keys, header values): the 32-bit lane implementation against a plain
// BigInt one (kept here only as the baseline that justified the lane arithmetic).
import { xxhash64, xxhash64Split } from '../../../../../src/core/xxhash64.js';
import { bench } from '../../bench.js';

const M = 0xffffffffffffffffn;
const P1 = 0x9e3779b185ebca87n, P2 = 0xc2b2ae3d27d4eb4fn, P3 = 0x165667b19e3779f9n, P4 = 0x85ebca77c2b2ae63n, P5 = 0x27d4eb2f165667c5n;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, v: bigint) => (rotl((acc + v * P2) & M, 31n) * P1) & M;

/** Straightforward BigInt XXH64 (inputs < 32 bytes only: the stripe loop is not needed for the baseline). */
function xxhash64BigInt(b: Buffer, seed = 0n): bigint {
  let p = 0;
  let h = (seed + P5 + BigInt(b.length)) & M;
  for (; p + 8 <= b.length; p += 8) h = ((rotl(h ^ round(0n, b.readBigUInt64LE(p)), 27n) * P1) + P4) & M;
  if (p + 4 <= b.length) {
    h = ((rotl(h ^ ((BigInt(b.readUInt32LE(p)) * P1) & M), 23n) * P2) + P3) & M;
    p += 4;
  }
  for (; p < b.length; p++) h = (rotl(h ^ ((BigInt(b[p]!) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  return h ^ (h >> 32n);
}

export function run(): void {
  const keys = Array.from({ length: 64 }, (_, i) => `10.0.${i}.17:8080_${i}`);
  const bufs = keys.map((k) => Buffer.from(k));
  if (xxhash64BigInt(bufs[3]!) !== xxhash64(keys[3]!)) throw new Error('baseline disagrees');
  const out = new Uint32Array(2);
  bench('xxhash64: 15..20-byte string → bigint (lanes)', 2_000_000, (i) => xxhash64(keys[i & 63]!));
  bench('xxhash64: 15..20-byte string → hi/lo (lanes, no BigInt)', 2_000_000, (i) => xxhash64Split(keys[i & 63]!, 0, out));
  bench('xxhash64: 15..20-byte Buffer → bigint (BigInt baseline)', 500_000, (i) => xxhash64BigInt(bufs[i & 63]!));
  const long = Buffer.alloc(1024, 7);
  bench('xxhash64: 1 KiB Buffer (lanes)', 200_000, () => xxhash64(long));
}

if (import.meta.url === `file://${process.argv[1]}`) run();
