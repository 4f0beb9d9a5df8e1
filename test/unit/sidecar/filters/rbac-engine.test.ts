import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatsStore } from '../../../../src/observability/stats.js';
import type {
  CidrRangeConfig,
  RbacAction,
  RbacPermissionConfig,
  RbacPrincipalConfig,
  RbacValueMatcherConfig,
} from '../../../../src/xds/resources/filters/rbac.js';
import type { HeaderMatcherConfig, StringMatchConfig } from '../../../../src/xds/resources/types.js';
import type { DownstreamConnectionInfo } from '../../../../sidecar/http/connection-info.js';
import { HeaderMap } from '../../../../sidecar/http/header-map.js';
import {
  CidrMatcher,
  NO_HEADERS,
  RbacEngine,
  parseIp,
  rbacStatScopes,
  rbacStats,
  statPrefixJoin,
  type RbacRequest,
} from '../../../../sidecar/filters/rbac/engine.js';
import { createNetworkRbac } from '../../../../sidecar/filters/network/rbac.js';
import { connInfo } from '../../../helpers/http-fakes.js';

/** A request view over plain values. */
function req(o: {
  connection?: Partial<DownstreamConnectionInfo>;
  remote?: string;
  method?: string;
  path?: string;
  authority?: string;
  metadata?: Record<string, Record<string, unknown>>;
} = {}): RbacRequest {
  const md = o.metadata ?? {};
  return {
    connection: connInfo(o.connection),
    downstreamRemoteAddress: o.remote ?? '10.0.0.1',
    method: o.method ?? 'GET',
    path: o.path ?? '/',
    authority: o.authority ?? 'svc.local',
    dynamicMetadata: (ns) => md[ns],
  };
}

function engine(action: RbacAction, policies: Record<string, { permissions: RbacPermissionConfig[]; principals: RbacPrincipalConfig[] }>): RbacEngine {
  const names = Object.keys(policies).sort();
  return new RbacEngine({ action, policies: names.map((name) => ({ name, ...policies[name]! })) });
}

const ANY = { kind: 'any' } as const;

/** Does `permission` (with any principal) match? */
function permits(permission: RbacPermissionConfig, r: RbacRequest = req(), h: HeaderMap = NO_HEADERS): boolean {
  return engine('ALLOW', { p: { permissions: [permission], principals: [ANY] } }).match(r, h) !== null;
}

/** Does `principal` (with any permission) match? */
function identifies(principal: RbacPrincipalConfig, r: RbacRequest = req(), h: HeaderMap = NO_HEADERS): boolean {
  return engine('ALLOW', { p: { permissions: [ANY], principals: [principal] } }).match(r, h) !== null;
}

const exact = (value: string, ignoreCase = false): StringMatchConfig => ({ kind: 'exact', value, ignoreCase });
const prefix = (value: string): StringMatchConfig => ({ kind: 'prefix', value, ignoreCase: false });
const header = (name: string, match: HeaderMatcherConfig['match'], invert = false): RbacPermissionConfig => ({ kind: 'header', header: { name, invert, match } });
const cidr = (address: string, prefixLen: number): CidrRangeConfig => ({ address, prefixLen, family: address.includes(':') ? 6 : 4 });
const headers = (o: Record<string, string | string[]>) => {
  const h = new HeaderMap();
  for (const [k, v] of Object.entries(o)) for (const x of Array.isArray(v) ? v : [v]) h.add(k, x);
  return h;
};

test('ALLOW allows iff a policy matches, DENY denies iff one does, LOG always allows', () => {
  const onAdmin = { permissions: [{ kind: 'url_path', path: prefix('/admin') }] as RbacPermissionConfig[], principals: [ANY] };
  const admin = req({ path: '/admin/x' });
  const other = req({ path: '/public' });
  for (const [action, adminAllowed, otherAllowed] of [['ALLOW', true, false], ['DENY', false, true], ['LOG', true, true]] as const) {
    const e = engine(action, { admin: onAdmin });
    assert.equal(e.action, action);
    assert.equal(e.allows(e.match(admin, NO_HEADERS)), adminAllowed, `${action} /admin`);
    assert.equal(e.allows(e.match(other, NO_HEADERS)), otherAllowed, `${action} /public`);
    assert.equal(e.match(admin, NO_HEADERS)?.name, 'admin');
    assert.equal(e.match(other, NO_HEADERS), null);
  }
});

