import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatsStore } from '../../../../../src/observability/stats.js';
import { Issues } from '../../../../../src/xds/resources/common.js';
import { validateHttpRbacConfig, type HttpRbacConfig } from '../../../../../src/xds/resources/filters/rbac.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { rbacFilterFactory } from '../../../../../sidecar/filters/http/rbac/config.js';
import { RBAC_DENIED_REPLY } from '../../../../../sidecar/filters/http/rbac/filter.js';
import { httpFilterFactories } from '../../../../../sidecar/filters/index.js';
import { FilterStatus } from '../../../../../sidecar/http/filter.js';
import { httpToGrpcStatus } from '../../../../../sidecar/http/grpc.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { decoded } from '../../../src/xds/resources/fixtures.js';
import { FakeDecoderCallbacks, connInfo } from '../../../../helpers/http-fakes.js';

const NS = 'envoy.filters.http.rbac';
const JWT = 'envoy.filters.http.jwt_authn';

/** An Envoy JSON RBAC config through encode → decode → validate, as the sidecar gets it. */
function config(envoy: object): HttpRbacConfig {
  const issues = new Issues();
  const c = validateHttpRbacConfig(decoded(TypeUrl.HttpRbac, envoy), 'rbac', issues);
  assert.deepEqual(issues.list, []);
  return c;
}

function setup(envoy: object) {
  const stats = new StatsStore();
  const shared = rbacFilterFactory.createShared(config(envoy), stats, 'ingress');
  const run = (prep: (cb: FakeDecoderCallbacks) => void = () => {}, headers: HeaderMap = new HeaderMap()) => {
    const cb = new FakeDecoderCallbacks();
    prep(cb);
    const f = rbacFilterFactory.createFilter(shared, cb);
    const status = f.onRequestHeaders(headers, true);
    return { cb, f, status };
  };
  const stat = (name: string) => stats.snapshot('http.ingress.rbac.')[`http.ingress.rbac.${name}`];
  return { stats, run, stat };
}

