import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Issues } from '../../../../../../src/xds/resources/common.js';
import '../../../../../../src/xds/resources/filters/all.js';
import { httpFilterConfigValidator } from '../../../../../../src/xds/resources/filters/index.js';
import {
  validateHttpRbacConfig,
  validateNetworkRbacConfig,
  type HttpRbacConfig,
  type NetworkRbacConfig,
} from '../../../../../../src/xds/resources/filters/rbac.js';
import { validateListener } from '../../../../../../src/xds/resources/listener.js';
import { TypeUrl } from '../../../../../../src/xds/type-urls.js';
import { FILTER_CONFIG_PATH, ROUTER, decoded, filterConfigHarness, hcm, listener } from '../fixtures.js';

const P = FILTER_CONFIG_PATH;
const { valid, hasError } = filterConfigHarness<HttpRbacConfig>(TypeUrl.HttpRbac);

function validateNetwork(obj: object): { value: NetworkRbacConfig; errors: string[] } {
  const issues = new Issues();
  const v = validateNetworkRbacConfig(decoded(TypeUrl.NetworkRbac, obj), 'filters[0].typed_config', issues);
  return { value: v, errors: issues.list };
}

/** A one-policy RBAC with `permission` and `principal`. */
function rules(permission: object, principal: object = { any: true }, action = 'ALLOW'): object {
  return { rules: { action, policies: { p: { permissions: [permission], principals: [principal] } } } };
}

const STRING_PREFIX = (value: string) => ({ kind: 'prefix', value, ignoreCase: false });

test('all.js registers the RBAC validator under the HTTP RBAC type URL (RBACPerRoute stays unregistered)', () => {
  assert.equal(httpFilterConfigValidator(TypeUrl.HttpRbac), validateHttpRbacConfig);
  assert.equal(httpFilterConfigValidator(TypeUrl.HttpRbacPerRoute), undefined);
});

test('no rules: no enforcement; rules without policies are kept (deny-all for ALLOW)', () => {
  const none = valid({});
  assert.deepEqual(none, { rules: null, shadowRules: null, rulesStatPrefix: '', shadowRulesStatPrefix: '', trackPerRuleStats: false });
  assert.ok(Object.isFrozen(none));
  assert.deepEqual(valid({ rules: {} }).rules, { action: 'ALLOW', policies: [] });
  assert.deepEqual(valid({ rules: { action: 'DENY' } }).rules, { action: 'DENY', policies: [] });
});

