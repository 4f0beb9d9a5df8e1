import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Result } from '../../../../../src/core/result.js';
import { compileRegex } from '../../../../../src/xds/resources/common.js';
import { validateRouteConfiguration } from '../../../../../src/xds/resources/route.js';
import type { ForwardActionConfig, RedirectActionConfig } from '../../../../../src/xds/resources/types.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { decoded, routeConfig } from './fixtures.js';

function validate(obj: object) {
  return validateRouteConfiguration(decoded(TypeUrl.RouteConfiguration, obj));
}

function hasError(r: Result<unknown>, expected: string): void {
  assert.equal(r.ok, false, 'expected validation to fail');
  const errors = r.ok ? [] : r.errors;
  assert.ok(errors.some((e) => e === expected || e.startsWith(expected)), `expected error "${expected}" in ${JSON.stringify(errors)}`);
}

function withRoute(route: object) {
  return validate(routeConfig('r', [route]));
}

const R0 = 'virtual_hosts[0].routes[0]';

test('matchers, actions and header mutations are read', () => {
  const r = validate({
    name: 'main',
    request_headers_to_add: [{ header: { key: 'X-Mesh', value: 'tessera' } }],
    response_headers_to_remove: ['Server'],
    virtual_hosts: [
      {
        name: 'api',
        domains: ['API.example.com', '*.example.org', 'www.*'],
        routes: [
          {
            name: 'users',
            match: {
              prefix: '/users',
              case_sensitive: { value: false },
              headers: [
                { name: ':method', exact_match: 'GET' },
                { name: 'x-v', string_match: { prefix: 'v', ignore_case: true }, invert_match: true },
                { name: 'x-n', range_match: { start: 1, end: 10 } },
                { name: 'x-p', present_match: true },
                { name: 'x-r', safe_regex_match: { regex: 'a+b' } },
              ],
              query_parameters: [{ name: 'debug' }, { name: 'q', string_match: { exact: '1' } }],
            },
            route: {
              weighted_clusters: { clusters: [{ name: 'a', weight: { value: 90 } }, { name: 'b', weight: { value: 10 }, request_headers_to_add: [{ header: { key: 'x-b', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] }] },
              prefix_rewrite: '/u',
              timeout: { seconds: 3 },
              idle_timeout: { seconds: 9 },
              upgrade_configs: [{ upgrade_type: 'websocket' }],
              auto_host_rewrite: { value: true },
            },
          },
          { match: { path: '/old' }, redirect: { https_redirect: true, response_code: 'PERMANENT_REDIRECT', strip_query: true } },
          { match: { safe_regex: { regex: '/x/[0-9]+' } }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
          { match: { path_separated_prefix: '/api' }, route: { cluster: 'api', regex_rewrite: { pattern: { regex: '^/api/(.*)' }, substitution: '/\\1' } } },
        ],
      },
    ],
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const rc = r.value;
  assert.deepEqual(rc.requestHeadersToAdd, [{ key: 'x-mesh', value: 'tessera', action: 'APPEND_IF_EXISTS_OR_ADD' }]);
  assert.deepEqual(rc.responseHeadersToRemove, ['server']);
  const vh = rc.virtualHosts[0]!;
  assert.deepEqual(vh.domains, ['api.example.com', '*.example.org', 'www.*']);
  const r0 = vh.routes[0]!;
  assert.deepEqual(r0.match.path, { kind: 'prefix', value: '/users' });
  assert.equal(r0.match.caseSensitive, false);
  assert.deepEqual(r0.match.headers.map((h) => h.match), [
    { kind: 'string', string: { kind: 'exact', value: 'GET', ignoreCase: false } },
    { kind: 'string', string: { kind: 'prefix', value: 'v', ignoreCase: true } },
    { kind: 'range', start: 1, end: 10 },
    { kind: 'present', present: true },
    { kind: 'string', string: { kind: 'regex', regex: 'a+b' } },
  ]);
  assert.equal(r0.match.headers[1]!.invert, true);
  assert.deepEqual(r0.match.queryParameters, [{ name: 'debug', string: null }, { name: 'q', string: { kind: 'exact', value: '1', ignoreCase: false } }]);
  const a = r0.action as ForwardActionConfig;
  assert.equal(a.cluster, null);
  assert.deepEqual(a.weightedClusters?.map((c) => [c.name, c.weight]), [['a', 90], ['b', 10]]);
  assert.deepEqual(a.weightedClusters?.[1]?.requestHeadersToAdd, [{ key: 'x-b', value: '1', action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
  assert.equal(a.timeoutMs, 3000);
  assert.equal(a.idleTimeoutMs, 9000);
  assert.deepEqual(a.upgradeTypes, ['websocket']);
  assert.equal(a.autoHostRewrite, true);
  const redirect = vh.routes[1]!.action as RedirectActionConfig;
  assert.deepEqual([redirect.httpsRedirect, redirect.responseCode, redirect.stripQuery], [true, 308, true]);
  assert.deepEqual(vh.routes[2]!.action, { kind: 'direct_response', status: 418, body: 'teapot' });
  const last = vh.routes[3]!;
  assert.deepEqual(last.match.path, { kind: 'path_separated_prefix', value: '/api' });
  assert.deepEqual((last.action as ForwardActionConfig).regexRewrite, { regex: '^/api/(.*)', substitution: '/\\1' });
});

test('route defaults: timeout 15 s, inherit idle timeout and upgrades, prefix "" kept', () => {
  const r = withRoute({ match: { prefix: '' }, route: { cluster: 'c' } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const route = r.value.virtualHosts[0]!.routes[0]!;
  assert.deepEqual(route.match.path, { kind: 'prefix', value: '' });
  assert.equal(route.match.caseSensitive, true);
  const a = route.action as ForwardActionConfig;
  assert.deepEqual([a.timeoutMs, a.idleTimeoutMs, a.upgradeTypes, a.prefixRewrite], [15_000, null, null, null]);
  const zero = withRoute({ match: { prefix: '/' }, route: { cluster: 'c', timeout: {} } });
  assert.ok(zero.ok);
  assert.equal((zero.value.virtualHosts[0]!.routes[0]!.action as ForwardActionConfig).timeoutMs, 0);
});

test('unsupported route features are rejected with their paths', () => {
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { num_retries: { value: 3 } } } }), `${R0}.route.retry_policy: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [{ header: { header_name: 'x' } }] } }), `${R0}.route.hash_policy: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', rate_limits: [{ actions: [] }] } }), `${R0}.route.rate_limits: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster_header: 'x-cluster' } }), `${R0}.route.cluster_header: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/', grpc: {} }, route: { cluster: 'c' } }), `${R0}.match.grpc: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/', runtime_fraction: { default_value: { numerator: 1 } } }, route: { cluster: 'c' } }), `${R0}.match.runtime_fraction: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { x: { '@type': TypeUrl.Router } } }), `${R0}.typed_per_filter_config: not supported by Tessera`);
  const cors = routeConfig('r');
  (cors.virtual_hosts as Record<string, unknown>[])[0]!.cors = { allow_origin_string_match: [{ exact: '*' }] };
  hasError(validate(cors), 'virtual_hosts[0].cors: not supported by Tessera');
  const vhRetry = routeConfig('r');
  (vhRetry.virtual_hosts as Record<string, unknown>[])[0]!.retry_policy = {};
  hasError(validate(vhRetry), 'virtual_hosts[0].retry_policy: not supported by Tessera');
  hasError(validate({ ...routeConfig('r'), vhds: { config_source: { ads: {} } } }), 'vhds: not supported by Tessera');
  hasError(withRoute({ match: { prefix: '/', headers: [{ name: 'x', string_match: { prefix: 'a' }, treat_missing_header_as_empty: true }] }, route: { cluster: 'c' } }), `${R0}.match.headers[0].treat_missing_header_as_empty: not supported by Tessera`);
});

test('invalid routes are rejected with their paths', () => {
  hasError(withRoute({ match: { safe_regex: { regex: '(a' } }, route: { cluster: 'c' } }), `${R0}.match.safe_regex.regex: invalid regex "(a"`);
  hasError(withRoute({ match: { safe_regex: { regex: '(?=a)b' } }, route: { cluster: 'c' } }), `${R0}.match.safe_regex.regex: invalid regex "(?=a)b": look-around is not RE2 syntax`);
  hasError(withRoute({ match: { prefix: '/', headers: [{ name: 'x', string_match: { safe_regex: { regex: '(a)\\1' } } }] }, route: { cluster: 'c' } }), `${R0}.match.headers[0].string_match.safe_regex.regex: invalid regex`);
  hasError(withRoute({ match: {}, route: { cluster: 'c' } }), `${R0}.match: one of prefix, path, safe_regex, path_separated_prefix is required`);
  hasError(withRoute({ match: { prefix: '/' } }), `${R0}: one of route, redirect, direct_response is required`);
  hasError(withRoute({ match: { prefix: '/' }, route: {} }), `${R0}.route: one of cluster, weighted_clusters is required`);
  hasError(withRoute({ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 0 } }] } } }), `${R0}.route.weighted_clusters.clusters: sum of weights must be greater than 0`);
  hasError(withRoute({ match: { prefix: '/' }, direct_response: { status: 99 } }), `${R0}.direct_response.status: must be in [200, 599], got 99`);
  hasError(withRoute({ match: { prefix: '/', headers: [{ name: 'x', range_match: { start: 5, end: 5 } }] }, route: { cluster: 'c' } }), `${R0}.match.headers[0].range_match: start (5) must be less than end (5)`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: [{ header: { key: ':path', value: '/' } }] }), `${R0}.request_headers_to_add[0].header.key: header ":path" cannot be modified`);
  hasError(validate({ name: 'r', virtual_hosts: [{ name: 'a', domains: ['x.com'] }, { name: 'b', domains: ['X.com'] }] }), 'virtual_hosts[1].domains[0]: domain "x.com" already used by virtual_hosts[0]');
  hasError(validate({ name: 'r', virtual_hosts: [{ name: 'a', domains: ['a.*.com'] }] }), 'virtual_hosts[0].domains[0]: invalid domain "a.*.com"');
  hasError(validate({ name: 'r', virtual_hosts: [{ name: 'a' }] }), 'virtual_hosts[0].domains: at least one domain is required');
});

test('compileRegex matches the whole input and rejects non-RE2 constructs', () => {
  assert.ok(compileRegex('a+').test('aaa'));
  assert.equal(compileRegex('a+').test('baaa'), false);
  assert.ok(compileRegex('\\p{L}+').test('héllo'));
  assert.throws(() => compileRegex('(?<!a)b'));
  assert.throws(() => compileRegex('(?P<n>a)'));
});
