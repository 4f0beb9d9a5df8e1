// RFC 8725 (JWT Best Current Practices) attack suite against envoy.filters.http.jwt_authn: every forged, malformed or
// out-of-policy token must get 401 and the request must NOT continue. Each attack has a control that passes, so a test
// fails if the filter starts accepting the attack or starts rejecting everything.
import assert from 'node:assert/strict';
import { createPublicKey, webcrypto } from 'node:crypto';
import type { CryptoKey } from 'jose';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { CompactSign, SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWTPayload } from 'jose';
import { StatsStore } from '../../../../../src/observability/stats.js';
import { Issues } from '../../../../../src/xds/resources/common.js';
import { validateJwtAuthnConfig } from '../../../../../src/xds/resources/filters/jwt-authn.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { createRoot, generateKeyPair as generateCaKeyPair, splitPemCertificates } from '../../../../../src/tls/x509.js';
import { jwtAuthnFilterFactory } from '../../../../../sidecar/filters/http/jwt-authn/config.js';
import { JwtAuthnShared } from '../../../../../sidecar/filters/http/jwt-authn/filter.js';
import { MAX_TOKEN_BYTES } from '../../../../../sidecar/filters/http/jwt-authn/verify.js';
import { FilterStatus } from '../../../../../sidecar/http/filter.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { decoded } from '../../../src/xds/resources/fixtures.js';
import { FakeDecoderCallbacks } from '../../../../helpers/http-fakes.js';
import { RFC7515_A1, RFC7515_A1_KEY, RFC7516_A3, RFC7519_6_1, RFC7520_RSA_PUBLIC } from '../../../../helpers/jose-vectors.js';


const NOW_MS = 1_900_000_000_000;
const NOW = NOW_MS / 1000;
const ISS = 'https://issuer.test';

const rsa = await generateKeyPair('RS256', { extractable: true });
const ec = await generateKeyPair('ES256', { extractable: true });
const attackerRsa = await generateKeyPair('RS256', { extractable: true });
const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1' };
const ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1' };
const octKey = { kty: 'oct', kid: 'hmac-1', k: Buffer.alloc(32, 7).toString('base64url') };

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const claims = (over: JWTPayload = {}): JWTPayload => ({ iss: ISS, aud: 'api', sub: 'alice', exp: NOW + 600, iat: NOW - 10, ...over });
const sign = (over: JWTPayload = {}, header: Record<string, unknown> = { alg: 'RS256', kid: 'rsa-1' }, key: CryptoKey | Uint8Array = rsa.privateKey) =>
  new SignJWT(claims(over)).setProtectedHeader(header as { alg: string }).sign(key);
/** Arbitrary header and payload JSON, signed: for shapes SignJWT refuses to build. */
const signRaw = (header: Record<string, unknown>, payload: unknown, key: CryptoKey | Uint8Array = rsa.privateKey) =>
  new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader(header as { alg: string }).sign(key);
/** RS256 over any header (jose refuses to sign a crit it does not know): WebCrypto directly. */
async function signRs256Unchecked(header: Record<string, unknown>, payload: string): Promise<string> {
  const input = `${b64(header)}.${payload}`;
  const sig = await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', rsa.privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

function shared(providers: Record<string, object>, extra: object = {}): JwtAuthnShared {
  const issues = new Issues();
  const cfg = validateJwtAuthnConfig(
    decoded(TypeUrl.JwtAuthn, { providers, rules: [{ match: { prefix: '/' }, requires: { provider_name: Object.keys(providers)[0] } }], ...extra }),
    'tc',
    issues,
  );
  assert.deepEqual(issues.list, []);
  return new JwtAuthnShared(cfg, new StatsStore(), 'attacks', { now: () => NOW_MS });
}

const provider = (keys: object[], extra: object = {}) => ({ issuer: ISS, audiences: ['api'], local_jwks: { inline_string: JSON.stringify({ keys }) }, ...extra });
const main = shared({ p: provider([rsaJwk, ecJwk]) });
const mixed = shared({ p: provider([rsaJwk, octKey]) });

/** Runs one request; resolves once the filter answered or continued, plus a grace period to catch a late continue. */
async function send(s: JwtAuthnShared, token: string | null, headers: [string, string][] = []): Promise<FakeDecoderCallbacks> {
  const cb = new FakeDecoderCallbacks();
  cb.path = '/orders';
  const h = HeaderMap.from(token === null ? headers : [['authorization', `Bearer ${token}`], ...headers]);
  const st = jwtAuthnFilterFactory.createFilter(s, cb).onRequestHeaders(h, true);
  if (st === FilterStatus.Continue) cb.continued++;
  for (let i = 0; i < 1000 && cb.continued === 0 && cb.replies.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 10));
  return cb;
}

