// JWT verification throughput on this machine (not part of `npm test`): node dist/test/bench/micro/jwt-verify.js
// For RS256 and ES256: (a) the cache-miss path inline — parse + claims + jose/WebCrypto signature check — with 100
// verifications in flight at all times; (b) the verified-token cache hit (ProviderRuntime.cached) and the whole
// filter on a cache hit (onRequestHeaders: rule match, extraction, header removal). BENCH_SCALE scales the durations.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { StatsStore } from '../../../src/observability/stats.js';
import { Issues } from '../../../src/xds/resources/common.js';
import { parseJwks, validateJwtAuthnConfig } from '../../../src/xds/resources/filters/jwt-authn.js';
import { decodeMessage, encodeMessage } from '../../../src/xds/protos.js';
import { TypeUrl } from '../../../src/xds/type-urls.js';
import { JwtAuthnFilter, JwtAuthnShared } from '../../../sidecar/filters/http/jwt-authn/filter.js';
import { KeySet } from '../../../sidecar/filters/http/jwt-authn/jwks.js';
import { parseJwt, verifyWithKey, type ParsedJwt } from '../../../sidecar/filters/http/jwt-authn/verify.js';
import { FilterStatus } from '../../../sidecar/http/filter.js';
import { HeaderMap } from '../../../sidecar/http/header-map.js';
import { FakeDecoderCallbacks } from '../../helpers/http-fakes.js';
import { bench } from './bench.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CONCURRENCY = 100;
const TOKENS = 1000;
const ISS = 'https://issuer.test';

/** Keeps CONCURRENCY verifications in flight for `ms`; returns verifications per second. */
async function concurrent(tokens: readonly string[], keys: KeySet, ms: number): Promise<number> {
  let done = 0;
  let next = 0;
  let failed = 0;
  const deadline = performance.now() + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t = tokens[next++ % tokens.length]!;
      const jwt = parseJwt(t) as ParsedJwt;
      const ok = await verifyWithKey(jwt, keys.candidates(jwt.alg, jwt.kid)[0]!);
      if (!ok) failed++;
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const s = (performance.now() - t0) / 1000;
  if (failed > 0) throw new Error(`${failed} verifications failed`);
  return done / s;
}

async function scenario(alg: 'RS256' | 'ES256'): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const tokens: string[] = [];
  for (let i = 0; i < TOKENS; i++) {
    tokens.push(await new SignJWT({ iss: ISS, aud: 'api', sub: `user-${i}`, exp }).setProtectedHeader({ alg, kid: 'k1' }).sign(privateKey));
  }
  const keys = new KeySet(parseJwks(JSON.stringify({ keys: [jwk] })).keys);

  // Warm-up (key import, JIT), then the measured run.
  await concurrent(tokens, keys, 500 * SCALE);
  const perSecond = await concurrent(tokens, keys, 3000 * SCALE);
  process.stdout.write(`${`${alg} verify inline, ${CONCURRENCY} concurrent (cache miss)`.padEnd(56)} ${perSecond.toFixed(0).padStart(10)} verifications/s\n`);

  const body = {
    providers: { p: { issuer: ISS, audiences: ['api'], local_jwks: { inline_string: JSON.stringify({ keys: [jwk] }) }, claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }] } },
    rules: [{ match: { prefix: '/' }, requires: { provider_name: 'p' } }],
  };
  const issues = new Issues();
  const cfg = validateJwtAuthnConfig(decodeMessage(TypeUrl.JwtAuthn, encodeMessage(TypeUrl.JwtAuthn, body)), '', issues);
  if (!issues.empty) throw new Error(issues.list.join('\n'));
  const shared = new JwtAuthnShared(cfg, new StatsStore(), 'bench');
  const provider = shared.providers.get('p')!.runtime;
  // Fill the cache through the real path (100 entries: Envoy's default jwt_cache_size).
  const cachedTokens = tokens.slice(0, 100);
  for (const t of cachedTokens) {
    const jwt = provider.precheck(t, provider.audiences) as ParsedJwt;
    if ((await provider.verify(jwt)) !== jwt) throw new Error('verify failed');
  }
  const hit = bench(`${alg} token cache hit (ProviderRuntime.cached)`, 1_000_000, (i) => provider.cached(cachedTokens[i % 100]!, provider.audiences));
  const cb = new FakeDecoderCallbacks();
  cb.path = '/api/items';
  const filterHit = bench(`${alg} filter onRequestHeaders, cache hit`, 300_000, (i) => {
    const h = new HeaderMap();
    h.add('authorization', `Bearer ${cachedTokens[i % 100]!}`);
    h.add('accept', '*/*');
    const st = new JwtAuthnFilter(shared, cb).onRequestHeaders(h, true);
    if (st !== FilterStatus.Continue) throw new Error('cache hit did not continue synchronously');
    return h;
  });
  process.stdout.write(`${`${alg} cache hit`.padEnd(56)} ${(1e9 / hit.nsPerOp).toFixed(0).padStart(10)} lookups/s; whole filter ${(1e9 / filterHit.nsPerOp).toFixed(0)} requests/s\n`);
}

process.stdout.write(`jwt-verify micro benchmark — node ${process.version}, ${availableParallelism()} CPUs, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}\n`);
await scenario('RS256');
await scenario('ES256');
