import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { StatsStore } from '../../../../../src/observability/stats.js';
import { Issues } from '../../../../../src/xds/resources/common.js';
import { parseJwks, validateJwtAuthnConfig, type JwtAuthnConfig } from '../../../../../src/xds/resources/filters/jwt-authn.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { jwtAuthnFilterFactory } from '../../../../../sidecar/filters/http/jwt-authn/config.js';
import { JWT_AUTHN_NAMESPACE, JwtAuthnShared, claimHeaderValue, realmOf, type JwtAuthnOptions } from '../../../../../sidecar/filters/http/jwt-authn/filter.js';
import { KID_REFETCH_COOLDOWN_MS, KeySet, type JwksFetcher, type RemoteKeySource } from '../../../../../sidecar/filters/http/jwt-authn/jwks.js';
import { TokenCache } from '../../../../../sidecar/filters/http/jwt-authn/token-cache.js';
import { parseJwt, verifyWithKey, type ParsedJwt } from '../../../../../sidecar/filters/http/jwt-authn/verify.js';
import { httpFilterFactories } from '../../../../../sidecar/filters/index.js';
import { FilterStatus } from '../../../../../sidecar/http/filter.js';
import { httpToGrpcStatus } from '../../../../../sidecar/http/grpc.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { decoded } from '../../../src/xds/resources/fixtures.js';
import { FakeDecoderCallbacks } from '../../../../helpers/http-fakes.js';
import {
  RFC7515_A1, RFC7515_A1_KEY, RFC7515_A3, RFC7515_A3_KEY, RFC7515_EXP, RFC7520_4_1, RFC7520_4_3, RFC7520_4_4, RFC7520_EC_PUBLIC, RFC7520_OCT, RFC7520_RSA_PUBLIC,
} from '../../../../helpers/jose-vectors.js';

// ---- RFC test vectors (literal constants) ----


// ---- keys and tokens signed here ----

const NOW_MS = 1_900_000_000_000;
const NOW = NOW_MS / 1000;
const ISS = 'https://issuer.test';
const rsa = await generateKeyPair('RS256', { extractable: true });
const ec = await generateKeyPair('ES256', { extractable: true });
const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', use: 'sig' };
const ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1' };
const JWKS = JSON.stringify({ keys: [rsaJwk, ecJwk] });

function sign(claims: JWTPayload = {}, opts: { key?: 'rsa' | 'ec'; kid?: string } = {}): Promise<string> {
  const useEc = opts.key === 'ec';
  return new SignJWT({ iss: ISS, aud: 'api', sub: 'alice', exp: NOW + 600, iat: NOW - 10, ...claims })
    .setProtectedHeader({ alg: useEc ? 'ES256' : 'RS256', kid: opts.kid ?? (useEc ? 'ec-1' : 'rsa-1') })
    .sign(useEc ? ec.privateKey : rsa.privateKey);
}

// ---- harness ----

function jwtConfig(o: object): JwtAuthnConfig {
  const issues = new Issues();
  const c = validateJwtAuthnConfig(decoded(TypeUrl.JwtAuthn, o), 'tc', issues);
  assert.deepEqual(issues.list, []);
  return c;
}

const provider = (extra: object = {}) => ({ issuer: ISS, audiences: ['api'], local_jwks: { inline_string: JWKS }, ...extra });
const requireP = (prefix = '/') => [{ match: { prefix }, requires: { provider_name: 'p' } }];

interface Outcome {
  readonly result: 'continued' | 'replied' | 'held';
  /** onRequestHeaders returned Continue (no await). */
  readonly sync: boolean;
  readonly cb: FakeDecoderCallbacks;
  readonly headers: HeaderMap;
}