test('a full config becomes the frozen config: policies sorted by name, every permission and principal kind', () => {
  const c = valid({
    rules: {
      action: 'DENY',
      policies: {
        'z-last': { permissions: [{ any: true }], principals: [{ any: true }] },
        admin: {
          permissions: [
            { header: { name: ':method', string_match: { exact: 'POST' } } },
            { url_path: { path: { prefix: '/admin' } } },
            { destination_ip: { address_prefix: '10.1.0.0', prefix_len: { value: 16 } } },
            { destination_port: 8443 },
            { destination_port_range: { start: 9000, end: 9100 } },
            { requested_server_name: { suffix: '.example.com' } },
            { metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'payload' }, { key: 'iss' }], value: { string_match: { exact: 'issuer' } } } },
            { and_rules: { rules: [{ any: true }, { not_rule: { destination_port: 80 } }] } },
            { or_rules: { rules: [{ destination_port: 1 }] } },
          ],
          principals: [
            { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/a/sa/b' } } },
            { authenticated: {} },
            { source_ip: { address_prefix: '192.168.0.0', prefix_len: { value: 24 } } },
            { direct_remote_ip: { address_prefix: '2001:db8::', prefix_len: { value: 32 } } },
            { remote_ip: { address_prefix: '10.0.0.1' } },
            { header: { name: 'x-team', exact_match: 'blue' } },
            { url_path: { path: { exact: '/x' } } },
            { metadata: { filter: 'f', path: [{ key: 'admin' }], value: { bool_match: true }, invert: true } },
            { and_ids: { ids: [{ any: true }] } },
            { or_ids: { ids: [{ any: true }, { not_id: { any: true } }] } },
          ],
        },
      },
    },
    rules_stat_prefix: 'enforced_',
    shadow_rules: { action: 'LOG', policies: { s: { permissions: [{ any: true }], principals: [{ any: true }] } } },
    shadow_rules_stat_prefix: 'dry_run_',
    track_per_rule_stats: true,
  });
  assert.equal(c.rulesStatPrefix, 'enforced_');
  assert.equal(c.shadowRulesStatPrefix, 'dry_run_');
  assert.equal(c.trackPerRuleStats, true);
  assert.deepEqual(c.shadowRules, {
    action: 'LOG',
    policies: [{ name: 's', permissions: [{ kind: 'any' }], principals: [{ kind: 'any' }] }],
  });
  const r = c.rules!;
  assert.equal(r.action, 'DENY');
  assert.deepEqual(r.policies.map((p) => p.name), ['admin', 'z-last']);
  const admin = r.policies[0]!;
  assert.deepEqual(admin.permissions, [
    { kind: 'header', header: { name: ':method', invert: false, match: { kind: 'string', string: { kind: 'exact', value: 'POST', ignoreCase: false } } } },
    { kind: 'url_path', path: STRING_PREFIX('/admin') },
    { kind: 'destination_ip', cidr: { address: '10.1.0.0', prefixLen: 16, family: 4 } },
    { kind: 'destination_port', port: 8443 },
    { kind: 'destination_port_range', start: 9000, end: 9100 },
    { kind: 'requested_server_name', name: { kind: 'suffix', value: '.example.com', ignoreCase: false } },
    {
      kind: 'metadata',
      metadata: { filter: 'envoy.filters.http.jwt_authn', path: ['payload', 'iss'], value: { kind: 'string', string: { kind: 'exact', value: 'issuer', ignoreCase: false } }, invert: false },
    },
    { kind: 'and', rules: [{ kind: 'any' }, { kind: 'not', rule: { kind: 'destination_port', port: 80 } }] },
    { kind: 'or', rules: [{ kind: 'destination_port', port: 1 }] },
  ]);
  assert.deepEqual(admin.principals, [
    { kind: 'authenticated', principalName: { kind: 'exact', value: 'spiffe://cluster.local/ns/a/sa/b', ignoreCase: false } },
    { kind: 'authenticated', principalName: null },
    { kind: 'source_ip', cidr: { address: '192.168.0.0', prefixLen: 24, family: 4 } },
    { kind: 'direct_remote_ip', cidr: { address: '2001:db8::', prefixLen: 32, family: 6 } },
    { kind: 'remote_ip', cidr: { address: '10.0.0.1', prefixLen: 0, family: 4 } },
    { kind: 'header', header: { name: 'x-team', invert: false, match: { kind: 'string', string: { kind: 'exact', value: 'blue', ignoreCase: false } } } },
    { kind: 'url_path', path: { kind: 'exact', value: '/x', ignoreCase: false } },
    { kind: 'metadata', metadata: { filter: 'f', path: ['admin'], value: { kind: 'bool', value: true }, invert: true } },
    { kind: 'and', ids: [{ kind: 'any' }] },
    { kind: 'or', ids: [{ kind: 'any' }, { kind: 'not', id: { kind: 'any' } }] },
  ]);
  assert.ok(Object.isFrozen(admin.principals[0]) && Object.isFrozen(r.policies) && Object.isFrozen(admin.permissions[7]));
});

