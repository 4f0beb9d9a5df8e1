// envoy.filters.http.jwt_authn in a real sidecar process: a static bootstrap whose HCM runs jwt_authn before the
// router, a remote JWKS served by a node http server here, and a counting upstream. Covers a valid token (claims to
// headers, Authorization removed), missing and expired tokens (401 + www-authenticate, gRPC UNAUTHENTICATED), key
// rotation picked up by the unknown-kid refetch, stale keys serving while the JWKS server is down, and that the
// upstream never saw a rejected request.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { TypeUrl } from '../../src/xds/type-urls.js';
import { bootstrap, httpListener, staticCluster, writeBootstrap, type Json } from '../helpers/bootstraps.js';
import { eventually, freePorts, request, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

/** The CLI compiled next to this test (src/cli/main.js in the same output dir), so the sidecar runs the code under test. */
const ISS = 'https://idp.test';

/** A JWKS endpoint whose document can change and which can be stopped; counts fetches. */
interface JwksServer {
  port: number;
  hits: number;
  doc: string;
  close(): Promise<void>;
}

async function startJwks(doc: string): Promise<JwksServer> {
  const s: JwksServer = { port: 0, hits: 0, doc, close: async () => undefined };
  const server = http.createServer((req, res) => {
    s.hits++;
    if (req.url !== '/rot/jwks.json' && req.url !== '/short/jwks.json') {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(s.doc);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  s.port = (server.address() as AddressInfo).port;
  s.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return s;
}

describe('jwt_authn: a sidecar verifying tokens against a remote JWKS', () => {
  const { dir, cleanup } = tempDir('tessera-jwt-');
  let side: ReadyChild | null = null;
  let up: Upstream;
  let jwks: JwksServer;
  let port = 0;
  let admin = 0;
  let accepted = 0;
  const keyA = { pair: null as unknown as Awaited<ReturnType<typeof generateKeyPair>>, jwk: {} as Json };
  const keyB = { pair: null as unknown as Awaited<ReturnType<typeof generateKeyPair>>, jwk: {} as Json };

  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const stats = async (): Promise<Record<string, number>> => JSON.parse((await request(`http://127.0.0.1:${admin}/stats?format=json`)).body) as Record<string, number>;
  const sign = (key: typeof keyA, kid: string, over: JWTPayload = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: ISS, aud: 'orders', sub: 'alice', iat: now, exp: now + 600, jti: `${Math.random()}`, ...over })
      .setProtectedHeader({ alg: kid === 'a' ? 'RS256' : 'ES256', kid })
      .sign(key.pair.privateKey);
  };
  const ok = async (p: string, token: string, headers: Record<string, string> = {}) => {
    const r = await request(url(p), { headers: { authorization: `Bearer ${token}`, ...headers } });
    assert.equal(r.status, 200, r.body);
    accepted++;
    return JSON.parse(r.body) as { headers: Record<string, string> };
  };

  before(async () => {
    keyA.pair = await generateKeyPair('RS256');
    keyA.jwk = { ...(await exportJWK(keyA.pair.publicKey)), kid: 'a', use: 'sig' };
    keyB.pair = await generateKeyPair('ES256');
    keyB.jwk = { ...(await exportJWK(keyB.pair.publicKey)), kid: 'b', use: 'sig' };
    jwks = await startJwks(JSON.stringify({ keys: [keyA.jwk] }));
    up = await startUpstream('orders');
    [port, admin] = (await freePorts(2)) as [number, number];
    const provider = (name: string, extra: Json): Json => ({
      issuer: ISS,
      audiences: ['orders'],
      remote_jwks: { http_uri: { uri: `http://127.0.0.1:${jwks.port}/${name}/jwks.json`, cluster: 'idp', timeout: '1s' }, ...extra },
      claim_to_headers: [{ header_name: 'x-jwt-sub', claim_name: 'sub' }],
      forward_payload_header: 'x-jwt-payload',
    });
    const jwtFilter: Json = {
      name: 'envoy.filters.http.jwt_authn',
      typed_config: {
        '@type': TypeUrl.JwtAuthn,
        providers: {
          // Keys cached 10 min (the default), fetched when the listener is built.
          rot: provider('rot', { async_fetch: {} }),
          // Keys cached 1 s: lets the test see stale keys serve while the JWKS server is down.
          short: provider('short', { cache_duration: '1s' }),
        },
        rules: [
          { match: { prefix: '/healthz' } },
          { match: { prefix: '/short' }, requires: { provider_name: 'short' } },
          { match: { prefix: '/' }, requires: { provider_name: 'rot' } },
        ],
      },
    };
    const b = bootstrap(
      'jwt-sidecar',
      admin,
      [httpListener('main', port, [{ match: { prefix: '/' }, route: { cluster: 'orders' } }], {}, [jwtFilter])],
      [staticCluster('orders', [up.port]), staticCluster('idp', [jwks.port])],
    );
    side = await startTessera(['sidecar', '--bootstrap', writeBootstrap(dir, 'sidecar', b), '--access-log', 'off'], { dir, name: 'sidecar' });
  });

  after(async () => {
    if (side) await stopChild(side);
    await up?.close();
    await jwks?.close();
    cleanup();
  });

  it('async_fetch: the JWKS is fetched when the listener is built, before any request', async () => {
    await eventually(async () => jwks.hits >= 1, 5000);
    const s = await eventually(async () => {
      const x = await stats();
      return (x['http.main.jwt_authn.jwks_fetch_success'] ?? 0) >= 1 ? x : null;
    }, 5000);
    assert.equal(s['http.main.jwt_authn.jwks_fetch_failed'] ?? 0, 0);
  });

  it('a valid token reaches the upstream with claim headers and without the Authorization header', async () => {
    const token = await sign(keyA, 'a');
    // Client-sent claim/payload headers are dropped before the verified ones are added.
    const body = await ok('/orders/1', token, { 'x-jwt-sub': 'admin', 'x-jwt-payload': 'e30' });
    assert.equal(body.headers['x-jwt-sub'], 'alice');
    assert.equal(body.headers.authorization, undefined);
    assert.equal(Buffer.from(body.headers['x-jwt-payload']!, 'base64url').toString(), Buffer.from(token.split('.')[1]!, 'base64url').toString());
    // The same token again: a verified-token cache hit.
    await ok('/orders/1', token);
    const s = await stats();
    assert.ok((s['http.main.jwt_authn.jwt_cache_hit'] ?? 0) >= 1);
    assert.equal(s['http.main.jwt_authn.allowed'], 2);
    assert.equal(up.requests, accepted);
  });

  it('a path no rule requires a token for passes without one', async () => {
    const r = await request(url('/healthz'));
    assert.equal(r.status, 200);
    accepted++;
  });

  it('a missing token gets 401 "Jwt is missing" with www-authenticate (realm without the query)', async () => {
    const r = await request(url('/orders/2?debug=1'), { headers: { 'x-jwt-sub': 'admin' } });
    assert.equal(r.status, 401);
    assert.equal(r.body, 'Jwt is missing');
    assert.equal(r.headers['www-authenticate'], `Bearer realm="http://127.0.0.1:${port}/orders/2"`);
    assert.equal(up.requests, accepted);
  });

  it('an expired token gets 401 "Jwt verification fails" with error="invalid_token"', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await request(url('/orders/3'), { headers: { authorization: `Bearer ${await sign(keyA, 'a', { iat: now - 7200, exp: now - 3600 })}` } });
    assert.equal(r.status, 401);
    assert.equal(r.body, 'Jwt verification fails');
    assert.equal(r.headers['www-authenticate'], `Bearer realm="http://127.0.0.1:${port}/orders/3", error="invalid_token"`);
    assert.equal(up.requests, accepted);
  });

  it('a gRPC request without a token gets grpc-status 16 (UNAUTHENTICATED)', async () => {
    const r = await request(url('/orders.Orders/Get'), { method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers' }, body: Buffer.alloc(5) });
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], '16');
    assert.equal(decodeURIComponent(String(r.headers['grpc-message'])), 'Jwt is missing');
    assert.equal(up.requests, accepted);
  });

  it('after the JWKS server rotates keys, a token with the new kid triggers a refetch and is accepted', async () => {
    const before = jwks.hits;
    jwks.doc = JSON.stringify({ keys: [keyB.jwk] });
    const body = await ok('/orders/4', await sign(keyB, 'b', { sub: 'bob' }));
    assert.equal(body.headers['x-jwt-sub'], 'bob');
    assert.equal(jwks.hits, before + 1, 'exactly one refetch');
    // The old key is gone from the fetched set: a new token signed with it fails (the unknown-kid cooldown holds).
    const r = await request(url('/orders/5'), { headers: { authorization: `Bearer ${await sign(keyA, 'a')}` } });
    assert.equal(r.status, 401);
    assert.equal(jwks.hits, before + 1, 'no second refetch within the cooldown');
    assert.equal(up.requests, accepted);
  });

  it('with the JWKS server stopped, tokens verifiable with cached keys are still accepted (stale keys serve)', async () => {
    // The 1 s provider fetches the current set (key b) now.
    await ok('/short/1', await sign(keyB, 'b'));
    await jwks.close();
    // Past its cache_duration, the 1 s provider's refetch fails and its stale keys serve a token never seen before.
    await new Promise((r) => setTimeout(r, 1200));
    const body = await ok('/short/2', await sign(keyB, 'b', { sub: 'carol' }));
    assert.equal(body.headers['x-jwt-sub'], 'carol');
    // The 10 min provider's cached keys serve too.
    await ok('/orders/6', await sign(keyB, 'b'));
    const s = await stats();
    assert.ok((s['http.main.jwt_authn.jwks_fetch_failed'] ?? 0) >= 1, JSON.stringify(s));
  });

  it('the upstream saw every accepted request and none of the rejected ones', async () => {
    const s = await stats();
    assert.equal(up.requests, accepted);
    assert.equal(s['http.main.jwt_authn.denied'], 4);
    assert.equal(s['http.main.jwt_authn.allowed'], accepted);
  });
});