test('no policies: ALLOW denies everything, DENY and LOG allow everything', () => {
  for (const [action, allowed] of [['ALLOW', false], ['DENY', true], ['LOG', true]] as const) {
    const e = engine(action, {});
    assert.equal(e.allows(e.match(req(), NO_HEADERS)), allowed, action);
  }
});

test('the effective policy is the first matching one by name, with its index', () => {
  const e = engine('DENY', {
    zeta: { permissions: [ANY], principals: [ANY] },
    alpha: { permissions: [{ kind: 'destination_port', port: 1 }], principals: [ANY] },
    beta: { permissions: [ANY], principals: [ANY] },
  });
  assert.deepEqual(e.policies.map((p) => [p.name, p.index]), [['alpha', 0], ['beta', 1], ['zeta', 2]]);
  assert.deepEqual(e.match(req(), NO_HEADERS), { name: 'beta', index: 1 });
  assert.equal(e.match(req({ connection: { localPort: 1 } }), NO_HEADERS)?.name, 'alpha');
});

test('a policy needs any permission AND any principal', () => {
  const e = engine('ALLOW', {
    p: {
      permissions: [{ kind: 'destination_port', port: 80 }, { kind: 'destination_port', port: 8080 }],
      principals: [{ kind: 'remote_ip', cidr: cidr('10.0.0.0', 8) }, { kind: 'remote_ip', cidr: cidr('192.168.0.0', 16) }],
    },
  });
  assert.notEqual(e.match(req({ connection: { localPort: 8080 }, remote: '192.168.1.1' }), NO_HEADERS), null);
  assert.notEqual(e.match(req({ connection: { localPort: 80 }, remote: '10.9.9.9' }), NO_HEADERS), null);
  assert.equal(e.match(req({ connection: { localPort: 81 }, remote: '10.9.9.9' }), NO_HEADERS), null, 'permission fails');
  assert.equal(e.match(req({ connection: { localPort: 80 }, remote: '11.0.0.1' }), NO_HEADERS), null, 'principal fails');
});

test('header permissions read the header map; pseudo-headers read the request line and the connection', () => {
  const h = headers({ 'x-team': 'blue', 'x-multi': ['a', 'b'], 'x-n': '42' });
  assert.equal(permits(header('x-team', { kind: 'string', string: exact('blue') }), req(), h), true);
  assert.equal(permits(header('x-team', { kind: 'string', string: exact('red') }), req(), h), false);
  assert.equal(permits(header('x-team', { kind: 'string', string: exact('red') }, true), req(), h), true, 'invert');
  assert.equal(permits(header('x-multi', { kind: 'string', string: exact('a,b') }), req(), h), true, 'values joined with ","');
  assert.equal(permits(header('x-n', { kind: 'range', start: 40, end: 43 }), req(), h), true);
  assert.equal(permits(header('x-absent', { kind: 'present', present: true }), req(), h), false);
  assert.equal(permits(header('x-absent', { kind: 'present', present: false }), req(), h), true);
  const r = req({ method: 'POST', path: '/a?b=1', authority: 'api.example.com' });
  assert.equal(permits(header(':method', { kind: 'string', string: exact('POST') }), r), true);
  assert.equal(permits(header(':method', { kind: 'string', string: exact('GET') }), r), false);
  assert.equal(permits(header(':path', { kind: 'string', string: exact('/a?b=1') }), r), true, ':path keeps the query');
  assert.equal(permits(header(':authority', { kind: 'string', string: { kind: 'suffix', value: '.example.com', ignoreCase: false } }), r), true);
  assert.equal(permits(header('host', { kind: 'string', string: exact('api.example.com') }), r), true);
  const https = { kind: 'string', string: exact('https') } as const;
  assert.equal(permits(header(':scheme', https), req({ connection: { secure: true } })), true);
  assert.equal(permits(header(':scheme', https), req({ connection: { secure: false } })), false);
  assert.equal(permits(header(':scheme', { kind: 'string', string: exact('http') }), req()), true);
});