const DENY_ADMIN = {
  rules: { action: 'DENY', policies: { 'deny-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } },
};

test('the factory is registered as envoy.filters.http.rbac under the RBAC type URL', () => {
  assert.equal(rbacFilterFactory.name, 'envoy.filters.http.rbac');
  assert.equal(httpFilterFactories().get(TypeUrl.HttpRbac), rbacFilterFactory);
});

test('without rules every request continues and nothing is counted or recorded', () => {
  const { run, stats } = setup({});
  const { cb, status } = run((c) => (c.path = '/admin'));
  assert.equal(status, FilterStatus.Continue);
  assert.equal(cb.replies.length, 0);
  assert.equal(cb.metadata.size, 0);
  assert.deepEqual(Object.values(stats.snapshot('http.ingress.rbac.')).filter((v) => v !== 0), []);
});

test('a denied request gets the 403 RBAC reply, stops, and is counted; the reply object is built once', () => {
  const { run, stat } = setup(DENY_ADMIN);
  const a = run((c) => (c.path = '/admin/users?x=1'));
  assert.equal(a.status, FilterStatus.StopIteration);
  assert.equal(a.cb.replies.length, 1);
  const r = a.cb.replies[0]!.reply;
  assert.equal(r, RBAC_DENIED_REPLY);
  assert.equal(r.status, 403);
  assert.equal(r.code, 'TESSERA_ERR_RBAC_DENIED');
  assert.equal(r.body.toString(), 'RBAC: access denied');
  assert.equal(r.grpcStatus, null, 'gRPC status comes from the 403 mapping');
  assert.equal(httpToGrpcStatus(r.status), 7, 'PERMISSION_DENIED');
  assert.ok(Object.isFrozen(r));
  assert.equal(a.cb.continued, 0);
  assert.deepEqual(a.cb.metadata.get(NS), { enforced_effective_policy_id: 'deny-admin', enforced_engine_result: 'denied' });
  const b = run((c) => (c.path = '/admin'));
  assert.equal(b.cb.replies[0]!.reply, r);
  assert.equal(stat('denied'), 2);
  assert.equal(stat('allowed'), 0);
});

test('an allowed request continues, is counted, and records the result', () => {
  const { run, stat } = setup(DENY_ADMIN);
  const { cb, f, status } = run((c) => (c.path = '/public/admin'));
  assert.equal(status, FilterStatus.Continue);
  assert.equal(cb.replies.length, 0);
  assert.deepEqual(cb.metadata.get(NS), { enforced_engine_result: 'allowed' });
  assert.equal(f.onRequestData(Buffer.from('x'), true), FilterStatus.Continue);
  assert.equal(f.onRequestTrailers(new HeaderMap()), FilterStatus.Continue);
  assert.equal(f.onResponseHeaders(new HeaderMap(), true), FilterStatus.Continue);
  f.onDestroy();
  assert.equal(stat('allowed'), 1);
  assert.equal(stat('denied'), 0);
});

test('ALLOW on header x-team: blue and method GET only', () => {
  const { run, stat } = setup({
    rules: {
      policies: {
        'blue-get': {
          permissions: [{ header: { name: ':method', string_match: { exact: 'GET' } } }],
          principals: [{ header: { name: 'x-team', string_match: { exact: 'blue' } } }],
        },
      },
    },
  });
  const blue = HeaderMap.from([['x-team', 'blue']]);
  assert.equal(run((c) => (c.method = 'GET'), blue).status, FilterStatus.Continue);
  assert.equal(run((c) => (c.method = 'POST'), blue).status, FilterStatus.StopIteration);
  assert.equal(run((c) => (c.method = 'GET'), HeaderMap.from([['x-team', 'red']])).status, FilterStatus.StopIteration);
  assert.equal(run((c) => (c.method = 'GET')).status, FilterStatus.StopIteration);
  assert.deepEqual([stat('allowed'), stat('denied')], [1, 3]);
});

test('shadow rules never block but count and set Envoy metadata keys with their prefix', () => {
  const { run, stat } = setup({
    shadow_rules: { action: 'DENY', policies: { 'dry-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } },
    shadow_rules_stat_prefix: 'istio_dry_run_allow_',
  });
  const denied = run((c) => (c.path = '/admin'));
  assert.equal(denied.status, FilterStatus.Continue);
  assert.equal(denied.cb.replies.length, 0);
  assert.deepEqual(denied.cb.metadata.get(NS), {
    istio_dry_run_allow_shadow_effective_policy_id: 'dry-admin',
    istio_dry_run_allow_shadow_engine_result: 'denied',
  });
  const allowed = run((c) => (c.path = '/ok'));
  assert.equal(allowed.status, FilterStatus.Continue);
  assert.deepEqual(allowed.cb.metadata.get(NS), { istio_dry_run_allow_shadow_engine_result: 'allowed' });
  assert.equal(stat('istio_dry_run_allow_.shadow_denied'), 1);
  assert.equal(stat('istio_dry_run_allow_.shadow_allowed'), 1);
  assert.equal(stat('allowed'), 0, 'no enforced rules: nothing enforced is counted');
});

test('shadow and enforced rules are evaluated independently; rules_stat_prefix names stats and metadata keys', () => {
  const { run, stat } = setup({
    rules: { action: 'ALLOW', policies: { everyone: { permissions: [{ any: true }], principals: [{ any: true }] } } },
    rules_stat_prefix: 'team.',
    shadow_rules: { action: 'ALLOW', policies: { nobody: { permissions: [{ destination_port: 1 }], principals: [{ any: true }] } } },
  });
  const { cb, status } = run();
  assert.equal(status, FilterStatus.Continue);
  assert.deepEqual(cb.metadata.get(NS), {
    shadow_engine_result: 'denied',
    'team.enforced_effective_policy_id': 'everyone',
    'team.enforced_engine_result': 'allowed',
  });
  assert.equal(stat('team.allowed'), 1);
  assert.equal(stat('shadow_denied'), 1);
});

test('LOG always continues, records the matched policy and the access_log_hint', () => {
  const { run, stat } = setup({ rules: { action: 'LOG', policies: { 'log-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } } });
  const hit = run((c) => (c.path = '/admin'));
  assert.equal(hit.status, FilterStatus.Continue);
  assert.deepEqual(hit.cb.metadata.get(NS), { enforced_effective_policy_id: 'log-admin', enforced_engine_result: 'allowed' });
  assert.deepEqual(hit.cb.metadata.get('envoy.common'), { access_log_hint: true });
  const miss = run((c) => (c.path = '/x'));
  assert.equal(miss.status, FilterStatus.Continue);
  assert.deepEqual(miss.cb.metadata.get('envoy.common'), { access_log_hint: false });
  assert.equal(stat('allowed'), 2);
});

test('a JWT claim in jwt_authn metadata is a principal', () => {
  const { run } = setup({
    rules: {
      policies: {
        admins: {
          permissions: [{ any: true }],
          principals: [
            {
              and_ids: {
                ids: [
                  { metadata: { filter: JWT, path: [{ key: 'payload' }, { key: 'iss' }], value: { string_match: { exact: 'https://auth.example.com' } } } },
                  { metadata: { filter: JWT, path: [{ key: 'payload' }, { key: 'roles' }], value: { list_match: { one_of: { string_match: { exact: 'admin' } } } } } },
                ],
              },
            },
          ],
        },
      },
    },
  });
  const withJwt = (payload: object) => (c: FakeDecoderCallbacks) => c.setDynamicMetadata(JWT, 'payload', payload);
  assert.equal(run(withJwt({ iss: 'https://auth.example.com', roles: ['dev', 'admin'] })).status, FilterStatus.Continue);
  assert.equal(run(withJwt({ iss: 'https://auth.example.com', roles: ['dev'] })).status, FilterStatus.StopIteration);
  assert.equal(run(withJwt({ iss: 'https://evil.example.com', roles: ['admin'] })).status, FilterStatus.StopIteration);
  assert.equal(run().status, FilterStatus.StopIteration, 'no JWT metadata');
});

test('remote_ip reads the client after XFF, direct_remote_ip the socket peer; authenticated reads the peer certificate', () => {
  const { run } = setup({
    rules: {
      policies: {
        office: { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: '203.0.113.0', prefix_len: { value: 24 } } }] },
        mesh: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/a/sa/web' } } }] },
      },
    },
  });
  assert.equal(run((c) => (c.downstreamRemoteAddress = '203.0.113.9')).status, FilterStatus.Continue);
  assert.equal(run((c) => (c.connection = connInfo({ directRemoteAddress: '203.0.113.9' }))).status, FilterStatus.StopIteration);
  const peer = connInfo({ secure: true, peerCertificateValidated: true, peerPrincipal: 'spiffe://cluster.local/ns/a/sa/web', peerUriSans: ['spiffe://cluster.local/ns/a/sa/web'] });
  const r = run((c) => (c.connection = peer));
  assert.equal(r.status, FilterStatus.Continue);
  assert.equal(r.cb.metadata.get(NS)!.enforced_effective_policy_id, 'mesh');
});

test('track_per_rule_stats adds per-policy counters resolved at config time', () => {
  const { run, stats } = setup({
    rules: {
      action: 'DENY',
      policies: {
        'deny-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] },
        'deny-debug': { permissions: [{ url_path: { path: { prefix: '/debug' } } }], principals: [{ any: true }] },
      },
    },
    shadow_rules: { action: 'ALLOW', policies: { 'allow-all': { permissions: [{ any: true }], principals: [{ any: true }] } } },
    track_per_rule_stats: true,
  });
  run((c) => (c.path = '/admin'));
  run((c) => (c.path = '/admin'));
  run((c) => (c.path = '/debug'));
  run((c) => (c.path = '/ok'));
  const s = stats.snapshot('http.ingress.rbac.');
  assert.equal(s['http.ingress.rbac.policy.deny-admin.denied'], 2);
  assert.equal(s['http.ingress.rbac.policy.deny-debug.denied'], 1);
  assert.equal(s['http.ingress.rbac.policy.deny-admin.allowed'], 0, 'a DENY policy never allows');
  assert.equal(s['http.ingress.rbac.policy.allow-all.shadow_allowed'], 4);
  assert.equal(s['http.ingress.rbac.denied'], 3);
  assert.equal(s['http.ingress.rbac.allowed'], 1);
  const off = setup(DENY_ADMIN);
  off.run((c) => (c.path = '/admin'));
  assert.deepEqual(Object.keys(off.stats.snapshot('http.ingress.rbac.policy.')), []);
});
