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
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', hedge_policy: { hedge_on_per_try_timeout: true } } }), `${R0}.route.hedge_policy: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', retry_policy_typed_config: { '@type': TypeUrl.Router } } }), `${R0}.route.retry_policy_typed_config: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', rate_limits: [{ actions: [] }] } }), `${R0}.route.rate_limits: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster_header: 'x-cluster' } }), `${R0}.route.cluster_header: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/', grpc: {} }, route: { cluster: 'c' } }), `${R0}.match.grpc: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/', runtime_fraction: { default_value: { numerator: 1 } } }, route: { cluster: 'c' } }), `${R0}.match.runtime_fraction: not supported by Tessera`);
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { x: { '@type': TypeUrl.Router } } }), `${R0}.typed_per_filter_config: not supported by Tessera`);
  const cors = routeConfig('r');
  (cors.virtual_hosts as Record<string, unknown>[])[0]!.cors = { allow_origin_string_match: [{ exact: '*' }] };
  hasError(validate(cors), 'virtual_hosts[0].cors: not supported by Tessera');
  const vhRetry = routeConfig('r');
  (vhRetry.virtual_hosts as Record<string, unknown>[])[0]!.hedge_policy = { initial_requests: { value: 2 } };
  hasError(validate(vhRetry), 'virtual_hosts[0].hedge_policy: not supported by Tessera');
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

// ---------- retries, hashing, stream duration, priority, buffer limits ----------

function forwardOf(r: ReturnType<typeof validate>, vh = 0, route = 0): ForwardActionConfig {
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.value.virtualHosts[vh]!.routes[route]!.action as ForwardActionConfig;
}

test('new route action fields take Envoy defaults', () => {
  const a = forwardOf(withRoute({ match: { prefix: '/' }, route: { cluster: 'c' } }));
  assert.deepEqual(
    [a.retryPolicy, a.hashPolicy, a.maxStreamDurationMs, a.grpcTimeoutHeaderMaxMs, a.grpcTimeoutHeaderOffsetMs, a.priority, a.perRequestBufferLimitBytes],
    [null, [], null, null, 0, 'DEFAULT', null],
  );
});

test('retry_policy: every field, and its defaults', () => {
  const a = forwardOf(
    withRoute({
      match: { prefix: '/' },
      route: {
        cluster: 'c',
        retry_policy: {
          retry_on: '5xx, reset,connect-failure,retriable-status-codes,unavailable,5xx,',
          num_retries: { value: 4 },
          per_try_timeout: { seconds: 2 },
          per_try_idle_timeout: { nanos: 300_000_000 },
          retriable_status_codes: [409, 503],
          retry_back_off: { base_interval: { nanos: 10_000_000 }, max_interval: { seconds: 1 } },
          retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TypeUrl.PreviousHostsPredicate } }],
          host_selection_retry_max_attempts: 5,
        },
      },
    }),
  );
  assert.deepEqual(a.retryPolicy, {
    retryOn: ['5xx', 'reset', 'connect-failure', 'retriable-status-codes', 'unavailable'],
    numRetries: 4,
    perTryTimeoutMs: 2000,
    perTryIdleTimeoutMs: 300,
    retriableStatusCodes: [409, 503],
    backoffBaseMs: 10,
    backoffMaxMs: 1000,
    previousHostsPredicate: true,
    hostSelectionRetryMaxAttempts: 5,
  });
  const d = forwardOf(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: {} } }));
  assert.deepEqual(d.retryPolicy, {
    retryOn: [], numRetries: 1, perTryTimeoutMs: 0, perTryIdleTimeoutMs: 0, retriableStatusCodes: [], backoffBaseMs: 25, backoffMaxMs: 250,
    previousHostsPredicate: false, hostSelectionRetryMaxAttempts: 1,
  });
  const base = forwardOf(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_back_off: { base_interval: { nanos: 100_000_000 } } } } }));
  assert.deepEqual([base.retryPolicy?.backoffBaseMs, base.retryPolicy?.backoffMaxMs], [100, 1000]);
  const byName = forwardOf(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }] } } }));
  assert.equal(byName.retryPolicy?.previousHostsPredicate, true);
});