test('url_path matches the path without query string or fragment', () => {
  const p: RbacPermissionConfig = { kind: 'url_path', path: exact('/admin/users') };
  assert.equal(permits(p, req({ path: '/admin/users' })), true);
  assert.equal(permits(p, req({ path: '/admin/users?id=1' })), true);
  assert.equal(permits(p, req({ path: '/admin/users#frag' })), true);
  assert.equal(permits(p, req({ path: '/admin/users/1' })), false);
  assert.equal(permits({ kind: 'url_path', path: { kind: 'regex', regex: '/v[0-9]+/.*' } }, req({ path: '/v2/x?q' })), true);
  assert.equal(identifies({ kind: 'url_path', path: prefix('/pub') }, req({ path: '/public' })), true);
});

test('destination port, port range, destination IP and SNI read the connection', () => {
  const c = req({ connection: { localPort: 8443, localAddress: '10.1.2.3', requestedServerName: 'api.example.com' } });
  assert.equal(permits({ kind: 'destination_port', port: 8443 }, c), true);
  assert.equal(permits({ kind: 'destination_port', port: 443 }, c), false);
  assert.equal(permits({ kind: 'destination_port_range', start: 8000, end: 8443 }, c), false, 'end is exclusive');
  assert.equal(permits({ kind: 'destination_port_range', start: 8443, end: 8444 }, c), true, 'start is inclusive');
  assert.equal(permits({ kind: 'destination_ip', cidr: cidr('10.1.0.0', 16) }, c), true);
  assert.equal(permits({ kind: 'destination_ip', cidr: cidr('10.2.0.0', 16) }, c), false);
  assert.equal(permits({ kind: 'requested_server_name', name: exact('API.example.com', true) }, c), true);
  assert.equal(permits({ kind: 'requested_server_name', name: prefix('web.') }, c), false);
  assert.equal(permits({ kind: 'requested_server_name', name: exact('') }, req()), true, 'no SNI is the empty name');
});

test('and / or / not nest for permissions and principals', () => {
  const p80: RbacPermissionConfig = { kind: 'destination_port', port: 80 };
  const get: RbacPermissionConfig = header(':method', { kind: 'string', string: exact('GET') });
  const admin: RbacPermissionConfig = { kind: 'url_path', path: prefix('/admin') };
  // (port 80 AND GET) AND NOT (/admin) — or port 9000
  const perm: RbacPermissionConfig = {
    kind: 'or',
    rules: [{ kind: 'and', rules: [p80, get, { kind: 'not', rule: admin }] }, { kind: 'destination_port', port: 9000 }],
  };
  const at = (port: number, method: string, path: string) => permits(perm, req({ connection: { localPort: port }, method, path }));
  assert.equal(at(80, 'GET', '/x'), true);
  assert.equal(at(80, 'GET', '/admin'), false);
  assert.equal(at(80, 'POST', '/x'), false);
  assert.equal(at(81, 'GET', '/x'), false);
  assert.equal(at(9000, 'POST', '/admin'), true);
  assert.equal(permits({ kind: 'not', rule: { kind: 'not', rule: p80 } }, req({ connection: { localPort: 80 } })), true);

  const tenNet: RbacPrincipalConfig = { kind: 'direct_remote_ip', cidr: cidr('10.0.0.0', 8) };
  const blue: RbacPrincipalConfig = { kind: 'header', header: { name: 'x-team', invert: false, match: { kind: 'string', string: exact('blue') } } };
  const id: RbacPrincipalConfig = { kind: 'and', ids: [tenNet, { kind: 'or', ids: [blue, { kind: 'not', id: { kind: 'any' } }] }] };
  assert.equal(identifies(id, req({ connection: { directRemoteAddress: '10.1.1.1' } }), headers({ 'x-team': 'blue' })), true);
  assert.equal(identifies(id, req({ connection: { directRemoteAddress: '10.1.1.1' } }), headers({ 'x-team': 'red' })), false);
  assert.equal(identifies(id, req({ connection: { directRemoteAddress: '11.1.1.1' } }), headers({ 'x-team': 'blue' })), false);
});

