import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Result } from '../../../../../src/core/result.js';
import { registerHttpFilterConfig } from '../../../../../src/xds/resources/filters/index.js';
import { validateListener } from '../../../../../src/xds/resources/listener.js';
import type { HcmConfig, TcpProxyConfig } from '../../../../../src/xds/resources/types.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { ROUTER, decoded, hcm, listener, routeConfig } from './fixtures.js';

function validate(obj: object) {
  return validateListener(decoded(TypeUrl.Listener, obj));
}

function errorsOf<T>(r: Result<T>): string[] {
  assert.equal(r.ok, false, 'expected validation to fail');
  return r.ok ? [] : r.errors;
}

function hasError(r: Result<unknown>, expected: string): void {
  const errors = errorsOf(r);
  assert.ok(errors.includes(expected), `expected error "${expected}" in ${JSON.stringify(errors)}`);
}

const HCM_PATH = 'filter_chains[0].filters[0].typed_config';

test('an HCM listener with RDS gets Envoy defaults', () => {
  const r = validate(listener('http'));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const l = r.value;
  assert.equal(l.name, 'http');
  assert.deepEqual(l.address, { address: '127.0.0.1', port: 8080 });
  assert.equal(l.perConnectionBufferLimitBytes, 1024 * 1024);
  const h = l.filterChains[0]!.network as HcmConfig;
  assert.equal(h.kind, 'http_connection_manager');
  assert.equal(h.rdsRouteConfigName, 'routes');
  assert.equal(h.routeConfig, null);
  assert.equal(h.codecType, 'AUTO');
  assert.equal(h.requestTimeoutMs, 0);
  assert.equal(h.requestHeadersTimeoutMs, 10_000);
  assert.equal(h.streamIdleTimeoutMs, 300_000);
  assert.equal(h.idleTimeoutMs, 3_600_000);
  assert.equal(h.maxHeadersCount, 100);
  assert.equal(h.maxRequestHeadersKb, 60);
  assert.equal(h.drainTimeoutMs, 5_000);
  assert.equal(h.generateRequestId, true);
  assert.equal(h.serverName, 'tessera');
  assert.deepEqual(h.httpFilters, []);
  assert.ok(Object.isFrozen(l) && Object.isFrozen(l.filterChains[0]!.network));
  assert.equal((l.raw as { name: string }).name, 'http');
});

test('HCM settings are read (durations, wrappers, upgrades, inline route_config)', () => {
  const r = validate(
    listener('edge', {
      ...hcm(),
      rds: undefined,
      route_config: routeConfig('inline'),
      codec_type: 'HTTP1',
      request_timeout: { seconds: 30 },
      request_headers_timeout: {},
      stream_idle_timeout: { seconds: 1, nanos: 500_000_000 },
      common_http_protocol_options: { idle_timeout: { seconds: 60 }, max_headers_count: { value: 50 } },
      max_request_headers_kb: { value: 96 },
      use_remote_address: { value: true },
      xff_num_trusted_hops: 2,
      generate_request_id: { value: false },
      via: 'tessera',
      server_name: 'edge',
      http_protocol_options: { accept_http_10: true },
      upgrade_configs: [{ upgrade_type: 'WebSocket' }, { upgrade_type: 'h2c', enabled: { value: false } }],
      normalize_path: { value: true },
      merge_slashes: true,
    }),
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const h = r.value.filterChains[0]!.network as HcmConfig;
  assert.equal(h.codecType, 'HTTP1');
  assert.equal(h.requestTimeoutMs, 30_000);
  assert.equal(h.requestHeadersTimeoutMs, 0);
  assert.equal(h.streamIdleTimeoutMs, 1_500);
  assert.equal(h.idleTimeoutMs, 60_000);
  assert.equal(h.maxHeadersCount, 50);
  assert.equal(h.maxRequestHeadersKb, 96);
  assert.equal(h.useRemoteAddress, true);
  assert.equal(h.xffNumTrustedHops, 2);
  assert.equal(h.generateRequestId, false);
  assert.equal(h.serverName, 'edge');
  assert.equal(h.acceptHttp10, true);
  assert.deepEqual(h.upgradeTypes, ['websocket']);
  assert.equal(h.normalizePath, true);
  assert.equal(h.mergeSlashes, true);
  assert.equal(h.rdsRouteConfigName, null);
  assert.equal(h.routeConfig?.name, 'inline');
  assert.equal(h.routeConfig?.virtualHosts[0]?.routes.length, 1);
});

test('tcp_proxy with defaults and destination_port match', () => {
  const r = validate({
    name: 'tcp',
    address: { socket_address: { address: '0.0.0.0', port_value: 5432 } },
    filter_chains: [
      { filter_chain_match: { destination_port: { value: 5432 } }, filters: [{ name: 'tcp', typed_config: { '@type': TypeUrl.TcpProxy, stat_prefix: 'pg', cluster: 'db' } }] },
    ],
    default_filter_chain: {
      filters: [{ name: 'tcp', typed_config: { '@type': TypeUrl.TcpProxy, stat_prefix: 'other', weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] }, idle_timeout: {} } }],
    },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const tp = r.value.filterChains[0]!.network as TcpProxyConfig;
  assert.deepEqual(r.value.filterChains[0]!.match, { destinationPort: 5432, serverNames: [], transportProtocol: '', applicationProtocols: [] });
  assert.equal(tp.cluster, 'db');
  assert.equal(tp.idleTimeoutMs, 3_600_000);
  assert.equal(tp.maxConnectAttempts, 1);
  const d = r.value.defaultFilterChain!.network as TcpProxyConfig;
  assert.deepEqual(d.weightedClusters, [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }]);
  assert.equal(d.idleTimeoutMs, 0);
});

