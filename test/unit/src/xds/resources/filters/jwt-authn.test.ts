import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Issues } from '../../../../../../src/xds/resources/common.js';
import '../../../../../../src/xds/resources/filters/all.js';
import {
  JWT_DEFAULTS,
  parseJwks,
  validateJwtAuthnConfig,
  type JwtAuthnConfig,
} from '../../../../../../src/xds/resources/filters/jwt-authn.js';
import { httpFilterConfigValidator } from '../../../../../../src/xds/resources/filters/index.js';
import { validateListener } from '../../../../../../src/xds/resources/listener.js';
import { TypeUrl } from '../../../../../../src/xds/type-urls.js';
import { ROUTER, decoded, hcm, listener } from '../fixtures.js';
import { RFC7515_A1_KEY, RFC7520_EC_PUBLIC, RFC7520_OCT, RFC7520_RSA_PUBLIC } from '../../../../../helpers/jose-vectors.js';

const P = 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config';

// RFC 7520 §3.3 (Figure 3): the RSA key "bilbo.baggins@hobbiton.example" with its private exponent.
const RFC7520_RSA = {
  ...RFC7520_RSA_PUBLIC,
  d: 'bWUC9B-EFRIo8kpGfh0ZuyGPvMNKvYWNtB_ikiH9k20eT-O1q_I78eiZkpXxXQ0UTEs2LsNRS-8uJbvQ-A1irkwMSMkK1J3XTGgdrhCku9gRldY7sNA_AKZGh-Q661_42rINLRCe8W-nZ34ui_qOfkLnK9QWDDqpaIsA-bMwWWSDFu2MUBYwkHTMEzLYGqOe04noqeq1hExBTHBOBdkMXiuFhUq1BU6l-DqEiWxqg82sXt2h-LMnT3046AOYJoRioz75tSUQfGCshWTBnP5uDjd18kKhyv07lhfSJdrPdM5Plyl21hsFf4L_mHCuoFau7gdsPfHPxxjVOcOpBrQzwQ',
};

const jwks = (...keys: object[]) => JSON.stringify({ keys });

function validate(obj: object): { value: JwtAuthnConfig; errors: string[] } {
  const issues = new Issues();
  const v = httpFilterConfigValidator(TypeUrl.JwtAuthn)!(decoded(TypeUrl.JwtAuthn, obj), P, issues);
  return { value: v as JwtAuthnConfig, errors: issues.list };
}

function valid(obj: object): JwtAuthnConfig {
  const r = validate(obj);
  assert.deepEqual(r.errors, []);
  return r.value;
}

function hasError(obj: object, expected: string): void {
  const { errors } = validate(obj);
  assert.ok(errors.includes(`${P}.${expected}`), `expected "${P}.${expected}" in ${JSON.stringify(errors, null, 1)}`);
}

const local = (extra: object = {}) => ({ issuer: 'joe', local_jwks: { inline_string: jwks(RFC7520_RSA) }, ...extra });

test('all.js registers the jwt_authn validator under the JwtAuthentication type URL', () => {
  assert.equal(httpFilterConfigValidator(TypeUrl.JwtAuthn), validateJwtAuthnConfig);
});

test('a provider with inline keys gets Envoy defaults; private key members are dropped; the result is frozen', () => {
  const c = valid({ providers: { p1: local() }, rules: [{ match: { prefix: '/api' }, requires: { provider_name: 'p1' } }] });
  const p = c.providers[0]!;
  assert.equal(p.name, 'p1');
  assert.equal(p.issuer, 'joe');
  assert.equal(p.clockSkewSeconds, 60);
  assert.equal(p.jwtCacheSize, 100);
  assert.equal(p.forward, false);
  assert.equal(p.maxLifetimeSeconds, null);
  assert.deepEqual([p.fromHeaders, p.fromParams, p.fromCookies, p.claimToHeaders], [[], [], [], []]);
  assert.equal(p.jwks.kind, 'local');
  const keys = p.jwks.kind === 'local' ? p.jwks.keys : [];
  assert.equal(keys.length, 1);
  assert.deepEqual(keys[0], {
    kty: 'RSA', kid: 'bilbo.baggins@hobbiton.example', algs: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'], jwk: { kty: 'RSA', n: RFC7520_RSA.n, e: 'AQAB' },
  });
  assert.equal('d' in keys[0]!.jwk, false);
  assert.deepEqual(c.rules[0], {
    match: { path: { kind: 'prefix', value: '/api' }, caseSensitive: true, headers: [], queryParameters: [] },
    requirement: { kind: 'provider', provider: 'p1', audiences: null },
  });
  assert.deepEqual([c.bypassCorsPreflight, c.stripFailureResponse], [false, false]);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.providers[0]) && Object.isFrozen(keys[0]!.jwk) && Object.isFrozen(c.rules[0]!.requirement));
});