function setup(cfg: object, opts: { now?: () => number; fetcher?: JwksFetcher } = {}) {
  const stats = new StatsStore();
  const o: JwtAuthnOptions = { now: opts.now ?? (() => NOW_MS), ...(opts.fetcher ? { fetcher: opts.fetcher } : {}) };
  const shared = new JwtAuthnShared(jwtConfig(cfg), stats, 'ingress', o);
  const stat = (name: string) => stats.snapshot('http.ingress.jwt_authn.')[`http.ingress.jwt_authn.${name}`] ?? 0;
  async function run(h: Record<string, string> | [string, string][] = {}, req: { path?: string; method?: string; authority?: string } = {}): Promise<Outcome> {
    const cb = new FakeDecoderCallbacks();
    cb.path = req.path ?? '/api/items?x=1';
    cb.method = req.method ?? 'GET';
    cb.authority = req.authority ?? 'svc.local';
    const headers = HeaderMap.from(Array.isArray(h) ? h : Object.entries(h));
    const f = jwtAuthnFilterFactory.createFilter(shared, cb);
    const st = f.onRequestHeaders(headers, true);
    if (st === FilterStatus.Continue) {
      assert.equal(cb.replies.length, 0);
      return { result: 'continued', sync: true, cb, headers };
    }
    for (let i = 0; i < 1000 && cb.continued === 0 && cb.replies.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(cb.continued + cb.replies.length <= 1, 'exactly one outcome');
    assert.equal(f.onRequestData(Buffer.alloc(0), true), cb.replies.length > 0 || cb.continued > 0 ? FilterStatus.Continue : FilterStatus.StopIteration);
    f.onDestroy();
    return { result: cb.continued === 1 ? 'continued' : cb.replies.length === 1 ? 'replied' : 'held', sync: false, cb, headers };
  }
  return { shared, stats, stat, run };
}

function assertDenied(o: Outcome, code: string, body: string): void {
  assert.equal(o.result, 'replied');
  assert.equal(o.cb.continued, 0);
  const r = o.cb.replies[0]!;
  assert.equal(r.reply.status, 401);
  assert.equal(r.reply.code, code);
  assert.equal(r.reply.body.toString(), body);
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

// ---- tests ----

test('the registry holds jwt_authn under its type URL; 401 maps to gRPC UNAUTHENTICATED (16)', () => {
  assert.equal(httpFilterFactories().get(TypeUrl.JwtAuthn), jwtAuthnFilterFactory);
  assert.equal(jwtAuthnFilterFactory.name, 'envoy.filters.http.jwt_authn');
  const { shared } = setup({ providers: { p: provider() } });
  for (const r of [shared.missingReply, shared.invalidReply, shared.jwksUnavailableReply]) {
    assert.equal(r.grpcStatus, null);
    assert.equal(httpToGrpcStatus(r.status), 16);
    assert.ok(Object.isFrozen(r));
  }
});

test('RFC 7520 §4.1 (RS256), §4.3 (ES512) and §4.4 (HS256) verify with their keys; one flipped signature bit fails', async () => {
  const cases: [string, object][] = [[RFC7520_4_1, RFC7520_RSA_PUBLIC], [RFC7520_4_3, RFC7520_EC_PUBLIC], [RFC7520_4_4, RFC7520_OCT]];
  for (const [token, jwk] of cases) {
    const keys = new KeySet(parseJwks(JSON.stringify({ keys: [jwk] })).keys);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { alg: ParsedJwt['alg']; kid: string };
    const cands = keys.candidates(header.alg, header.kid);
    assert.equal(cands.length, 1);
    assert.equal(await verifyWithKey({ token, alg: header.alg } as ParsedJwt, cands[0]!), true, header.alg);
    const sig = token.slice(token.lastIndexOf('.') + 1);
    const flipped = `${token.slice(0, token.lastIndexOf('.') + 1)}${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    assert.equal(await verifyWithKey({ token: flipped, alg: header.alg } as ParsedJwt, cands[0]!), false, header.alg);
    // The payload is text, not a claims set: as a JWT it is refused before any key is used.
    assert.equal(parseJwt(token), 'payload is not a JSON object');
  }
});

test('RFC 7515 A.1 (HS256) and A.3 (ES256) JWTs pass the filter before their exp and fail after it', async () => {
  let now = (RFC7515_EXP - 100) * 1000;
  const cfg = {
    providers: {
      hs: { issuer: 'joe', local_jwks: { inline_string: JSON.stringify({ keys: [RFC7515_A1_KEY] }) }, from_headers: [{ name: 'x-hs' }], payload_in_metadata: 'hs' },
      es: { issuer: 'joe', local_jwks: { inline_string: JSON.stringify({ keys: [RFC7515_A3_KEY] }) }, from_headers: [{ name: 'x-es' }], claim_to_headers: [{ header_name: 'x-root', claim_name: 'http://example.com/is_root' }] },
    },
    rules: [{ match: { prefix: '/' }, requires: { requires_all: { requirements: [{ provider_name: 'hs' }, { provider_name: 'es' }] } } }],
  };
  const { run } = setup(cfg, { now: () => now });
  const ok = await run({ 'x-hs': RFC7515_A1, 'x-es': RFC7515_A3 });
  assert.equal(ok.result, 'continued');
  assert.deepEqual(ok.cb.metadata.get(JWT_AUTHN_NAMESPACE)!.hs, { iss: 'joe', exp: RFC7515_EXP, 'http://example.com/is_root': true });
  // A claim name with dots is a path (Envoy): this one names nothing, so no header.
  assert.equal(ok.headers.get('x-root'), undefined);
  assert.equal(ok.headers.get('x-hs'), undefined, 'verified tokens are removed (forward: false)');
  now = (RFC7515_EXP + 61) * 1000; // beyond exp + 60 s skew
  assertDenied(await run({ 'x-hs': RFC7515_A1, 'x-es': RFC7515_A3 }), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
});

test('a valid token: continue, token header removed, claims to headers, payload header and metadata', async () => {
  const { run, stat } = setup({
    providers: {
      p: provider({
        forward_payload_header: 'x-jwt-payload',
        payload_in_metadata: 'my_payload',
        header_in_metadata: 'my_header',
        claim_to_headers: [
          { header_name: 'x-sub', claim_name: 'sub' },
          { header_name: 'x-tenant', claim_name: 'org.tenant' },
          { header_name: 'x-admin', claim_name: 'admin' },
          { header_name: 'x-level', claim_name: 'level' },
          { header_name: 'x-roles', claim_name: 'roles' },
        ],
      }),
    },
    rules: requireP(),
  });
  const token = await sign({ org: { tenant: 'acme' }, admin: true, level: 3, roles: ['a'] });
  const o = await run({ ...bearer(token), 'x-other': 'kept' });
  assert.equal(o.result, 'continued');
  assert.equal(o.sync, false, 'a new token needs the signature check');
  assert.equal(o.headers.get('authorization'), undefined);
  assert.equal(o.headers.get('x-other'), 'kept');
  assert.deepEqual([o.headers.get('x-sub'), o.headers.get('x-tenant'), o.headers.get('x-admin'), o.headers.get('x-level'), o.headers.get('x-roles')], ['alice', 'acme', 'true', '3', undefined]);
  const payloadB64 = token.split('.')[1]!;
  assert.equal(o.headers.get('x-jwt-payload'), payloadB64);
  const meta = o.cb.metadata.get(JWT_AUTHN_NAMESPACE)!;
  assert.equal((meta.my_payload as Record<string, unknown>).sub, 'alice');
  assert.deepEqual(meta.my_header, { alg: 'RS256', kid: 'rsa-1' });
  assert.ok(Object.isFrozen(meta.my_payload));
  assert.equal(stat('allowed'), 1);
  assert.equal(stat('denied'), 0);
});

test('forward keeps the token; pad_forward_payload_header pads the base64url payload', async () => {
  const { run } = setup({ providers: { p: provider({ forward: true, forward_payload_header: 'x-p', pad_forward_payload_header: true }) }, rules: requireP() });
  let token = await sign();
  for (let i = 0; token.split('.')[1]!.length % 4 === 0 && i < 8; i++) token = await sign({ pad: 'x'.repeat(i + 1) });
  const o = await run(bearer(token));
  assert.equal(o.result, 'continued');
  assert.equal(o.headers.get('authorization'), `Bearer ${token}`);
  const v = o.headers.get('x-p')!;
  assert.equal(v.length % 4, 0);
  assert.ok(v.endsWith('='));
  assert.equal(Buffer.from(v, 'base64url').toString(), Buffer.from(token.split('.')[1]!, 'base64url').toString());
});

test('client-supplied payload and claim headers are removed before verification (no spoofing)', async () => {
  const { run } = setup({ providers: { p: provider({ forward_payload_header: 'x-jwt-payload', claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }] }) }, rules: [{ match: { prefix: '/' }, requires: { allow_missing: {} } }] });
  const o = await run({ 'x-sub': 'root', 'x-jwt-payload': 'e30' });
  assert.equal(o.result, 'continued');
  assert.equal(o.headers.get('x-sub'), undefined);
  assert.equal(o.headers.get('x-jwt-payload'), undefined);
});

test('missing token: 401 "Jwt is missing" with a realm built from authority and path without query', async () => {
  const { run, stat } = setup({ providers: { p: provider() }, rules: requireP() });
  const o = await run({}, { path: '/api/items?secret=1#frag', authority: 'svc.local:8080' });
  assert.equal(o.sync, false);
  assertDenied(o, 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
  assert.equal(o.cb.replies[0]!.headers!.get('www-authenticate'), 'Bearer realm="http://svc.local:8080/api/items"');
  assert.equal(stat('denied'), 1);
  // An Authorization header of another scheme is no bearer token.
  assertDenied(await run({ authorization: 'Basic dXNlcjpwYXNz' }), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
});

test('invalid token: 401 "Jwt verification fails" with error="invalid_token"; https realm from x-forwarded-proto', async () => {
  const { run } = setup({ providers: { p: provider() }, rules: requireP() });
  const o = await run({ ...bearer('abc.def.ghi'), 'x-forwarded-proto': 'https' });
  assertDenied(o, 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  assert.equal(o.cb.replies[0]!.headers!.get('www-authenticate'), 'Bearer realm="https://svc.local/api/items", error="invalid_token"');
});

test('realmOf escapes quotes, backslashes and control characters and cuts the path at 256', () => {
  assert.equal(realmOf('http', 'h', '/a"b\\c d?q'), 'http://h/a%22b%5Cc%20d');
  assert.equal(realmOf('http', 'h', `/${'x'.repeat(400)}`).length, 'http://h'.length + 256);
});

test('strip_failure_response: empty body and no www-authenticate', async () => {
  const { run } = setup({ providers: { p: provider() }, rules: requireP(), strip_failure_response: true });
  const o = await run({ ...bearer('abc.def.ghi') });
  assertDenied(o, 'TESSERA_ERR_JWT_INVALID', '');
  assert.equal(o.cb.replies[0]!.headers, null);
});

test('first matching rule decides; no matching rule verifies nothing; path/regex/header/query/case-insensitive matches', async () => {
  const { run, stat } = setup({
    providers: { p: provider() },
    rules: [
      { match: { prefix: '/public' } },
      { match: { path: '/exact' }, requires: { provider_name: 'p' } },
      { match: { safe_regex: { regex: '/items/[0-9]+' } }, requires: { provider_name: 'p' } },
      { match: { prefix: '/h', headers: [{ name: 'x-secure', exact_match: 'yes' }] }, requires: { provider_name: 'p' } },
      { match: { prefix: '/q', query_parameters: [{ name: 'admin', present_match: true }] }, requires: { provider_name: 'p' } },
      { match: { prefix: '/CI', case_sensitive: { value: false } }, requires: { provider_name: 'p' } },
      { match: { prefix: '/' }, requires: { allow_missing: {} } },
    ],
  });
  const miss = async (path: string, h: Record<string, string> = {}) => assertDenied(await run(h, { path }), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
  const pass = async (path: string, h: Record<string, string> = {}) => assert.equal((await run(h, { path })).result, 'continued', path);
  await pass('/public/x');
  await miss('/exact');
  await pass('/exact/more');
  await miss('/items/42?x=1');
  await pass('/items/4x2');
  await miss('/h', { 'x-secure': 'yes' });
  await pass('/h', { 'x-secure': 'no' });
  await miss('/q?admin');
  await pass('/q?user=1');
  await miss('/ci/thing');
  assert.equal(stat('denied'), 5);
  const none = setup({ providers: { p: provider() }, rules: requireP('/api') });
  const o = await none.run({}, { path: '/other' });
  assert.deepEqual([o.result, o.sync], ['continued', true]);
  // Envoy counts a request no rule covers as allowed.
  assert.deepEqual([none.stat('allowed'), none.stat('jwt_cache_miss')], [1, 0]);
});

test('requires_any: either provider; requires_all: both; provider_and_audiences overrides audiences', async () => {
  const other = { issuer: 'https://other.test', local_jwks: { inline_string: JWKS }, from_headers: [{ name: 'x-other', value_prefix: 'Bearer ' }] };
  const { run } = setup({
    providers: { p: provider(), q: other },
    rules: [
      { match: { prefix: '/any' }, requires: { requires_any: { requirements: [{ provider_name: 'p' }, { provider_name: 'q' }] } } },
      { match: { prefix: '/all' }, requires: { requires_all: { requirements: [{ provider_name: 'p' }, { provider_name: 'q' }] } } },
      { match: { prefix: '/aud' }, requires: { provider_and_audiences: { provider_name: 'p', audiences: ['https://admin.test/'] } } },
    ],
  });
  const tp = await sign();
  const tq = await sign({ iss: 'https://other.test' }, { key: 'ec' });
  assert.equal((await run(bearer(tp), { path: '/any' })).result, 'continued');
  assert.equal((await run({ 'x-other': `Bearer ${tq}` }, { path: '/any' })).result, 'continued');
  assertDenied(await run({}, { path: '/any' }), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
  // A real failure wins over a missing token in requires_any.
  assertDenied(await run({ 'x-other': `Bearer ${tp}` }, { path: '/any' }), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  assertDenied(await run(bearer(tp), { path: '/all' }), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
  const both = await run({ ...bearer(tp), 'x-other': `Bearer ${tq}` }, { path: '/all' });
  assert.equal(both.result, 'continued');
  assert.equal(both.headers.get('x-other'), undefined);
  // provider_and_audiences: aud "api" no longer passes; "admin.test" does (http(s):// and one trailing slash ignored).
  assertDenied(await run(bearer(tp), { path: '/aud' }), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  assert.equal((await run(bearer(await sign({ aud: ['x', 'http://admin.test'] })), { path: '/aud' })).result, 'continued');
});

test('allow_missing: no token passes, a bad token fails; allow_missing_or_failed: both pass and the bad token is kept', async () => {
  const { run } = setup({
    providers: { p: provider({ payload_in_metadata: 'p' }) },
    rules: [
      { match: { prefix: '/m' }, requires: { allow_missing: {} } },
      { match: { prefix: '/f' }, requires: { allow_missing_or_failed: {} } },
      { match: { prefix: '/a' }, requires: { requires_any: { requirements: [{ provider_name: 'p' }, { allow_missing: {} }] } } },
    ],
  });
  const good = await sign();
  const bad = await sign({ exp: NOW - 3600 });
  assert.equal((await run({}, { path: '/m' })).result, 'continued');
  assertDenied(await run(bearer(bad), { path: '/m' }), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  const m = await run(bearer(good), { path: '/m' });
  assert.equal(m.result, 'continued');
  assert.equal((m.cb.metadata.get(JWT_AUTHN_NAMESPACE)!.p as Record<string, unknown>).sub, 'alice', 'verified by the provider its iss names');
  assert.equal((await run({}, { path: '/f' })).result, 'continued');
  const f = await run(bearer(bad), { path: '/f' });
  assert.equal(f.result, 'continued');
  assert.equal(f.headers.get('authorization'), `Bearer ${bad}`);
  assert.equal(f.cb.metadata.get(JWT_AUTHN_NAMESPACE), undefined);
  assert.equal((await run({}, { path: '/a' })).result, 'continued');
  assertDenied(await run(bearer(bad), { path: '/a' }), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  // A token whose issuer no provider has is a failure for allow_missing.
  assertDenied(await run(bearer(await sign({ iss: 'https://nobody.test' })), { path: '/m' }), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
});

test('tokens from query parameters and cookies; the default locations are Authorization Bearer and access_token', async () => {
  const token = await sign();
  const d = setup({ providers: { p: provider() }, rules: requireP() });
  assert.equal((await d.run({}, { path: `/x?access_token=${token}` })).result, 'continued');
  assert.equal((await d.run({ authorization: `bearer ${token}` })).result, 'continued', 'the auth scheme is case-insensitive');
  const c = setup({ providers: { p: provider({ from_params: ['jwt'], from_cookies: ['session'] }) }, rules: requireP() });
  assert.equal((await c.run({}, { path: `/x?a=1&jwt=${token}` })).result, 'continued');
  assert.equal((await c.run({ cookie: `a=b; session=${token}; c=d` })).result, 'continued');
  assertDenied(await c.run(bearer(token)), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
});

test('every token a provider finds must verify: a second Authorization header with a bad token fails the request', async () => {
  const { run } = setup({ providers: { p: provider() }, rules: requireP() });
  const good = await sign();
  assert.equal((await run([['authorization', `Bearer ${good}`], ['authorization', `Bearer ${good}`]])).result, 'continued');
  assertDenied(await run([['authorization', `Bearer ${good}`], ['authorization', 'Bearer x.y.z']]), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
});

test('CORS preflight bypasses checks when bypass_cors_preflight is set', async () => {
  const { run, stat } = setup({ providers: { p: provider() }, rules: requireP(), bypass_cors_preflight: true });
  const pre = { origin: 'https://app.test', 'access-control-request-method': 'POST' };
  assert.deepEqual([(await run(pre, { method: 'OPTIONS' })).result, stat('cors_preflight_bypassed')], ['continued', 1]);
  assertDenied(await run({ origin: 'https://app.test' }, { method: 'OPTIONS' }), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
  assertDenied(await run(pre, { method: 'GET' }), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
  const off = setup({ providers: { p: provider() }, rules: requireP() });
  assertDenied(await off.run(pre, { method: 'OPTIONS' }), 'TESSERA_ERR_JWT_MISSING', 'Jwt is missing');
});

test('verified-token cache: a hit is synchronous (no signature work) and still checks time; LRU by jwt_cache_size', async () => {
  let now = NOW_MS;
  const { run, stat, shared } = setup({ providers: { p: provider({ jwt_cache_config: { jwt_cache_size: 2 }, clock_skew_seconds: 10 }) }, rules: requireP() }, { now: () => now });
  const t1 = await sign({ exp: NOW + 100 });
  const first = await run(bearer(t1));
  assert.deepEqual([first.result, first.sync], ['continued', false]);
  assert.deepEqual([stat('jwt_cache_miss'), stat('jwt_cache_hit')], [1, 0]);
  const second = await run(bearer(t1));
  assert.deepEqual([second.result, second.sync], ['continued', true]);
  assert.equal(stat('jwt_cache_hit'), 1);
  assert.equal(second.headers.get('authorization'), undefined, 'a hit has the same effects');
  // Past exp + skew the hit is refused synchronously and the entry dropped.
  now = (NOW + 111) * 1000;
  const late = await run(bearer(t1));
  assertDenied(late, 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  assert.equal(shared.providers.get('p')!.runtime.cache.size, 0);
  now = NOW_MS;
  const [a, b, c] = [await sign({ n: 1 }), await sign({ n: 2 }), await sign({ n: 3 })];
  for (const t of [a, b, c]) assert.equal((await run(bearer(t))).result, 'continued');
  assert.equal(shared.providers.get('p')!.runtime.cache.size, 2);
  assert.equal((await run(bearer(c))).sync, true);
  assert.equal((await run(bearer(a))).sync, false, 'the least recently used entry was evicted');
});

test('TokenCache: entries drop at exp + skew, capacity 0 caches nothing, re-insert refreshes recency', () => {
  const jwt = (token: string, exp: number) => ({ token, exp }) as ParsedJwt;
  const c = new TokenCache(2, 5);
  c.set('a', jwt('a', 100));
  c.set('b', jwt('b', 200));
  assert.equal(c.get('a', 104)?.token, 'a');
  c.set('c', jwt('c', 300));
  assert.equal(c.get('b', 0), null, 'b was least recently used');
  assert.equal(c.get('a', 105), null);
  assert.equal(c.size, 1);
  const zero = new TokenCache(0, 0);
  zero.set('a', jwt('a', 100));
  assert.equal(zero.size, 0);
});

test('claimHeaderValue: Envoy formatting; objects, arrays, nulls and control characters are skipped', () => {
  const p = { s: 'x', t: true, f: false, i: 42, big: 2 ** 70, d: 1.5, neg: -3, o: { a: 'y' }, arr: [1], n: null, bad: 'a\r\nb', tab: 'a\tb' };
  assert.deepEqual(
    ['s', 't', 'f', 'i', 'd', 'neg', 'o', 'arr', 'n', 'bad', 'tab', 'missing'].map((k) => claimHeaderValue(p, [k])),
    ['x', 'true', 'false', '42', '1.500000', '-3.000000', null, null, null, null, 'a\tb', null],
  );
  assert.equal(claimHeaderValue(p, ['o', 'a']), 'y');
  assert.equal(claimHeaderValue(p, ['s', 'x']), null);
  assert.equal(claimHeaderValue({ big: 2 ** 63 }, ['big']), '9223372036854775808');
});

test('the stream is held until the signature check ends; a destroyed stream gets neither continue nor reply', async () => {
  const { shared } = setup({ providers: { p: provider() }, rules: requireP() });
  const cb = new FakeDecoderCallbacks();
  const f = jwtAuthnFilterFactory.createFilter(shared, cb);
  assert.equal(f.onRequestHeaders(HeaderMap.from(Object.entries(bearer(await sign()))), false), FilterStatus.StopIteration);
  assert.equal(f.onRequestData(Buffer.from('body'), false), FilterStatus.StopIteration);
  assert.equal(f.onRequestTrailers(new HeaderMap()), FilterStatus.StopIteration);
  f.onDestroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual([cb.continued, cb.replies.length], [0, 0]);
});

// ---- remote JWKS (fake fetcher; the integration test covers real HTTP) ----

function fakeFetcher(initial: string) {
  const state = { body: initial, fail: false, calls: 0, delayMs: 20 };
  const fetcher: JwksFetcher = async () => {
    state.calls++;
    await new Promise((r) => setTimeout(r, state.delayMs));
    if (state.fail) throw new Error('down');
    return state.body;
  };
  return { state, fetcher };
}

const remote = (extra: object = {}, provider: object = {}) => ({
  providers: { p: { issuer: ISS, remote_jwks: { http_uri: { uri: 'http://127.0.0.1:1/jwks', cluster: 'idp', timeout: { seconds: 1 } }, cache_duration: { seconds: 60 }, ...extra }, ...provider } },
  rules: requireP(),
});

test('remote JWKS: concurrent requests share one fetch; keys are cached for cache_duration, then refetched', async () => {
  let now = NOW_MS;
  const { state, fetcher } = fakeFetcher(JWKS);
  const { run, stat } = setup(remote(), { now: () => now, fetcher });
  const tokens = await Promise.all([1, 2, 3, 4].map((n) => sign({ n })));
  const outs = await Promise.all(tokens.map((t) => run(bearer(t))));
  assert.deepEqual(outs.map((o) => o.result), ['continued', 'continued', 'continued', 'continued']);
  assert.equal(state.calls, 1);
  assert.equal(stat('jwks_fetch_success'), 1);
  assert.equal((await run(bearer(await sign({ n: 5 })))).result, 'continued');
  assert.equal(state.calls, 1, 'within cache_duration');
  now += 61_000;
  assert.equal((await run(bearer(await sign({ n: 6, exp: now / 1000 + 600 })))).result, 'continued');
  assert.equal(state.calls, 2);
});

test('remote JWKS down: stale keys keep serving; with no keys at all the reply is TESSERA_ERR_JWKS_UNAVAILABLE', async () => {
  let now = NOW_MS;
  const { state, fetcher } = fakeFetcher(JWKS);
  const { run, stat } = setup(remote(), { now: () => now, fetcher });
  assert.equal((await run(bearer(await sign({ n: 1 })))).result, 'continued');
  state.fail = true;
  now += 61_000;
  const nowS = now / 1000;
  assert.equal((await run(bearer(await sign({ n: 2, exp: nowS + 600, iat: nowS })))).result, 'continued');
  assert.equal(stat('jwks_fetch_failed'), 1);
  // Within failed_refetch_duration (1 s) the stale keys serve without another fetch.
  assert.equal((await run(bearer(await sign({ n: 3, exp: nowS + 600, iat: nowS })))).result, 'continued');
  assert.equal(state.calls, 2);

  const cold = fakeFetcher(JWKS);
  cold.state.fail = true;
  const c = setup(remote(), { now: () => now, fetcher: cold.fetcher });
  const o = await c.run(bearer(await sign({ exp: nowS + 600, iat: nowS })));
  assertDenied(o, 'TESSERA_ERR_JWKS_UNAVAILABLE', 'Jwks remote fetch is failed');
  assert.equal(o.cb.replies[0]!.headers!.get('www-authenticate'), 'Bearer realm="http://svc.local/api/items", error="invalid_token"');
  assert.equal(c.stat('jwks_fetch_failed'), 1);
  // The back-off also protects the endpoint when there are no keys: no new fetch within 1 s.
  assertDenied(await c.run(bearer(await sign({ exp: nowS + 600, iat: nowS }))), 'TESSERA_ERR_JWKS_UNAVAILABLE', 'Jwks remote fetch is failed');
  assert.equal(cold.state.calls, 1);
});

test('unknown kid: one refetch picks up a rotated key; further unknown kids wait for the 30 s cooldown', async () => {
  let now = NOW_MS;
  const { state, fetcher } = fakeFetcher(JSON.stringify({ keys: [rsaJwk] }));
  const { run } = setup(remote(), { now: () => now, fetcher });
  assert.equal((await run(bearer(await sign()))).result, 'continued');
  state.body = JSON.stringify({ keys: [rsaJwk, ecJwk] });
  assert.equal((await run(bearer(await sign({}, { key: 'ec' })))).result, 'continued');
  assert.equal(state.calls, 2);
  // A kid nobody has: refused, and no fetch within the cooldown.
  assertDenied(await run(bearer(await sign({}, { kid: 'ghost' }))), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  assert.equal(state.calls, 2);
  now += KID_REFETCH_COOLDOWN_MS;
  const nowS = now / 1000;
  assertDenied(await run(bearer(await sign({ exp: nowS + 600, iat: nowS }, { kid: 'ghost' }))), 'TESSERA_ERR_JWT_INVALID', 'Jwt verification fails');
  assert.equal(state.calls, 3);
});

test('async_fetch: keys are fetched when the filter chain is built; expired keys serve while a refresh runs', async () => {
  let now = NOW_MS;
  const { state, fetcher } = fakeFetcher(JWKS);
  const { run, shared } = setup(remote({ async_fetch: {} }), { now: () => now, fetcher });
  assert.equal(state.calls, 1, 'fetch started by createShared');
  const src = shared.providers.get('p')!.runtime.keys as RemoteKeySource;
  await src.inflight;
  const t = await sign();
  assert.equal((await run(bearer(t))).result, 'continued');
  now += 61_000;
  state.delayMs = 200;
  const nowS = now / 1000;
  const o = await run(bearer(await sign({ exp: nowS + 600, iat: nowS })));
  assert.equal(o.result, 'continued');
  assert.equal(state.calls, 2, 'a background refresh started');
  assert.notEqual(src.inflight, null, 'and the request did not wait for it');
  await src.inflight;
});