test('every value matcher kind is read', () => {
  const value = (v: object) => {
    const c = valid(rules({ metadata: { filter: 'f', path: [{ key: 'k' }], value: v } }));
    const p = c.rules!.policies[0]!.permissions[0]!;
    assert.equal(p.kind, 'metadata');
    return p.kind === 'metadata' ? p.metadata.value : null;
  };
  assert.deepEqual(value({ null_match: {} }), { kind: 'null' });
  assert.deepEqual(value({ double_match: { exact: 0 } }), { kind: 'double_exact', value: 0 });
  assert.deepEqual(value({ double_match: { range: { start: 1.5, end: 3 } } }), { kind: 'double_range', start: 1.5, end: 3 });
  assert.deepEqual(value({ bool_match: false }), { kind: 'bool', value: false });
  assert.deepEqual(value({ present_match: true }), { kind: 'present', present: true });
  assert.deepEqual(value({ list_match: { one_of: { string_match: { prefix: 'adm' } } } }), { kind: 'list_one_of', oneOf: { kind: 'string', string: STRING_PREFIX('adm') } });
  assert.deepEqual(value({ or_match: { value_matchers: [{ bool_match: true }, { present_match: true }] } }), {
    kind: 'or',
    matchers: [{ kind: 'bool', value: true }, { kind: 'present', present: true }],
  });
});

test('matcher, shadow_matcher, condition, checked_condition, audit_logging_options and unknown kinds are NACKed with their path', () => {
  const tree = { matcher_list: { matchers: [] } };
  hasError({ matcher: tree }, 'matcher: not supported by Tessera');
  hasError({ shadow_matcher: tree }, 'shadow_matcher: not supported by Tessera');
  const withPolicy = (extra: object) => ({ rules: { policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], ...extra } } } });
  hasError(withPolicy({ condition: { const_expr: { bool_value: true } } }), 'rules.policies["p"].condition: not supported by Tessera');
  hasError(withPolicy({ checked_condition: { expr: { const_expr: { bool_value: true } } } }), 'rules.policies["p"].checked_condition: not supported by Tessera');
  hasError({ rules: { audit_logging_options: { audit_condition: 'ON_DENY' } } }, 'rules.audit_logging_options: not supported by Tessera');
  hasError({ shadow_rules: { audit_logging_options: { audit_condition: 'ON_DENY' } } }, 'shadow_rules.audit_logging_options: not supported by Tessera');
  const ext = { name: 'x', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Empty' } };
  hasError(rules({ matcher: ext }), 'rules.policies["p"].permissions[0].matcher: not supported by Tessera');
  hasError(rules({ uri_template: ext }), 'rules.policies["p"].permissions[0].uri_template: not supported by Tessera');
  hasError(rules({ any: true }, { filter_state: { key: 'k', string_match: { exact: 'v' } } }), 'rules.policies["p"].principals[0].filter_state: not supported by Tessera');
  hasError(rules({ not_rule: { matcher: ext } }), 'rules.policies["p"].permissions[0].not_rule.matcher: not supported by Tessera');
});