test('provider fields are read: locations, forwarding, metadata, claims (lower-cased headers, dotted paths), skew, cache, max_lifetime', () => {
  const c = valid({
    providers: {
      p: local({
        audiences: ['api', 'https://api.example/'],
        forward: true,
        from_headers: [{ name: 'X-Token', value_prefix: 'Token ' }],
        from_params: ['jwt'],
        from_cookies: ['session'],
        forward_payload_header: 'X-Jwt-Payload',
        pad_forward_payload_header: true,
        payload_in_metadata: 'payload',
        header_in_metadata: 'hdr',
        claim_to_headers: [{ header_name: 'X-Sub', claim_name: 'sub' }, { header_name: 'x-org', claim_name: 'org.id' }],
        clock_skew_seconds: 5,
        jwt_cache_config: { jwt_cache_size: 7 },
        max_lifetime: { seconds: 3600 },
        require_expiration: true,
      }),
    },
    bypass_cors_preflight: true,
    strip_failure_response: true,
  });
  const p = c.providers[0]!;
  assert.deepEqual(p.audiences, ['api', 'https://api.example/']);
  assert.equal(p.forward, true);
  assert.deepEqual(p.fromHeaders, [{ name: 'x-token', valuePrefix: 'Token ' }]);
  assert.deepEqual([p.fromParams, p.fromCookies], [['jwt'], ['session']]);
  assert.deepEqual([p.forwardPayloadHeader, p.padForwardPayloadHeader, p.payloadInMetadata, p.headerInMetadata], ['x-jwt-payload', true, 'payload', 'hdr']);
  assert.deepEqual(p.claimToHeaders, [{ headerName: 'x-sub', claimPath: ['sub'] }, { headerName: 'x-org', claimPath: ['org', 'id'] }]);
  assert.deepEqual([p.clockSkewSeconds, p.jwtCacheSize, p.maxLifetimeSeconds], [5, 7, 3600]);
  assert.deepEqual([c.bypassCorsPreflight, c.stripFailureResponse], [true, true]);
});

test('clock_skew_seconds 0 and jwt_cache_size 0 mean the defaults (as in Envoy)', () => {
  const p = valid({ providers: { p: local({ clock_skew_seconds: 0, jwt_cache_config: { jwt_cache_size: 0 } }) } }).providers[0]!;
  assert.deepEqual([p.clockSkewSeconds, p.jwtCacheSize], [JWT_DEFAULTS.clockSkewSeconds, JWT_DEFAULTS.jwtCacheSize]);
});

test('remote_jwks: uri, cluster and timeout are read; cache_duration defaults to 10 minutes; async_fetch is accepted', () => {
  const r = (extra: object = {}) => ({ http_uri: { uri: 'https://idp.example/jwks.json', cluster: 'idp', timeout: { seconds: 2 } }, ...extra });
  const a = valid({ providers: { p: { remote_jwks: r() } } }).providers[0]!.jwks;
  assert.deepEqual(a, { kind: 'remote', uri: 'https://idp.example/jwks.json', cluster: 'idp', timeoutMs: 2000, cacheDurationMs: 600_000, asyncFetch: false, failedRefetchMs: 1000 });
  const b = valid({ providers: { p: { remote_jwks: r({ cache_duration: { seconds: 30 }, async_fetch: { fast_listener: true, failed_refetch_duration: { seconds: 3 } } }) } } }).providers[0]!.jwks;
  assert.deepEqual(b, { kind: 'remote', uri: 'https://idp.example/jwks.json', cluster: 'idp', timeoutMs: 2000, cacheDurationMs: 30_000, asyncFetch: true, failedRefetchMs: 3000 });
  assert.equal((valid({ providers: { p: { remote_jwks: r({ async_fetch: {} }) } } }).providers[0]!.jwks as { asyncFetch: boolean }).asyncFetch, true);
});