/** The attack is refused: 401 (with invalid_token), and the request did not continue. */
async function rejected(token: string, s: JwtAuthnShared = main, headers: [string, string][] = []): Promise<void> {
  const cb = await send(s, token, headers);
  assert.equal(cb.continued, 0, `request continued with ${token.slice(0, 80)}`);
  assert.equal(cb.replies.length, 1);
  assert.equal(cb.replies[0]!.reply.status, 401);
  assert.equal(cb.replies[0]!.reply.code, 'TESSERA_ERR_JWT_INVALID');
  assert.match(cb.replies[0]!.headers!.get('www-authenticate')!, /error="invalid_token"$/);
}

async function accepted(token: string, s: JwtAuthnShared = main): Promise<void> {
  const cb = await send(s, token);
  assert.deepEqual([cb.continued, cb.replies.length], [1, 0], 'the control token must pass');
}

test('control: a correctly signed RS256, ES256 and HS256 token passes', async () => {
  await accepted(await sign());
  await accepted(await sign({}, { alg: 'ES256', kid: 'ec-1' }, ec.privateKey));
  await accepted(await sign({}, { alg: 'HS256', kid: 'hmac-1' }, Buffer.from(octKey.k, 'base64url')), mixed);
});

test('RFC 8725 §3.1: alg "none" (RFC 7519 §6.1 example, and with our claims and any casing) is rejected', async () => {
  const oct = shared({ p: { issuer: 'joe', local_jwks: { inline_string: JSON.stringify({ keys: [RFC7515_A1_KEY] }) } } });
  const now1300 = new JwtAuthnShared(
    validateJwtAuthnConfig(decoded(TypeUrl.JwtAuthn, { providers: { p: { issuer: 'joe', local_jwks: { inline_string: JSON.stringify({ keys: [RFC7515_A1_KEY] }) } } }, rules: [{ match: { prefix: '/' }, requires: { provider_name: 'p' } }] }), 'tc', new Issues()),
    new StatsStore(),
    'attacks',
    { now: () => 1_300_819_000_000 },
  );
  await accepted(RFC7515_A1, now1300);
  await rejected(RFC7519_6_1, now1300);
  await rejected(RFC7519_6_1, oct);
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    await rejected(`${b64({ alg })}.${b64(claims())}.`);
    await rejected(`${b64({ alg, kid: 'rsa-1' })}.${b64(claims())}.${b64('sig')}`);
  }
});

test('compact JWS only: JWE (RFC 7516 A.3), JSON serialization, wrong part counts and non-base64url are rejected', async () => {
  const good = await sign();
  const [h, p, s] = good.split('.') as [string, string, string];
  await accepted(good);
  await rejected(RFC7516_A3);
  await rejected(`${h}.${p}.${s}.${s}.${s}`);
  await rejected(`${h}.${p}.${s}.`);
  await rejected(`${h}.${p}`);
  await rejected(`${h}..${s}`);
  await rejected(`.${p}.${s}`);
  await rejected(JSON.stringify({ protected: h, payload: p, signature: s }));
  await rejected(`${h}.${p}.${s}==`);
  await rejected(`${h}.${p.replace(/-/g, '+').replace(/_/g, '/')}x+/.${s}`);
  await rejected(`${h}.${p}.${s.slice(0, -1)}`);
  // Header or payload JSON that is not an object.
  await rejected(await signRaw({ alg: 'RS256', kid: 'rsa-1' }, [claims()]));
  await rejected(`${b64('["RS256"]')}.${p}.${s}`);
  await rejected(`${b64('{"alg":"RS256"')}.${p}.${s}`);
});