test('structural errors are NACKed with their path', () => {
  const pp = 'rules.policies["p"]';
  hasError({ rules: { policies: { p: { permissions: [{ any: true }] } } } }, `${pp}.principals: at least one is required`);
  hasError({ rules: { policies: { p: { principals: [{ any: true }] } } } }, `${pp}.permissions: at least one is required`);
  hasError(rules({}), `${pp}.permissions[0]: one of any, header, url_path, destination_ip, destination_port, destination_port_range, metadata, requested_server_name, and_rules, or_rules, not_rule is required`);
  hasError(rules({ any: true }, {}), `${pp}.principals[0]: one of any, authenticated, source_ip, direct_remote_ip, remote_ip, header, url_path, metadata, and_ids, or_ids, not_id is required`);
  hasError(rules({ any: false }), `${pp}.permissions[0].any: must be true`);
  hasError(rules({ and_rules: {} }), `${pp}.permissions[0].and_rules.rules: at least one is required`);
  hasError(rules({ any: true }, { or_ids: {} }), `${pp}.principals[0].or_ids.ids: at least one is required`);
  hasError(rules({ destination_port: 70000 }), `${pp}.permissions[0].destination_port: must be in [0, 65535], got 70000`);
  hasError(rules({ destination_port_range: { start: 10, end: 10 } }), `${pp}.permissions[0].destination_port_range: range start 10 must be less than range end 10`);
  hasError(rules({ destination_port_range: { start: -1, end: 10 } }), `${pp}.permissions[0].destination_port_range.start: range start -1 is out of bounds`);
  hasError(rules({ destination_port_range: { start: 1, end: 70000 } }), `${pp}.permissions[0].destination_port_range.end: range end 70000 is out of bounds`);
  hasError(rules({ url_path: {} }), `${pp}.permissions[0].url_path.path: required`);
  hasError(rules({ url_path: { path: { prefix: '' } } }), `${pp}.permissions[0].url_path.path.prefix: must not be empty`);
  hasError(rules({ header: { exact_match: 'x' } }), `${pp}.permissions[0].header.name: required`);
  hasError(rules({ requested_server_name: { safe_regex: { regex: '(?!x)' } } }), `${pp}.permissions[0].requested_server_name.safe_regex.regex: invalid regex "(?!x)": look-around is not RE2 syntax`);
  hasError(rules({ metadata: { path: [{ key: 'a' }], value: { present_match: true } } }), `${pp}.permissions[0].metadata.filter: required`);
  hasError(rules({ metadata: { filter: 'f', value: { present_match: true } } }), `${pp}.permissions[0].metadata.path: at least one key is required`);
  hasError(rules({ metadata: { filter: 'f', path: [{ key: 'a' }] } }), `${pp}.permissions[0].metadata.value: required`);
  hasError(rules({ metadata: { filter: 'f', path: [{ key: 'a' }], value: { or_match: { value_matchers: [{ bool_match: true }] } } } }), `${pp}.permissions[0].metadata.value.or_match.value_matchers: at least 2 are required`);
  hasError(rules({ metadata: { filter: 'f', path: [{ key: 'a' }], value: { list_match: {} } } }), `${pp}.permissions[0].metadata.value.list_match: one of one_of is required`);
});

test('CIDR ranges: IP literal required, prefix_len within 0..32 (IPv4) / 0..128 (IPv6)', () => {
  const pp = 'rules.policies["p"].principals[0].source_ip';
  hasError(rules({ any: true }, { source_ip: { address_prefix: 'example.com', prefix_len: { value: 8 } } }), `${pp}.address_prefix: must be an IP address, got "example.com"`);
  hasError(rules({ any: true }, { source_ip: { prefix_len: { value: 8 } } }), `${pp}.address_prefix: required`);
  hasError(rules({ any: true }, { source_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 33 } } }), `${pp}.prefix_len: must be in [0, 32] for an IPv4 address, got 33`);
  hasError(rules({ any: true }, { source_ip: { address_prefix: '::1', prefix_len: { value: 129 } } }), `${pp}.prefix_len: must be in [0, 128] for an IPv6 address, got 129`);
  const ok = (cidr: object) => {
    const p = valid(rules({ any: true }, { remote_ip: cidr })).rules!.policies[0]!.principals[0]!;
    return p.kind === 'remote_ip' ? p.cidr : null;
  };
  assert.deepEqual(ok({ address_prefix: '10.0.0.0', prefix_len: { value: 32 } }), { address: '10.0.0.0', prefixLen: 32, family: 4 });
  assert.deepEqual(ok({ address_prefix: '10.0.0.0', prefix_len: { value: 0 } }), { address: '10.0.0.0', prefixLen: 0, family: 4 });
  assert.deepEqual(ok({ address_prefix: 'fe80::', prefix_len: { value: 128 } }), { address: 'fe80::', prefixLen: 128, family: 6 });
});