test('remote_jwks errors: cluster and timeout are required, the uri must be http(s), retry_policy is NACKed', () => {
  hasError({ providers: { p: { remote_jwks: { http_uri: { uri: 'https://idp/jwks', timeout: { seconds: 1 } } } } } }, 'providers.p.remote_jwks.http_uri.cluster: required');
  hasError({ providers: { p: { remote_jwks: { http_uri: { uri: 'https://idp/jwks', cluster: 'c' } } } } }, 'providers.p.remote_jwks.http_uri.timeout: required');
  hasError({ providers: { p: { remote_jwks: { http_uri: { uri: 'file:///etc/jwks', cluster: 'c', timeout: { seconds: 1 } } } } } }, 'providers.p.remote_jwks.http_uri.uri: must be an absolute http or https URL, got "file:///etc/jwks"');
  hasError({ providers: { p: { remote_jwks: { http_uri: { uri: 'idp/jwks', cluster: 'c', timeout: { seconds: 1 } } } } } }, 'providers.p.remote_jwks.http_uri.uri: must be an absolute http or https URL, got "idp/jwks"');
  hasError({ providers: { p: { remote_jwks: { http_uri: { cluster: 'c', timeout: { seconds: 1 } } } } } }, 'providers.p.remote_jwks.http_uri.uri: required');
  hasError(
    { providers: { p: { remote_jwks: { http_uri: { uri: 'http://idp/jwks', cluster: 'c', timeout: { seconds: 1 } }, retry_policy: { num_retries: { value: 2 } } } } } },
    'providers.p.remote_jwks.retry_policy: not supported by Tessera',
  );
  hasError({ providers: { p: { remote_jwks: {} } } }, 'providers.p.remote_jwks.http_uri: required');
});

test('local_jwks: filename and inline_bytes are NACKed (validators are pure); a provider needs a key source', () => {
  hasError({ providers: { p: { local_jwks: { filename: '/etc/jwks.json' } } } }, 'providers.p.local_jwks.filename: not supported by Tessera');
  hasError({ providers: { p: { local_jwks: { inline_bytes: Buffer.from('{}') } } } }, 'providers.p.local_jwks.inline_bytes: not supported by Tessera');
  hasError({ providers: { p: { issuer: 'x' } } }, 'providers.p: one of local_jwks, remote_jwks is required');
});

test('inline JWKS problems are NACKed per key; enc keys are skipped; alg narrows a key to one algorithm', () => {
  const notJson = validate({ providers: { p: { local_jwks: { inline_string: 'not json' } } } }).errors;
  assert.ok(notJson.length === 1 && notJson[0]!.startsWith(`${P}.providers.p.local_jwks.inline_string: invalid JSON: `), notJson.join('\n'));
  hasError({ providers: { p: { local_jwks: { inline_string: '{"kty":"RSA"}' } } } }, 'providers.p.local_jwks.inline_string: a JWKS needs a "keys" array');
  hasError({ providers: { p: { local_jwks: { inline_string: jwks({ kty: 'EC', crv: 'secp256k1', x: 'AA', y: 'AA' }) } } } }, 'providers.p.local_jwks.inline_string: keys[0]: EC curve "secp256k1" not supported by Tessera (P-256, P-384, P-521)');
  hasError({ providers: { p: { local_jwks: { inline_string: jwks({ kty: 'oct', k: 'c2hvcnQ' }) } } } }, 'providers.p.local_jwks.inline_string: keys[0]: oct key shorter than 32 bytes (RFC 7518 §3.2)');
  hasError({ providers: { p: { local_jwks: { inline_string: jwks({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }) } } } }, 'providers.p.local_jwks.inline_string: keys[0]: RSA modulus shorter than 2048 bits');
  hasError({ providers: { p: { local_jwks: { inline_string: jwks({ ...RFC7520_RSA, alg: 'HS256' }) } } } }, 'providers.p.local_jwks.inline_string: keys[0]: alg HS256 cannot be used with this RSA key');
  hasError({ providers: { p: { local_jwks: { inline_string: jwks({ kty: 'none' }) } } } }, 'providers.p.local_jwks.inline_string: keys[0]: kty "none" not supported by Tessera (RSA, EC, OKP, oct)');
  hasError({ providers: { p: { local_jwks: { inline_string: jwks({ ...RFC7520_OCT, use: 'enc' }) } } } }, 'providers.p.local_jwks.inline_string: no key usable for signature verification');
  const keys = (text: string) => parseJwks(text).keys;
  assert.deepEqual(keys(jwks({ ...RFC7520_RSA, alg: 'PS384' }))[0]!.algs, ['PS384']);
  assert.deepEqual(keys(jwks(RFC7520_EC_PUBLIC))[0]!.algs, ['ES512']);
  assert.deepEqual(keys(jwks(RFC7520_OCT))[0]!.algs, ['HS256']);
  // RFC 7515 A.1's 64-byte key is long enough for every HMAC algorithm; RFC 7520 §3.5's 32-byte one only for HS256.
  assert.deepEqual(keys(jwks(RFC7515_A1_KEY))[0]!.algs, ['HS256', 'HS384', 'HS512']);
  assert.deepEqual(keys(jwks({ ...RFC7520_OCT, alg: undefined }))[0]!.algs, ['HS256']);
  assert.equal(keys(jwks({ ...RFC7520_EC_PUBLIC, key_ops: ['encrypt'] })).length, 0);
  assert.deepEqual(parseJwks(jwks(RFC7520_RSA, { ...RFC7520_EC_PUBLIC, use: 'enc' }, RFC7520_OCT)).keys.map((k) => k.kty), ['RSA', 'oct']);
  assert.deepEqual(parseJwks(JSON.stringify({ keys: Array.from({ length: 101 }, () => RFC7520_OCT) })).errors, ['more than 100 keys']);
});