test('api_listener: no address, one HCM chain', () => {
  const r = validate({ name: 'grpc-target', api_listener: { api_listener: hcm() } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.value.address, null);
  assert.equal((r.value.filterChains[0]!.network as HcmConfig).rdsRouteConfigName, 'routes');
});

test('unsupported listener features are rejected with their paths', () => {
  hasError(validate(listener('l', hcm(), { listener_filters: [{ name: 'envoy.filters.listener.http_inspector' }] })), 'listener_filters[0]: listener filter envoy.filters.listener.http_inspector not supported by Tessera (only envoy.filters.listener.tls_inspector)');
  hasError(validate(listener('l', hcm(), { use_original_dst: { value: true } })), 'use_original_dst: not supported by Tessera');
  const tls = listener('l');
  (tls.filter_chains as Record<string, unknown>[])[0]!.transport_socket = { name: 'tls' };
  hasError(validate(tls), 'filter_chains[0].transport_socket.typed_config: required (envoy.transport_sockets.tls with a DownstreamTlsContext)');
  const sni = listener('l');
  (sni.filter_chains as Record<string, unknown>[])[0]!.filter_chain_match = { server_names: ['a.example'] };
  hasError(validate(sni), 'filter_chains[0].filter_chain_match: server_names, transport_protocol and application_protocols need the envoy.filters.listener.tls_inspector listener filter');
});

test('unsupported HCM features and HTTP filters are rejected with their paths', () => {
  hasError(
    validate(listener('l', hcm({ http_filters: [{ name: 'envoy.filters.http.cors', typed_config: { '@type': TypeUrl.Router } }, ROUTER] }))),
    `${HCM_PATH}.http_filters[0]: envoy.filters.http.router must be the last filter`,
  );
  hasError(validate(listener('l', hcm({ http_filters: [] }))), `${HCM_PATH}.http_filters: the last filter must be envoy.filters.http.router`);
  hasError(validate(listener('l', hcm({ tracing: {} }))), `${HCM_PATH}.tracing: not supported by Tessera`);
  hasError(validate(listener('l', hcm({ access_log: [{ name: 'x' }] }))), `${HCM_PATH}.access_log: not supported by Tessera`);
  hasError(validate(listener('l', hcm({ codec_type: 'HTTP3' }))), `${HCM_PATH}.codec_type: HTTP3 not supported by Tessera`);
  hasError(
    validate(listener('l', hcm({ http_filters: [{ name: 'r', typed_config: { '@type': TypeUrl.Router, suppress_envoy_headers: true } }] }))),
    `${HCM_PATH}.http_filters[0].typed_config.suppress_envoy_headers: not supported by Tessera`,
  );
  hasError(validate(listener('l', hcm({ stat_prefix: '' }))), `${HCM_PATH}.stat_prefix: required`);
  hasError(validate(listener('l', hcm({ rds: undefined }))), `${HCM_PATH}: one of rds, route_config is required`);
  hasError(
    validate(listener('l', hcm({ rds: { route_config_name: 'r', config_source: { path_config_source: { path: '/x' } } } }))),
    `${HCM_PATH}.rds.config_source.path_config_source: not supported by Tessera`,
  );
});

test('an unknown network filter type and an invalid inline regex name the full path', () => {
  const other = listener('l', { '@type': TypeUrl.Router });
  hasError(validate(other), `${HCM_PATH}: network filter ${TypeUrl.Router} not supported by Tessera`);
  const bad = listener(
    'l',
    hcm({ rds: undefined, route_config: { name: 'x', virtual_hosts: [{ name: 'a', domains: ['a'] }, { name: 'b', domains: ['b'], routes: [{ match: { safe_regex: { regex: '(' } }, route: { cluster: 'c' } }] }] } }),
  );
  const errors = errorsOf(validate(bad));
  assert.ok(
    errors.some((e) => e.startsWith(`${HCM_PATH}.route_config.virtual_hosts[1].routes[0].match.safe_regex.regex: invalid regex "("`)),
    JSON.stringify(errors),
  );
});

test('listener shape errors', () => {
  hasError(validate({ ...listener('l'), name: '' }), 'name: required');
  hasError(validate({ ...listener('l'), filter_chains: [] }), 'filter_chains: at least one filter chain is required');
  hasError(validate({ ...listener('l'), address: { socket_address: { address: 'example.com', port_value: 80 } } }), 'address.socket_address.address: must be an IP literal, got "example.com"');
  hasError(validate({ ...listener('l'), address: { pipe: { path: '/tmp/x' } } }), 'address.pipe: not supported by Tessera');
  const dup = listener('l');
  const fc = (dup.filter_chains as object[])[0]!;
  dup.filter_chains = [fc, fc];
  hasError(validate(dup), 'filter_chains[1].filter_chain_match: same match as filter_chains[0]');
});

// ---------- HTTP/2, max stream duration, HTTP filters ----------

function hcmOf(r: ReturnType<typeof validate>): HcmConfig {
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.value.filterChains[0]!.network as HcmConfig;
}

test('downstream HTTP/2 defaults follow Envoy edge guidance; max stream duration defaults to none', () => {
  const h = hcmOf(validate(listener('l')));
  assert.deepEqual(h.http2, {
    maxConcurrentStreams: 100,
    initialStreamWindowSize: 65_536,
    initialConnectionWindowSize: 1_048_576,
    maxOutboundFrames: 10_000,
    maxOutboundControlFrames: 1_000,
    maxConsecutiveInboundFramesWithEmptyPayload: 1,
    maxInboundPriorityFramesPerStream: 100,
    maxInboundWindowUpdateFramesPerDataFrameSent: 10,
  });
  assert.equal(h.maxStreamDurationMs, 0);
});

test('http2_protocol_options and common_http_protocol_options.max_stream_duration are read', () => {
  const h = hcmOf(
    validate(
      listener('l', hcm({
        codec_type: 'HTTP2',
        http2_protocol_options: { max_concurrent_streams: { value: 250 }, initial_stream_window_size: { value: 1_048_576 }, max_outbound_frames: { value: 500 }, hpack_table_size: { value: 4096 } },
        common_http_protocol_options: { max_stream_duration: { seconds: 60 } },
      })),
    ),
  );
  assert.deepEqual(
    [h.codecType, h.http2.maxConcurrentStreams, h.http2.initialStreamWindowSize, h.http2.initialConnectionWindowSize, h.http2.maxOutboundFrames, h.maxStreamDurationMs],
    ['HTTP2', 250, 1_048_576, 1_048_576, 500, 60_000],
  );
  hasError(
    validate(listener('l', hcm({ http2_protocol_options: { initial_connection_window_size: { value: 65_534 } } }))),
    `${HCM_PATH}.http2_protocol_options.initial_connection_window_size: must be in [65535, 2147483647], got 65534`,
  );
  hasError(validate(listener('l', hcm({ http2_protocol_options: { allow_connect: true } }))), `${HCM_PATH}.http2_protocol_options.allow_connect: not supported by Tessera`);
  hasError(
    validate(listener('l', hcm({ common_http_protocol_options: { max_connection_duration: { seconds: 1 } } }))),
    `${HCM_PATH}.common_http_protocol_options.max_connection_duration: not supported by Tessera`,
  );
});

// A validator registered for a type URL no real HTTP filter uses, to see exactly what the HCM hands it.
const STAND_IN = TypeUrl.PreviousHostsPredicate;
const seen: { body: unknown; path: string }[] = [];
registerHttpFilterConfig(STAND_IN, (body, path, issues) => {
  seen.push({ body, path });
  if (Object.keys(body).length > 0) issues.add(path, 'stand-in takes no fields');
  return Object.freeze({ standIn: true });
});

test('HTTP filters with a registered validator are kept in order, the router excluded', () => {
  seen.length = 0;
  const h = hcmOf(
    validate(
      listener('l', hcm({
        http_filters: [
          { name: 'first', typed_config: { '@type': STAND_IN } },
          { name: 'off', typed_config: { '@type': STAND_IN }, disabled: true },
          { name: 'second', typed_config: { '@type': STAND_IN } },
          ROUTER,
        ],
      })),
    ),
  );
  assert.deepEqual(h.httpFilters, [
    { name: 'first', typeUrl: STAND_IN, config: { standIn: true } },
    { name: 'second', typeUrl: STAND_IN, config: { standIn: true } },
  ]);
  // the disabled filter was validated too, with the body only (no @type) and its full path
  assert.deepEqual(seen, [
    { body: {}, path: `${HCM_PATH}.http_filters[0].typed_config` },
    { body: {}, path: `${HCM_PATH}.http_filters[1].typed_config` },
    { body: {}, path: `${HCM_PATH}.http_filters[2].typed_config` },
  ]);
});

test('the fault filter is accepted through its registered validator', () => {
  const h = hcmOf(
    validate(
      listener('l', hcm({
        http_filters: [{ name: 'envoy.filters.http.fault', typed_config: { '@type': TypeUrl.HttpFault, abort: { http_status: 503, percentage: { numerator: 100 } } } }, ROUTER],
      })),
    ),
  );
  assert.equal(h.httpFilters.length, 1);
  assert.deepEqual([h.httpFilters[0]!.name, h.httpFilters[0]!.typeUrl], ['envoy.filters.http.fault', TypeUrl.HttpFault]);
  assert.ok(Object.isFrozen(h.httpFilters[0]!.config));
});

test('HTTP filter errors name their field', () => {
  const fp = `${HCM_PATH}.http_filters`;
  hasError(
    validate(listener('l', hcm({ http_filters: [{ name: 'x', typed_config: { '@type': STAND_IN } }] }))),
    `${fp}: the last filter must be envoy.filters.http.router`,
  );
  hasError(
    validate(listener('l', hcm({ http_filters: [{ name: 'x', typed_config: { '@type': TypeUrl.HttpConnectionManager, stat_prefix: 'x' } }, ROUTER] }))),
    `${fp}[0].typed_config: HTTP filter x (${TypeUrl.HttpConnectionManager}) not supported by Tessera`,
  );
  hasError(
    validate(listener('l', hcm({ http_filters: [{ name: 'x', typed_config: { '@type': STAND_IN } }, { ...ROUTER, disabled: true }] }))),
    `${fp}[1].disabled: envoy.filters.http.router cannot be disabled`,
  );
  hasError(
    validate(listener('l', hcm({ http_filters: [{ name: 'x', config_discovery: { config_source: { ads: {} } } }, ROUTER] }))),
    `${fp}[0].config_discovery: not supported by Tessera`,
  );
  // the filter's own validator reports under the filter's path
  const fault = errorsOf(validate(listener('l', hcm({ http_filters: [{ name: 'f', typed_config: { '@type': TypeUrl.HttpFault, abort: {} } }, ROUTER] }))));
  assert.ok(fault.some((e) => e.startsWith(`${fp}[0].typed_config.abort`)), JSON.stringify(fault));
});

test('an optional HTTP filter of an unknown type is skipped, as in Envoy', () => {
  const h = hcmOf(
    validate(listener('l', hcm({ http_filters: [{ name: 'x', is_optional: true, typed_config: { '@type': TypeUrl.HttpConnectionManager, stat_prefix: 'x' } }, ROUTER] }))),
  );
  assert.deepEqual(h.httpFilters, []);
  const unloaded = { type_url: 'type.googleapis.com/example.filters.Unknown', value: Buffer.from([]) };
  assert.deepEqual(hcmOf(validate(listener('l', hcm({ http_filters: [{ name: 'u', is_optional: true, typed_config: unloaded }, ROUTER] })))).httpFilters, []);
  hasError(
    validate(listener('l', hcm({ http_filters: [{ name: 'u', typed_config: unloaded }, ROUTER] }))),
    `${HCM_PATH}.http_filters[0].typed_config: type type.googleapis.com/example.filters.Unknown not supported by Tessera`,
  );
});