test('a virtual host retry_policy and buffer limit apply to routes without their own', () => {
  const r = validate({
    name: 'r',
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        retry_policy: { retry_on: 'gateway-error', num_retries: { value: 2 } },
        per_request_buffer_limit_bytes: { value: 4096 },
        routes: [
          { match: { prefix: '/own' }, per_request_buffer_limit_bytes: { value: 0 }, route: { cluster: 'c', retry_policy: { retry_on: 'reset' } } },
          { match: { prefix: '/' }, route: { cluster: 'c' } },
        ],
      },
    ],
  });
  const own = forwardOf(r, 0, 0);
  assert.deepEqual([own.retryPolicy?.retryOn, own.retryPolicy?.numRetries, own.perRequestBufferLimitBytes], [['reset'], 1, 0]);
  const inherited = forwardOf(r, 0, 1);
  assert.deepEqual([inherited.retryPolicy?.retryOn, inherited.retryPolicy?.numRetries, inherited.perRequestBufferLimitBytes], [['gateway-error'], 2, 4096]);
});

test('retry_policy errors name their field', () => {
  const rp = (p: object) => withRoute({ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: p } });
  const P = `${R0}.route.retry_policy`;
  hasError(rp({ retry_on: '5xx,retriable-headers' }), `${P}.retry_on: "retriable-headers" not supported by Tessera`);
  hasError(rp({ retry_on: 'bogus' }), `${P}.retry_on: "bogus" not supported by Tessera`);
  hasError(rp({ retry_back_off: {} }), `${P}.retry_back_off.base_interval: required`);
  hasError(rp({ retry_back_off: { base_interval: {} } }), `${P}.retry_back_off.base_interval: must be greater than 0`);
  hasError(rp({ retry_back_off: { base_interval: { seconds: 2 }, max_interval: { seconds: 1 } } }), `${P}.retry_back_off.max_interval: (1000 ms) must not be less than base_interval (2000 ms)`);
  hasError(rp({ retry_host_predicate: [{ name: 'envoy.retry_host_predicates.omit_canary_hosts' }] }), `${P}.retry_host_predicate[0]: retry host predicate "envoy.retry_host_predicates.omit_canary_hosts" not supported by Tessera`);
  hasError(rp({ retry_host_predicate: [{ name: 'x', typed_config: { '@type': TypeUrl.Router } }] }), `${P}.retry_host_predicate[0].typed_config: retry host predicate x (${TypeUrl.Router}) not supported by Tessera`);
  hasError(rp({ host_selection_retry_max_attempts: -1 }), `${P}.host_selection_retry_max_attempts: out of range: -1`);
  hasError(rp({ retry_priority: { name: 'envoy.retry_priorities.previous_priorities' } }), `${P}.retry_priority: not supported by Tessera`);
  hasError(rp({ retriable_headers: [{ name: 'x' }] }), `${P}.retriable_headers: not supported by Tessera`);
  hasError(rp({ retriable_request_headers: [{ name: 'x' }] }), `${P}.retriable_request_headers: not supported by Tessera`);
  hasError(rp({ rate_limited_retry_back_off: { reset_headers: [{ name: 'retry-after' }] } }), `${P}.rate_limited_retry_back_off: not supported by Tessera`);
  hasError(rp({ retry_options_predicates: [{ name: 'x' }] }), `${P}.retry_options_predicates: not supported by Tessera`);
  const vh = routeConfig('r');
  (vh.virtual_hosts as Record<string, unknown>[])[0]!.retry_policy = { retry_on: 'nope' };
  hasError(validate(vh), 'virtual_hosts[0].retry_policy.retry_on: "nope" not supported by Tessera');
});