test('requirements: every JwtRequirement kind, requirement_name through requirement_map, allow_missing scope', () => {
  const c = valid({
    providers: { a: local(), b: local({ issuer: 'other' }) },
    rules: [
      { match: { path: '/one' }, requires: { provider_and_audiences: { provider_name: 'a', audiences: ['x'] } } },
      { match: { prefix: '/any' }, requires: { requires_any: { requirements: [{ provider_name: 'a' }, { allow_missing: {} }] } } },
      { match: { prefix: '/all' }, requires: { requires_all: { requirements: [{ provider_name: 'a' }, { provider_name: 'b' }] } } },
      { match: { prefix: '/opt' }, requires: { allow_missing_or_failed: {} } },
      { match: { safe_regex: { regex: '/n/[0-9]+' } }, requirement_name: 'named' },
      { match: { prefix: '/open' } },
    ],
    requirement_map: { named: { provider_name: 'b' } },
  });
  assert.deepEqual(c.rules.map((r) => r.requirement), [
    { kind: 'provider', provider: 'a', audiences: ['x'] },
    { kind: 'any', requirements: [{ kind: 'provider', provider: 'a', audiences: null }, { kind: 'allow_missing', providers: ['a'] }] },
    { kind: 'all', requirements: [{ kind: 'provider', provider: 'a', audiences: null }, { kind: 'provider', provider: 'b', audiences: null }] },
    { kind: 'allow_missing_or_failed', providers: ['a', 'b'] },
    { kind: 'provider', provider: 'b', audiences: null },
    { kind: 'none' },
  ]);
  assert.deepEqual(c.rules[4]!.match.path, { kind: 'safe_regex', regex: '/n/[0-9]+' });
});

test('rule matches read headers, query_parameters and case_sensitive; other RouteMatch fields are NACKed', () => {
  const c = valid({
    providers: { a: local() },
    rules: [{ match: { prefix: '/API', case_sensitive: { value: false }, headers: [{ name: 'X-Env', exact_match: 'prod' }], query_parameters: [{ name: 'v', present_match: true }] }, requires: { provider_name: 'a' } }],
  });
  assert.deepEqual(c.rules[0]!.match, {
    path: { kind: 'prefix', value: '/API' },
    caseSensitive: false,
    headers: [{ name: 'x-env', invert: false, match: { kind: 'string', string: { kind: 'exact', value: 'prod', ignoreCase: false } } }],
    queryParameters: [{ name: 'v', string: null }],
  });
  hasError({ providers: { a: local() }, rules: [{ match: { prefix: '/', grpc: {} }, requires: { provider_name: 'a' } }] }, 'rules[0].match.grpc: not supported by Tessera');
  hasError({ providers: { a: local() }, rules: [{ match: { safe_regex: { regex: '(?=x)' } }, requires: { provider_name: 'a' } }] }, 'rules[0].match.safe_regex.regex: invalid regex "(?=x)": look-around is not RE2 syntax');
  hasError({ providers: { a: local() }, rules: [{ requires: { provider_name: 'a' } }] }, 'rules[0].match: required');
});