test('authenticated: only validated peers; principal_name against URI SANs, else the subject; plaintext never', () => {
  const spiffe = 'spiffe://cluster.local/ns/shop/sa/web';
  const mtls = { secure: true, peerCertificateValidated: true, peerPrincipal: spiffe, peerUriSans: ['spiffe://other/x', spiffe], peerSubject: 'CN=web,O=shop' };
  const named = (m: StringMatchConfig): RbacPrincipalConfig => ({ kind: 'authenticated', principalName: m });
  const anyPeer: RbacPrincipalConfig = { kind: 'authenticated', principalName: null };
  assert.equal(identifies(anyPeer, req({ connection: mtls })), true);
  assert.equal(identifies(anyPeer, req({ connection: { secure: true, peerCertificateValidated: false } })), false, 'TLS without a verified client certificate');
  assert.equal(identifies(anyPeer, req()), false, 'plaintext');
  assert.equal(identifies(named(exact(spiffe)), req({ connection: mtls })), true, 'any URI SAN');
  assert.equal(identifies(named(prefix('spiffe://cluster.local/ns/shop/')), req({ connection: mtls })), true);
  assert.equal(identifies(named(prefix('spiffe://cluster.local/ns/bank/')), req({ connection: mtls })), false);
  assert.equal(identifies(named(exact('CN=web,O=shop')), req({ connection: mtls })), false, 'a cert with URI SANs is not matched by subject');
  const noSan = { secure: true, peerCertificateValidated: true, peerSubject: 'CN=legacy,O=corp' };
  assert.equal(identifies(named(exact('CN=legacy,O=corp')), req({ connection: noSan })), true, 'no URI SAN: the subject');
  assert.equal(identifies(named(exact('')), req()), false, 'plaintext never matches, even an empty name');
  assert.equal(identifies(named(exact(spiffe)), req({ connection: { ...mtls, peerCertificateValidated: false } })), false);
});

test('source_ip / direct_remote_ip read the socket peer, remote_ip the client after XFF', () => {
  const r = req({ connection: { directRemoteAddress: '10.0.0.5' }, remote: '203.0.113.7' });
  const net = (kind: 'source_ip' | 'direct_remote_ip' | 'remote_ip', a: string, l: number): RbacPrincipalConfig => ({ kind, cidr: cidr(a, l) });
  assert.equal(identifies(net('source_ip', '10.0.0.0', 24), r), true);
  assert.equal(identifies(net('direct_remote_ip', '10.0.0.0', 24), r), true);
  assert.equal(identifies(net('remote_ip', '10.0.0.0', 24), r), false);
  assert.equal(identifies(net('remote_ip', '203.0.113.0', 24), r), true);
  assert.equal(identifies(net('direct_remote_ip', '203.0.113.0', 24), r), false);
});

