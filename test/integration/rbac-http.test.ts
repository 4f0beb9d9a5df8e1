// envoy.filters.http.rbac in a real sidecar process (static bootstrap, the filter before the router): a DENY
// policy on /admin, an ALLOW policy on `x-team: blue` + GET, shadow rules that never block, gRPC callers getting
// PERMISSION_DENIED, and denied requests never reaching the upstream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootstrap, httpListener, staticCluster, writeBootstrap, type Json } from '../helpers/bootstraps.js';
import { freePorts, request, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';

function rbacFilter(config: Json): Json {
  return { name: 'envoy.filters.http.rbac', typed_config: { '@type': RBAC, ...config } };
}

describe('RBAC HTTP filter through a real sidecar', { timeout: 60000 }, () => {
  const { dir, cleanup } = tempDir('tessera-rbac-');
  let side: ReadyChild;
  let denyUp: Upstream;
  let allowUp: Upstream;
  let denyPort = 0;
  let allowPort = 0;
  let admin = 0;

  const stats = async (): Promise<Record<string, number>> =>
    JSON.parse((await request(`http://127.0.0.1:${admin}/stats?format=json`)).body) as Record<string, number>;

  before(async () => {
    denyUp = await startUpstream('deny-backend');
    allowUp = await startUpstream('allow-backend');
    [denyPort, allowPort, admin] = (await freePorts(3)) as [number, number, number];
    const everything = [{ match: { prefix: '/' }, route: { cluster: 'deny-backend' } }];
    const denyAdmin = rbacFilter({
      rules: {
        action: 'DENY',
        policies: { 'deny-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } },
      },
      // Would deny everything outside /public; shadow rules never enforce.
      shadow_rules: {
        action: 'ALLOW',
        policies: { 'public-only': { permissions: [{ url_path: { path: { prefix: '/public' } } }], principals: [{ any: true }] } },
      },
      track_per_rule_stats: true,
    });
    const blueGet = rbacFilter({
      rules: {
        action: 'ALLOW',
        policies: {
          'blue-get': {
            permissions: [{ header: { name: ':method', string_match: { exact: 'GET' } } }],
            principals: [{ header: { name: 'x-team', string_match: { exact: 'blue' } } }],
          },
        },
      },
    });
    const b = bootstrap(
      'rbac-test',
      admin,
      [
        httpListener('deny', denyPort, everything, {}, [denyAdmin]),
        httpListener('allow', allowPort, [{ match: { prefix: '/' }, route: { cluster: 'allow-backend' } }], {}, [blueGet]),
      ],
      [staticCluster('deny-backend', [denyUp.port]), staticCluster('allow-backend', [allowUp.port])],
    );
    const file = writeBootstrap(dir, 'sidecar', b);
    side = await startTessera(['sidecar', '--bootstrap', file, '--access-log', 'off'], { dir, name: 'sidecar' });
  });

  after(async () => {
    if (side) await stopChild(side);
    await denyUp?.close();
    await allowUp?.close();
    cleanup();
  });

  it('DENY on path prefix /admin: 403 `RBAC: access denied` and the upstream never sees it; /public → 200', async () => {
    const before = denyUp.requests;
    const denied = await request(`http://127.0.0.1:${denyPort}/admin/users?id=7`);
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'RBAC: access denied');
    const deniedPost = await request(`http://127.0.0.1:${denyPort}/admin`, { method: 'POST', body: 'x' });
    assert.equal(deniedPost.status, 403);
    assert.equal(denyUp.requests, before, 'denied requests never reached the upstream');

    const ok = await request(`http://127.0.0.1:${denyPort}/public/page`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-upstream'], 'deny-backend');
    assert.equal((JSON.parse(ok.body) as { path: string }).path, '/public/page');
    const other = await request(`http://127.0.0.1:${denyPort}/reports`);
    assert.equal(other.status, 200, 'shadow rules deny /reports but never enforce');
    assert.equal(denyUp.requests, before + 2);

    const s = await stats();
    assert.equal(s['http.deny.rbac.denied'], 2);
    assert.equal(s['http.deny.rbac.allowed'], 2);
    assert.equal(s['http.deny.rbac.policy.deny-admin.denied'], 2);
    assert.equal(s['http.deny.rbac.shadow_allowed'], 1, '/public/page');
    assert.equal(s['http.deny.rbac.shadow_denied'], 3, '/admin twice and /reports');
    assert.equal(s['http.deny.rbac.policy.public-only.shadow_allowed'], 1);
  });

  it('a denied gRPC request gets grpc-status 7 (PERMISSION_DENIED)', async () => {
    const before = denyUp.requests;
    const r = await request(`http://127.0.0.1:${denyPort}/admin.Service/Call`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc', te: 'trailers' },
      body: Buffer.from([0, 0, 0, 0, 0]),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], '7');
    assert.equal(decodeURIComponent(String(r.headers['grpc-message'])), 'RBAC: access denied');
    assert.equal(denyUp.requests, before);
  });

  it('ALLOW only `x-team: blue` with GET: everything else is 403 and never reaches the upstream', async () => {
    const url = `http://127.0.0.1:${allowPort}/orders`;
    const before = allowUp.requests;
    const ok = await request(url, { headers: { 'x-team': 'blue' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-upstream'], 'allow-backend');
    assert.equal(allowUp.requests, before + 1);

    for (const [method, team] of [['POST', 'blue'], ['GET', 'red'], ['GET', null], ['DELETE', 'blue']] as const) {
      const r = await request(url, { method, headers: team === null ? {} : { 'x-team': team } });
      assert.equal(r.status, 403, `${method} x-team=${team}`);
      assert.equal(r.body, 'RBAC: access denied');
    }
    assert.equal(allowUp.requests, before + 1, 'only the allowed request reached the upstream');
    const s = await stats();
    assert.equal(s['http.allow.rbac.allowed'], 1);
    assert.equal(s['http.allow.rbac.denied'], 4);
  });
});