test('hash_policy: header, cookie, source IP and query parameter, in order', () => {
  const a = forwardOf(
    withRoute({
      match: { prefix: '/' },
      route: {
        cluster: 'c',
        hash_policy: [
          { header: { header_name: 'X-User' }, terminal: true },
          { cookie: { name: 'sticky', ttl: { seconds: 3600 }, path: '/app' } },
          { cookie: { name: 'plain' } },
          { connection_properties: { source_ip: true } },
          { connection_properties: { source_ip: false } },
          { query_parameter: { name: 'session' } },
        ],
      },
    }),
  );
  assert.deepEqual(a.hashPolicy, [
    { kind: 'header', name: 'x-user', terminal: true },
    { kind: 'cookie', name: 'sticky', ttlMs: 3_600_000, path: '/app', terminal: false },
    { kind: 'cookie', name: 'plain', ttlMs: null, path: '', terminal: false },
    { kind: 'source_ip', terminal: false },
    { kind: 'query_parameter', name: 'session', terminal: false },
  ]);
});

test('hash_policy errors name their field', () => {
  const hp = (h: object) => withRoute({ match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [h] } });
  const P = `${R0}.route.hash_policy[0]`;
  hasError(hp({ header: { header_name: 'x', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } } }), `${P}.header.regex_rewrite: not supported by Tessera`);
  hasError(hp({ header: {} }), `${P}.header.header_name: required`);
  hasError(hp({ cookie: { name: 'c', attributes: [{ name: 'SameSite', value: 'Strict' }] } }), `${P}.cookie.attributes: not supported by Tessera`);
  hasError(hp({ cookie: {} }), `${P}.cookie.name: required`);
  hasError(hp({ query_parameter: {} }), `${P}.query_parameter.name: required`);
  hasError(hp({ filter_state: { key: 'k' } }), `${P}.filter_state: not supported by Tessera`);
  hasError(hp({ terminal: true }), `${P}: one of header, cookie, connection_properties, query_parameter is required`);
});

test('max_stream_duration, priority and per_request_buffer_limit_bytes', () => {
  const a = forwardOf(
    withRoute({
      match: { prefix: '/' },
      per_request_buffer_limit_bytes: { value: 8192 },
      route: {
        cluster: 'c',
        priority: 'HIGH',
        max_stream_duration: { max_stream_duration: { seconds: 30 }, grpc_timeout_header_max: { seconds: 10 }, grpc_timeout_header_offset: { nanos: 50_000_000 } },
      },
    }),
  );
  assert.deepEqual(
    [a.maxStreamDurationMs, a.grpcTimeoutHeaderMaxMs, a.grpcTimeoutHeaderOffsetMs, a.priority, a.perRequestBufferLimitBytes],
    [30_000, 10_000, 50, 'HIGH', 8192],
  );
  // an explicit zero: max_stream_duration 0 disables the HCM's for this route; grpc_timeout_header_max 0 = honoured uncapped
  const zero = forwardOf(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', max_stream_duration: { max_stream_duration: {}, grpc_timeout_header_max: {} } } }));
  assert.deepEqual([zero.maxStreamDurationMs, zero.grpcTimeoutHeaderMaxMs, zero.grpcTimeoutHeaderOffsetMs], [0, 0, 0]);
  const unset = forwardOf(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', max_stream_duration: {} } }));
  assert.deepEqual([unset.maxStreamDurationMs, unset.grpcTimeoutHeaderMaxMs], [null, null]);
  hasError(
    withRoute({ match: { prefix: '/' }, route: { cluster: 'c', max_stream_duration: { max_stream_duration: { seconds: -1 } } } }),
    `${R0}.route.max_stream_duration.max_stream_duration: must not be negative`,
  );
  hasError(withRoute({ match: { prefix: '/' }, route: { cluster: 'c', max_grpc_timeout: { seconds: 1 } } }), `${R0}.route.max_grpc_timeout: not supported by Tessera`);
});