test('requirement errors name the field: unknown provider, unknown requirement_name, lists shorter than two', () => {
  hasError({ providers: { a: local() }, rules: [{ match: { prefix: '/' }, requires: { provider_name: 'nope' } }] }, 'rules[0].requires.provider_name: provider "nope" is not configured');
  hasError({ providers: { a: local() }, rules: [{ match: { prefix: '/' }, requirement_name: 'missing' }] }, 'rules[0].requirement_name: "missing" is not in requirement_map');
  hasError({ providers: { a: local() }, rules: [{ match: { prefix: '/' }, requires: { requires_any: { requirements: [{ provider_name: 'a' }] } } }] }, 'rules[0].requires.requires_any.requirements: at least 2 requirements are required');
  hasError(
    { providers: { a: local() }, requirement_map: { r: { requires_all: { requirements: [{ provider_name: 'a' }, { provider_and_audiences: { provider_name: 'z' } }] } } } },
    'requirement_map.r.requires_all.requirements[1].provider_and_audiences.provider_name: provider "z" is not configured',
  );
});

test('unsupported provider and filter fields are NACKed with their path', () => {
  hasError({ providers: { a: local({ subjects: { prefix: 'spiffe://x/' } }) } }, 'providers.a.subjects: not supported by Tessera');
  hasError({ providers: { a: local({ normalize_payload_in_metadata: { space_delimited_claims: ['scope'] } }) } }, 'providers.a.normalize_payload_in_metadata: not supported by Tessera');
  hasError({ providers: { a: local({ failed_status_in_metadata: 'f' }) } }, 'providers.a.failed_status_in_metadata: not supported by Tessera');
  hasError({ providers: { a: local({ clear_route_cache: true }) } }, 'providers.a.clear_route_cache: not supported by Tessera (routes are chosen before HTTP filters run)');
  hasError({ providers: { a: local() }, filter_state_rules: { name: 'f', requires: { x: { provider_name: 'a' } } } }, 'filter_state_rules: not supported by Tessera');
  hasError({ providers: { a: local({ forward_payload_header: 'bad header' }) } }, 'providers.a.forward_payload_header: invalid header name "bad header"');
  hasError({ providers: { a: local({ claim_to_headers: [{ header_name: 'host', claim_name: 'sub' }] }) } }, 'providers.a.claim_to_headers[0].header_name: header "host" cannot be modified');
  hasError({ providers: { a: local({ claim_to_headers: [{ header_name: 'x-a', claim_name: 'a..b' }] }) } }, 'providers.a.claim_to_headers[0].claim_name: invalid claim path "a..b"');
  hasError({ providers: { a: local({ from_headers: [{ value_prefix: 'Bearer ' }] }) } }, 'providers.a.from_headers[0].name: required');
});

test('an HCM with jwt_authn before the router validates as a listener; a bad jwt_authn config NACKs the listener', () => {
  const filter = (providers: object) => ({
    name: 'envoy.filters.http.jwt_authn',
    typed_config: { '@type': TypeUrl.JwtAuthn, providers, rules: [{ match: { prefix: '/' }, requires: { provider_name: 'a' } }] },
  });
  const ok = validateListener(decoded(TypeUrl.Listener, listener('l', hcm({ http_filters: [filter({ a: local() }), ROUTER] }))));
  assert.equal(ok.ok, true, JSON.stringify(ok));
  if (ok.ok) {
    const h = ok.value.filterChains[0]!.network;
    assert.equal(h.kind, 'http_connection_manager');
    if (h.kind === 'http_connection_manager') assert.equal(h.httpFilters[0]!.typeUrl, TypeUrl.JwtAuthn);
  }
  const bad = validateListener(decoded(TypeUrl.Listener, listener('l', hcm({ http_filters: [filter({ a: { issuer: 'x' } }), ROUTER] }))));
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.ok(bad.errors.some((e) => e.endsWith('http_filters[0].typed_config.providers.a: one of local_jwks, remote_jwks is required')), bad.errors.join('\n'));
});