test('IPv4 CIDR edges: /0, /32, host bits in the prefix, boundaries, junk', () => {
  const m = (a: string, l: number) => new CidrMatcher(cidr(a, l));
  assert.equal(m('0.0.0.0', 0).match('255.255.255.255'), true);
  assert.equal(m('0.0.0.0', 0).match('::1'), false, 'an IPv4 range never holds IPv6 addresses');
  assert.equal(m('10.0.0.1', 32).match('10.0.0.1'), true);
  assert.equal(m('10.0.0.1', 32).match('10.0.0.2'), false);
  assert.equal(m('10.1.2.3', 8).match('10.255.0.0'), true, 'host bits of the prefix are dropped');
  assert.equal(m('192.168.1.0', 23).match('192.168.0.255'), true);
  assert.equal(m('192.168.1.0', 23).match('192.168.2.0'), false);
  assert.equal(m('128.0.0.0', 1).match('127.255.255.255'), false);
  assert.equal(m('128.0.0.0', 1).match('255.0.0.1'), true);
  assert.equal(m('255.255.255.255', 31).match('255.255.255.254'), true);
  for (const bad of ['', 'not-an-ip', '10.0.0', '10.0.0.256', '10.0.0.1.2', '1..2.3', '10.0.0.1 ']) assert.equal(m('0.0.0.0', 0).match(bad), false, bad);
});

test('IPv6 CIDR edges: /0, /128, word boundaries, compression, zones, mapped IPv4', () => {
  const m = (a: string, l: number) => new CidrMatcher(cidr(a, l));
  assert.equal(m('::', 0).match('2001:db8::1'), true);
  assert.equal(m('::', 0).match('10.0.0.1'), false, 'an IPv6 range never holds IPv4 addresses');
  assert.equal(m('2001:db8::1', 128).match('2001:db8:0:0:0:0:0:1'), true);
  assert.equal(m('2001:db8::1', 128).match('2001:db8::2'), false);
  assert.equal(m('2001:db8::', 32).match('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'), true);
  assert.equal(m('2001:db8::', 32).match('2001:db9::'), false);
  assert.equal(m('2001:db8:0:8000::', 33).match('2001:db8:0:ffff::'), true, 'prefix inside the second group');
  assert.equal(m('2001:db8:8000::', 33).match('2001:db8:7fff::'), false);
  assert.equal(m('fe80::', 64).match('fe80::1%eth0'), true, 'zone ignored');
  assert.equal(m('fe80::', 10).match('FEBF::1'), true, 'upper-case hex');
  assert.equal(m('::1', 128).match('::1'), true);
  assert.equal(m('1::', 16).match('1::'), true);
  assert.equal(m('10.0.0.0', 8).match('::ffff:10.1.2.3'), true, 'an IPv4-mapped address is the IPv4 address');
  assert.equal(m('::ffff:10.0.0.0', 104).match('10.1.2.3'), true, 'an IPv4-mapped range is the IPv4 range');
  assert.equal(m('64:ff9b::', 96).match('64:ff9b::10.0.0.1'), true, 'embedded IPv4 notation');
  for (const bad of ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', ':1::', '1:', 'g::1', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4']) {
    assert.equal(m('::', 0).match(bad), false, bad);
  }
});

test('parseIp gives 32-bit words and the family', () => {
  const out = new Uint32Array(4);
  assert.equal(parseIp('192.0.2.1', out, false), 4);
  assert.equal(out[0], 0xc0000201);
  assert.equal(parseIp('2001:db8::ff00:42:8329', out, false), 6);
  assert.deepEqual([...out], [0x20010db8, 0, 0xff00, 0x428329]);
  assert.equal(parseIp('::ffff:192.0.2.1', out, false), 6);
  assert.equal(parseIp('::ffff:192.0.2.1', out, true), 4);
  assert.equal(out[0], 0xc0000201);
  assert.equal(parseIp('::', out, false), 6);
  assert.deepEqual([...out], [0, 0, 0, 0]);
  assert.equal(parseIp('%eth0', out, false), 0);
});