test(`oversized token: a validly signed token longer than ${MAX_TOKEN_BYTES} bytes is rejected (one just under passes)`, async () => {
  const sized = async (target: number) => {
    let pad = 'x'.repeat(Math.max(0, Math.floor(((target - 400) * 3) / 4)));
    let t = await sign({ pad });
    for (let i = 0; i < 50 && t.length !== target; i++) {
      pad = 'x'.repeat(Math.max(0, pad.length + Math.floor(((target - t.length) * 3) / 4) || (target > t.length ? 1 : -1)));
      t = await sign({ pad });
      if (Math.abs(t.length - target) <= 3) break;
    }
    return t;
  };
  const under = await sized(MAX_TOKEN_BYTES - 4);
  assert.ok(under.length <= MAX_TOKEN_BYTES);
  await accepted(under);
  const over = await sized(MAX_TOKEN_BYTES + 8);
  assert.ok(over.length > MAX_TOKEN_BYTES, `${over.length}`);
  await rejected(over);
  await rejected(await sign({ pad: 'y'.repeat(64 * 1024) }));
});

test('algorithm allow-list: algorithms outside it and algorithms the selected key does not allow are rejected', async () => {
  const [, p, s] = (await sign()).split('.') as [string, string, string];
  for (const alg of ['HS1', 'RS1', 'ES256K', 'RSA-OAEP', 'dir', 'A128KW', 'Ed448', '']) await rejected(`${b64({ alg, kid: 'rsa-1' })}.${p}.${s}`);
  await rejected(`${b64({ kid: 'rsa-1' })}.${p}.${s}`);
  // ES256 with the RSA key's kid, RS256 with the EC key's kid: the key allows other algorithms only.
  await rejected(await sign({}, { alg: 'ES256', kid: 'rsa-1' }, ec.privateKey));
  await rejected(await sign({}, { alg: 'RS256', kid: 'ec-1' }));
  // ES384 where the provider has only a P-256 key.
  const p384 = await generateKeyPair('ES384');
  await rejected(await sign({}, { alg: 'ES384', kid: 'ec-1' }, p384.privateKey));
});

test('key-type confusion: an HS256 token MACed with the RSA public key (PEM, DER, JWK, n) never verifies against it', async () => {
  const pem = await exportSPKI(rsa.publicKey);
  const der = createPublicKey(pem).export({ format: 'der', type: 'spki' });
  const secrets: Uint8Array[] = [Buffer.from(pem), Buffer.from(der), Buffer.from(JSON.stringify(rsaJwk)), Buffer.from(rsaJwk.n!, 'base64url')];
  for (const secret of secrets) {
    for (const header of [{ alg: 'HS256', kid: 'rsa-1' }, { alg: 'HS256' }, { alg: 'HS512', kid: 'rsa-1' }]) {
      const forged = await sign({}, header, secret);
      await rejected(forged, main);
      // A provider that also has an HMAC key: the RSA kid selects no HMAC-capable key; without kid only the oct key is tried.
      await rejected(forged, mixed);
    }
  }
  // The RFC 7520 §3.3 public key, as a provider key, is just as useless as an HMAC secret.
  const rfc = shared({ p: provider([RFC7520_RSA_PUBLIC]) });
  await rejected(await sign({}, { alg: 'HS256', kid: RFC7520_RSA_PUBLIC.kid }, Buffer.from(JSON.stringify(RFC7520_RSA_PUBLIC))), rfc);
  await rejected(await sign({}, { alg: 'HS256', kid: RFC7520_RSA_PUBLIC.kid }, Buffer.from(RFC7520_RSA_PUBLIC.n, 'base64url')), rfc);
});