test('the network filter config: stat_prefix required, enforcement_type read, request-level kinds rejected', () => {
  const { value, errors } = validateNetwork({
    stat_prefix: 'tcp_in',
    rules: { action: 'DENY', policies: { deny: { permissions: [{ destination_port: 22 }], principals: [{ not_id: { authenticated: {} } }] } } },
    shadow_rules: { policies: { s: { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 8 } } }] } } },
    shadow_rules_stat_prefix: 'dry_',
    enforcement_type: 'CONTINUOUS',
  });
  assert.deepEqual(errors, []);
  assert.equal(value.statPrefix, 'tcp_in');
  assert.equal(value.enforcementType, 'CONTINUOUS');
  assert.equal(value.shadowRulesStatPrefix, 'dry_');
  assert.equal(value.rules!.action, 'DENY');
  assert.deepEqual(value.rules!.policies[0]!.principals, [{ kind: 'not', id: { kind: 'authenticated', principalName: null } }]);
  assert.ok(Object.isFrozen(value));
  assert.equal(validateNetwork({ stat_prefix: 'x' }).value.enforcementType, 'ONE_TIME_ON_FIRST_BYTE');

  const net = (o: object) => validateNetwork({ stat_prefix: 'x', ...o }).errors;
  assert.deepEqual(net({}).length, 0);
  assert.ok(validateNetwork({}).errors.includes('filters[0].typed_config.stat_prefix: required'));
  const msg = 'needs the HTTP filter envoy.filters.http.rbac (the network RBAC filter sees connections, not requests)';
  const pp = 'filters[0].typed_config.rules.policies["p"]';
  assert.ok(net(rules({ header: { name: 'x', present_match: true } })).includes(`${pp}.permissions[0].header: ${msg}`));
  assert.ok(net(rules({ url_path: { path: { prefix: '/' } } })).includes(`${pp}.permissions[0].url_path: ${msg}`));
  assert.ok(net(rules({ any: true }, { metadata: { filter: 'f', path: [{ key: 'a' }], value: { present_match: true } } })).includes(`${pp}.principals[0].metadata: ${msg}`));
  assert.ok(net(rules({ not_rule: { or_rules: { rules: [{ url_path: { path: { prefix: '/' } } }] } } })).includes(`${pp}.permissions[0].not_rule.or_rules.rules[0].url_path: ${msg}`));
  const shadowHeader = validateNetwork({ stat_prefix: 'x', shadow_rules: { policies: { p: { permissions: [{ any: true }], principals: [{ header: { name: 'a', present_match: true } }] } } } });
  assert.ok(shadowHeader.errors.includes(`filters[0].typed_config.shadow_rules.policies["p"].principals[0].header: ${msg}`));
  assert.ok(net({ matcher: { matcher_list: { matchers: [] } } }).includes('filters[0].typed_config.matcher: not supported by Tessera'));
});

test('an HCM carrying the RBAC filter validates; a bad RBAC config NACKs the listener with the full path', () => {
  const rbac = (body: object) => ({ name: 'envoy.filters.http.rbac', typed_config: { '@type': TypeUrl.HttpRbac, ...body } });
  const ok = validateListener(decoded(TypeUrl.Listener, listener('l', hcm({ http_filters: [rbac(rules({ any: true })), ROUTER] }))));
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.errors));
  const f = ok.value.filterChains[0]!.network;
  assert.equal(f.kind, 'http_connection_manager');
  if (f.kind === 'http_connection_manager') {
    assert.equal(f.httpFilters[0]!.typeUrl, TypeUrl.HttpRbac);
    assert.equal((f.httpFilters[0]!.config as HttpRbacConfig).rules!.policies[0]!.name, 'p');
  }
  const bad = validateListener(decoded(TypeUrl.Listener, listener('l', hcm({ http_filters: [rbac({ matcher: { matcher_list: { matchers: [] } } }), ROUTER] }))));
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.ok ? [] : bad.errors, [`${P}.matcher: not supported by Tessera`]);
});