test('metadata matchers walk dynamic metadata (e.g. a JWT payload) with Envoy value semantics', () => {
  const jwt = 'envoy.filters.http.jwt_authn';
  const r = req({
    metadata: {
      [jwt]: { payload: { iss: 'https://issuer', sub: 'alice', admin: true, level: 3, groups: ['dev', 'ops'], nothing: null, nested: { team: 'blue' } } },
    },
  });
  const md = (path: string[], value: RbacValueMatcherConfig, invert = false, filter = jwt): RbacPrincipalConfig => ({
    kind: 'metadata',
    metadata: { filter, path, value, invert },
  });
  const str = (s: StringMatchConfig): RbacValueMatcherConfig => ({ kind: 'string', string: s });
  assert.equal(identifies(md(['payload', 'sub'], str(exact('alice'))), r), true);
  assert.equal(identifies(md(['payload', 'sub'], str(exact('bob'))), r), false);
  assert.equal(identifies(md(['payload', 'sub'], str(exact('bob')), true), r), true, 'invert');
  assert.equal(identifies(md(['payload', 'nested', 'team'], str(exact('blue'))), r), true);
  assert.equal(identifies(md(['payload', 'admin'], { kind: 'bool', value: true }), r), true);
  assert.equal(identifies(md(['payload', 'admin'], { kind: 'bool', value: false }), r), false);
  assert.equal(identifies(md(['payload', 'sub'], { kind: 'bool', value: true }), r), false, 'type mismatch');
  assert.equal(identifies(md(['payload', 'level'], { kind: 'double_exact', value: 3 }), r), true);
  assert.equal(identifies(md(['payload', 'level'], { kind: 'double_exact', value: 4 }), r), false);
  assert.equal(identifies(md(['payload', 'level'], { kind: 'double_range', start: 1, end: 3 }), r), false, 'range end exclusive');
  assert.equal(identifies(md(['payload', 'level'], { kind: 'double_range', start: 3, end: 4 }), r), true);
  assert.equal(identifies(md(['payload', 'groups'], { kind: 'list_one_of', oneOf: str(exact('ops')) }), r), true);
  assert.equal(identifies(md(['payload', 'groups'], { kind: 'list_one_of', oneOf: str(exact('sec')) }), r), false);
  assert.equal(identifies(md(['payload', 'sub'], { kind: 'list_one_of', oneOf: str(exact('alice')) }), r), false, 'not a list');
  assert.equal(identifies(md(['payload', 'nothing'], { kind: 'null' }), r), true);
  assert.equal(identifies(md(['payload', 'missing'], { kind: 'null' }), r), false, 'absent is not null');
  assert.equal(identifies(md(['payload', 'nothing'], { kind: 'present', present: true }), r), true, 'null is present');
  assert.equal(identifies(md(['payload', 'missing'], { kind: 'present', present: true }), r), false);
  assert.equal(identifies(md(['payload', 'missing'], { kind: 'present', present: true }, true), r), true, 'absence via invert');
  assert.equal(identifies(md(['payload', 'missing'], { kind: 'present', present: false }), r), false, 'present_match false matches nothing (Envoy)');
  assert.equal(identifies(md(['payload', 'sub', 'x'], { kind: 'present', present: true }), r), false, 'walking into a string');
  assert.equal(identifies(md(['payload', 'groups', '0'], { kind: 'present', present: true }), r), false, 'lists are not walked');
  assert.equal(identifies(md(['payload', 'constructor'], { kind: 'present', present: true }), r), false, 'own keys only');
  assert.equal(identifies(md(['payload'], { kind: 'present', present: true }, false, 'other.namespace'), r), false);
  assert.equal(identifies(md(['payload', 'sub'], { kind: 'or', matchers: [str(exact('bob')), str(prefix('al'))] }), r), true);
  assert.equal(permits({ kind: 'metadata', metadata: { filter: jwt, path: ['payload', 'sub'], value: str(exact('alice')), invert: false } }, r), true);
});