test('kid only selects among the provider keys: injection strings, near misses and non-strings match nothing', async () => {
  await accepted(await sign({}, { alg: 'RS256', kid: 'rsa-1' }));
  const kids: unknown[] = ['../../../../../../dev/null', "' OR '1'='1", "rsa-1' --", 'rsa-1\u0000', 'rsa-1 ', 'RSA-1', 'rsa', '*', '', 1, ['rsa-1'], { $ne: null }];
  for (const kid of kids) {
    // Signed with the provider's own key: only the kid is wrong.
    await rejected(await signRaw({ alg: 'RS256', kid }, claims()));
    // Signed by an attacker, naming the path/SQL the attacker hopes to steer key lookup with.
    await rejected(await signRaw({ alg: 'RS256', kid }, claims(), attackerRsa.privateKey));
  }
  // The right kid with an attacker's signature.
  await rejected(await sign({}, { alg: 'RS256', kid: 'rsa-1' }, attackerRsa.privateKey));
});

test('jku and x5u are ignored: the URL in the token is never fetched and the attacker-signed token fails', async () => {
  const attackerJwks = JSON.stringify({ keys: [{ ...(await exportJWK(attackerRsa.publicKey)), kid: 'evil' }] });
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(attackerJwks);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  try {
    for (const header of [{ alg: 'RS256', kid: 'evil', jku: url }, { alg: 'RS256', jku: url }, { alg: 'RS256', kid: 'evil', x5u: url }, { alg: 'RS256', kid: 'rsa-1', jku: url }]) {
      await rejected(await sign({}, header, attackerRsa.privateKey));
    }
    // A legitimately signed token carrying jku still passes: the header is ignored, not fatal.
    await accepted(await sign({}, { alg: 'RS256', kid: 'rsa-1', jku: url }));
    assert.equal(hits, 0, 'the sidecar fetched a URL named by a token');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('embedded keys are ignored: a token signed by the key in its own jwk or x5c header fails', async () => {
  const attackerJwk = await exportJWK(attackerRsa.publicKey);
  await rejected(await sign({}, { alg: 'RS256', jwk: attackerJwk }, attackerRsa.privateKey));
  await rejected(await sign({}, { alg: 'RS256', kid: 'rsa-1', jwk: attackerJwk }, attackerRsa.privateKey));
  const caKeys = await generateCaKeyPair();
  const cert = splitPemCertificates(await createRoot('attacker.test', 1, caKeys))[0]!;
  const x5c = [cert.replace(/-----[A-Z ]+-----|\s/g, '')];
  await rejected(await sign({}, { alg: 'ES256', x5c }, caKeys.privateKey));
  await rejected(await sign({}, { alg: 'ES256', kid: 'ec-1', x5c }, caKeys.privateKey));
});

test('crit present is rejected even with a valid signature (and b64:false with it)', async () => {
  await accepted(await signRs256Unchecked({ alg: 'RS256', kid: 'rsa-1', exp: NOW + 600 }, b64(claims())));
  await rejected(await signRs256Unchecked({ alg: 'RS256', kid: 'rsa-1', crit: ['exp'], exp: NOW + 600 }, b64(claims())));
  await rejected(await signRs256Unchecked({ alg: 'RS256', kid: 'rsa-1', crit: [] }, b64(claims())));
  await rejected(await signRs256Unchecked({ alg: 'RS256', kid: 'rsa-1', crit: 'x' }, b64(claims())));
  // RFC 7797 unencoded payload: signed over the raw JSON, presented with it base64url-encoded.
  const raw = await signRs256Unchecked({ alg: 'RS256', kid: 'rsa-1', b64: false, crit: ['b64'] }, JSON.stringify(claims()));
  await rejected(`${raw.slice(0, raw.indexOf('.'))}.${b64(claims())}.${raw.slice(raw.lastIndexOf('.') + 1)}`);
  await rejected(await signRs256Unchecked({ alg: 'RS256', kid: 'rsa-1', b64: false }, b64(claims())));
});

test('exp is required and checked (60 s default skew); nbf and iat are checked with the skew', async () => {
  await rejected(await signRaw({ alg: 'RS256', kid: 'rsa-1' }, { iss: ISS, aud: 'api', sub: 'alice' }));
  await rejected(await sign({ exp: `${NOW + 600}` as unknown as number }));
  await rejected(await sign({ exp: NOW - 61 }));
  await accepted(await sign({ exp: NOW - 59 }));
  await rejected(await sign({ nbf: NOW + 61 }));
  await accepted(await sign({ nbf: NOW + 59 }));
  await rejected(await sign({ nbf: 'soon' as unknown as number }));
  await rejected(await sign({ iat: NOW + 61 }));
  await accepted(await sign({ iat: NOW + 59 }));
  await rejected(await sign({ iat: null as unknown as number }));
});

test('max_lifetime: a token living longer than allowed is rejected', async () => {
  const s = shared({ p: provider([rsaJwk], { max_lifetime: { seconds: 3600 } }) });
  await accepted(await sign({ exp: NOW + 3000 }), s);
  await rejected(await sign({ exp: NOW + 7200 }), s);
});

test('iss must equal the provider issuer; a token without iss fails when one is configured', async () => {
  await rejected(await sign({ iss: 'https://evil.test' }));
  await rejected(await sign({ iss: `${ISS}/` }));
  await rejected(await signRaw({ alg: 'RS256', kid: 'rsa-1' }, { aud: 'api', exp: NOW + 600 }));
  await rejected(await sign({ iss: ['https://issuer.test'] as unknown as string }));
});

test('aud must intersect the audiences: wrong, missing and non-string audiences get 401 (not Envoy 403)', async () => {
  await accepted(await sign({ aud: ['other', 'api'] }));
  await rejected(await sign({ aud: 'other' }));
  await rejected(await sign({ aud: [] }));
  await rejected(await signRaw({ alg: 'RS256', kid: 'rsa-1' }, { iss: ISS, exp: NOW + 600 }));
  await rejected(await sign({ aud: 7 as unknown as string }));
  await rejected(await sign({ aud: ['api', 7] as unknown as string[] }));
});

test('bad signatures: flipped bits, a payload swapped in, a signature from another token, ECDSA r=s=0 (CVE-2022-21449)', async () => {
  const good = await sign();
  const [h, p, s] = good.split('.') as [string, string, string];
  const flip = (x: string, i: number) => `${x.slice(0, i)}${x[i] === 'A' ? 'B' : 'A'}${x.slice(i + 1)}`;
  await rejected(`${h}.${p}.${flip(s, 0)}`);
  await rejected(`${h}.${p}.${flip(s, s.length >> 1)}`);
  await rejected(`${h}.${b64(claims({ sub: 'admin' }))}.${s}`);
  const other = (await sign({ sub: 'bob' })).split('.')[2]!;
  await rejected(`${h}.${p}.${other}`);
  const eh = b64({ alg: 'ES256', kid: 'ec-1' });
  await rejected(`${eh}.${p}.${Buffer.alloc(64).toString('base64url')}`);
  // A valid ES256 signature, but over other claims.
  const es = await sign({ sub: 'bob' }, { alg: 'ES256', kid: 'ec-1' }, ec.privateKey);
  await accepted(es);
  await rejected(`${eh}.${p}.${es.split('.')[2]}`);
});

test('a rejected token is never cached: sending it again is still rejected, and a valid one then passes', async () => {
  const good = await sign({ sub: 'carol' });
  const [h, p] = good.split('.') as [string, string];
  const forged = `${h}.${p}.${(await sign({ sub: 'carol' }, { alg: 'RS256', kid: 'rsa-1' }, attackerRsa.privateKey)).split('.')[2]}`;
  await rejected(forged);
  await rejected(forged);
  await accepted(good);
  await rejected(forged);
});
