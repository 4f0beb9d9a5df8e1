// API-key check throughput on this machine (not part of `npm test`): node dist/test/bench/micro/api-key.js
// 1000 consumers × 2 keys (2000 hashes). Measures the index lookup (SHA-256 + bucket + timingSafeEqual), the whole
// filter on a valid header key, a wrong key and a query key (target rewritten), and — for comparison only — the
// linear alternative that timingSafeEquals every stored hash. BENCH_SCALE scales the iteration counts.
import { createHash, timingSafeEqual } from 'node:crypto';
import { StatsStore } from '../../../src/observability/stats.js';
import { Issues } from '../../../src/xds/resources/common.js';
import { validateApiKeyAuthConfig } from '../../../src/xds/resources/filters/api-key.js';
import { decodeMessage, encodeMessage } from '../../../src/xds/protos.js';
import { TypeUrl } from '../../../src/xds/type-urls.js';
import { ApiKeyFilter, ApiKeyShared } from '../../../sidecar/filters/http/api-key/filter.js';
import { FilterStatus } from '../../../sidecar/http/filter.js';
import { HeaderMap } from '../../../sidecar/http/header-map.js';
import { FakeDecoderCallbacks } from '../../helpers/http-fakes.js';
import { bench } from './bench.js';

const CONSUMERS = 1000;
const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const keys: string[] = [];
const consumers = Array.from({ length: CONSUMERS }, (_, i) => {
  const a = `tsk_${i.toString(36).padStart(4, '0')}_a_4f9c2e1b7d6a8c0e3f5b9d1a2c4e6f8a0b`;
  const b = `tsk_${i.toString(36).padStart(4, '0')}_b_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e`;
  keys.push(a, b);
  return { id: `consumer-${i}`, keys: [{ sha256: sha(a), name: 'a' }, { sha256: sha(b), name: 'b' }], metadata: { plan: i % 2 === 0 ? 'gold' : 'free' } };
});
const body = {
  consumers,
  sources: [{ header: 'x-api-key' }, { query: 'api_key' }],
  rules: [{ match: { path: '/healthz' }, skip: true }, { match: { prefix: '/admin' }, allowed_consumers: ['consumer-1'] }],
  forward_metadata: ['plan'],
};
const issues = new Issues();
const cfg = validateApiKeyAuthConfig(decodeMessage(TypeUrl.ApiKeyAuth, encodeMessage(TypeUrl.ApiKeyAuth, body)), '', issues);
if (!issues.empty) throw new Error(issues.list.join('\n'));
const shared = new ApiKeyShared(cfg, new StatsStore(), 'bench');
const n = keys.length;

process.stdout.write(`api-key micro benchmark — node ${process.version}, ${CONSUMERS} consumers × 2 keys\n`);
const lookup = bench('ApiKeyIndex.lookup, valid key', 500_000, (i) => shared.index.lookup(keys[i % n]!));
bench('ApiKeyIndex.lookup, unknown key', 500_000, (i) => shared.index.lookup(`x${keys[i % n]!}`));

const cb = new FakeDecoderCallbacks();
cb.path = '/api/items';
const run = (h: HeaderMap): HeaderMap => {
  const st = new ApiKeyFilter(shared, cb).onRequestHeaders(h, true);
  if (st !== FilterStatus.Continue) throw new Error('a valid key was refused');
  return h;
};
const filter = bench('filter onRequestHeaders, valid header key', 300_000, (i) => {
  const h = new HeaderMap();
  h.add('x-api-key', keys[i % n]!);
  h.add('accept', '*/*');
  return run(h);
});
const wrongCb = new FakeDecoderCallbacks();
wrongCb.path = '/api/items';
bench('filter onRequestHeaders, wrong key (401)', 300_000, (i) => {
  const h = new HeaderMap();
  h.add('x-api-key', `nope-${keys[i % n]!}`);
  wrongCb.replies.length = 0;
  return new ApiKeyFilter(shared, wrongCb).onRequestHeaders(h, true);
});
const queryTargets = keys.map((k) => `/api/items?page=2&api_key=${k}&sort=asc`);
bench('filter onRequestHeaders, valid query key (target rewritten)', 300_000, (i) => {
  cb.path = queryTargets[i % n]!;
  return run(new HeaderMap());
});

// The alternative the index replaces: hash, then compare against every stored hash.
const all = consumers.flatMap((c) => c.keys.map((k) => Buffer.from(k.sha256, 'hex')));
const linear = bench('linear: timingSafeEqual against all 2000 hashes', 2_000, (i) => {
  const h = createHash('sha256').update(keys[i % n]!).digest();
  let hit = -1;
  for (let j = 0; j < all.length; j++) if (timingSafeEqual(all[j]!, h) && hit === -1) hit = j;
  return hit;
});

const perSec = (ns: number) => (1e9 / ns).toFixed(0);
process.stdout.write(
  `${'api-key check, 1000 consumers'.padEnd(56)} ${perSec(filter.nsPerOp).padStart(10)} requests/s through the filter; ` +
    `lookup ${perSec(lookup.nsPerOp)}/s; linear scan ${perSec(linear.nsPerOp)}/s\n`,
);