test("stat names follow Envoy's statPrefixJoin", () => {
  assert.equal(statPrefixJoin('', 'a'), 'a');
  assert.equal(statPrefixJoin('x.', 'a'), 'x.a');
  assert.equal(statPrefixJoin('x', 'a'), 'x.a');
  const names = (prefix: string, rules: string, shadow: string) => {
    const store = new StatsStore();
    const s = rbacStats(store, rbacStatScopes(prefix, rules, shadow));
    return [s.allowed.name, s.denied.name, s.shadow_allowed.name, s.shadow_denied.name];
  };
  assert.deepEqual(names('http.ingress.', '', ''), ['http.ingress.rbac.allowed', 'http.ingress.rbac.denied', 'http.ingress.rbac.shadow_allowed', 'http.ingress.rbac.shadow_denied']);
  assert.deepEqual(names('http.ingress.', 'team.', 'dry_run_'), [
    'http.ingress.rbac.team.allowed', 'http.ingress.rbac.team.denied', 'http.ingress.rbac.dry_run_.shadow_allowed', 'http.ingress.rbac.dry_run_.shadow_denied',
  ]);
  assert.deepEqual(names('tcp_in', '', ''), ['tcp_in.rbac.allowed', 'tcp_in.rbac.denied', 'tcp_in.rbac.shadow_allowed', 'tcp_in.rbac.shadow_denied']);
});

test('network RBAC: one decision per connection from connection facts, Envoy\'s <stat_prefix>.rbac.* counters', () => {
  const store = new StatsStore();
  const rbac = createNetworkRbac(
    {
      statPrefix: 'tcp_db',
      rules: {
        action: 'ALLOW',
        policies: [
          {
            name: 'mesh-clients',
            permissions: [{ kind: 'destination_port', port: 5432 }],
            principals: [{ kind: 'authenticated', principalName: prefix('spiffe://cluster.local/ns/shop/') }],
          },
          { name: 'ops-net', permissions: [{ kind: 'any' }], principals: [{ kind: 'remote_ip', cidr: cidr('10.99.0.0', 16) }] },
        ],
      },
      shadowRules: { action: 'DENY', policies: [{ name: 'no-sni', permissions: [{ kind: 'requested_server_name', name: exact('') }], principals: [ANY] }] },
      shadowRulesStatPrefix: 'dry_',
      enforcementType: 'ONE_TIME_ON_FIRST_BYTE',
    },
    store,
  );
  const shop = connInfo({
    localPort: 5432, secure: true, peerCertificateValidated: true, requestedServerName: 'db',
    peerPrincipal: 'spiffe://cluster.local/ns/shop/sa/api', peerUriSans: ['spiffe://cluster.local/ns/shop/sa/api'],
  });
  assert.equal(rbac.check(shop), true);
  assert.equal(rbac.check({ ...shop, localPort: 5433 }), false, 'wrong port');
  assert.equal(rbac.check(connInfo({ localPort: 5432 })), false, 'plaintext peer');
  assert.equal(rbac.check(connInfo({ directRemoteAddress: '10.99.3.4' })), true, 'remote_ip at L4 is the socket peer');
  assert.deepEqual(store.snapshot('tcp_db.'), {
    'tcp_db.rbac.allowed': 2,
    'tcp_db.rbac.denied': 2,
    'tcp_db.rbac.dry_.shadow_allowed': 2,
    'tcp_db.rbac.dry_.shadow_denied': 2,
  });
  assert.equal(rbac.stats.allowed.name, 'tcp_db.rbac.allowed');
});

test('network RBAC without rules allows and counts nothing; a scope prefix goes in front of Envoy\'s names', () => {
  const store = new StatsStore();
  const none = createNetworkRbac({ statPrefix: 'x', rules: null, shadowRules: null, shadowRulesStatPrefix: '', enforcementType: 'CONTINUOUS' }, store);
  assert.equal(none.check(connInfo()), true);
  assert.deepEqual(Object.values(store.snapshot()).filter((v) => v !== 0), []);
  const denyAll = createNetworkRbac(
    { statPrefix: 'y.', rules: { action: 'ALLOW', policies: [] }, shadowRules: null, shadowRulesStatPrefix: '', enforcementType: 'ONE_TIME_ON_FIRST_BYTE' },
    store,
    'listener.main.',
  );
  assert.equal(denyAll.check(connInfo()), false);
  assert.equal(store.snapshot()['listener.main.y.rbac.denied'], 1);
});
