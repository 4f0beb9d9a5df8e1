import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Result } from '../../../../../src/core/result.js';
import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, DEFAULT_OUTLIER_DETECTION, HTTP_PROTOCOL_OPTIONS_KEY, validateCluster } from '../../../../../src/xds/resources/cluster.js';
import { UPSTREAM_HTTP2_DEFAULTS } from '../../../../../src/xds/resources/common.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { decoded, edsCluster, staticCluster } from './fixtures.js';

function validate(obj: object) {
  return validateCluster(decoded(TypeUrl.Cluster, obj));
}

function hasError(r: Result<unknown>, expected: string): void {
  assert.equal(r.ok, false, 'expected validation to fail');
  const errors = r.ok ? [] : r.errors;
  assert.ok(errors.includes(expected), `expected error "${expected}" in ${JSON.stringify(errors)}`);
}

test('EDS cluster with defaults', () => {
  const r = validate({ name: 'api', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const c = r.value;
  assert.deepEqual(
    [c.type, c.edsServiceName, c.connectTimeoutMs, c.lbPolicy, c.leastRequestChoiceCount, c.loadAssignment, c.upstreamIdleTimeoutMs, c.maxRequestsPerConnection, c.perConnectionBufferLimitBytes],
    ['EDS', 'api', 5000, 'ROUND_ROBIN', 2, null, 3_600_000, 0, 1024 * 1024],
  );
  assert.ok(Object.isFrozen(c));
});

test('EDS service name, LEAST_REQUEST, protocol options and default circuit breakers', () => {
  const r = validate(
    edsCluster('api', {
      lb_policy: 'LEAST_REQUEST',
      least_request_lb_config: { choice_count: { value: 3 } },
      common_http_protocol_options: { idle_timeout: { seconds: 30 }, max_requests_per_connection: { value: 100 } },
      circuit_breakers: { thresholds: [{ max_connections: { value: 1024 }, max_retries: { value: 3 } }] },
      per_connection_buffer_limit_bytes: { value: 4096 },
      metadata: { filter_metadata: {} },
    }),
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(
    [r.value.edsServiceName, r.value.connectTimeoutMs, r.value.lbPolicy, r.value.leastRequestChoiceCount, r.value.upstreamIdleTimeoutMs, r.value.maxRequestsPerConnection, r.value.perConnectionBufferLimitBytes],
    ['api-svc', 1000, 'LEAST_REQUEST', 3, 30_000, 100, 4096],
  );
});

test('STATIC cluster carries its load assignment', () => {
  const r = validate(staticCluster('local', 9100));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.value.type, 'STATIC');
  assert.deepEqual(r.value.loadAssignment?.localities[0]?.endpoints[0]?.address, { address: '127.0.0.1', port: 9100 });
});

test('unsupported cluster features are rejected with their paths', () => {
  hasError(validate({ ...edsCluster('a'), type: 'STRICT_DNS' }), 'type: STRICT_DNS not supported by Tessera');
  hasError(validate({ ...edsCluster('a'), lb_policy: 'CLUSTER_PROVIDED' }), 'lb_policy: CLUSTER_PROVIDED not supported by Tessera');
  hasError(validate(edsCluster('a', { transport_socket: { name: 'tls' } })), 'transport_socket.typed_config: required (envoy.transport_sockets.tls with a UpstreamTlsContext)');
  hasError(validate(edsCluster('a', { lb_subset_config: { subset_selectors: [{ keys: ['v'] }] } })), 'lb_subset_config: not supported by Tessera');
  hasError(validate(edsCluster('a', { upstream_connection_options: { tcp_keepalive: {} } })), 'upstream_connection_options: not supported by Tessera');
  hasError(validate(edsCluster('a', { round_robin_lb_config: { slow_start_config: {} } })), 'round_robin_lb_config.slow_start_config: not supported by Tessera');
  hasError(validate({ name: 'a', type: 'EDS', eds_cluster_config: { eds_config: { path_config_source: { path: '/x' } } } }), 'eds_cluster_config.eds_config.path_config_source: not supported by Tessera');
});

test('invalid clusters are rejected with their paths', () => {
  hasError(validate({ type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }), 'name: required');
  hasError(validate({ name: 'a', type: 'EDS' }), 'eds_cluster_config: required for EDS clusters');
  hasError(validate({ name: 'a' }), 'load_assignment: required for STATIC clusters');
  hasError(validate(edsCluster('a', { connect_timeout: {} })), 'connect_timeout: must be greater than 0');
  hasError(validate(edsCluster('a', { least_request_lb_config: {} })), 'least_request_lb_config: requires lb_policy LEAST_REQUEST');
  const s = staticCluster('s');
  ((s.load_assignment as { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: Record<string, unknown> } } }[] }[] }).endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address).address = 'db.local';
  hasError(validate(s), 'load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: must be an IP literal, got "db.local"');
});

function valid(obj: object) {
  const r = validate(obj);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.value;
}

// ---------- LB policies ----------

test('new cluster fields take Envoy defaults', () => {
  const c = valid(edsCluster('api'));
  assert.deepEqual(c.ringHash, { minRingSize: 1024, maxRingSize: 8_388_608 });
  assert.equal(c.maglevTableSize, 65_537);
  assert.equal(c.healthyPanicThresholdPercent, 50);
  assert.equal(c.localityWeightedLb, false);
  assert.deepEqual(c.circuitBreakers, {
    default: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, retryBudget: null },
    high: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, retryBudget: null },
  });
  assert.equal(c.outlierDetection, null);
  assert.deepEqual(c.healthChecks, []);
  assert.equal(c.upstreamProtocol, 'http1');
  assert.deepEqual(c.http2, {
    maxConcurrentStreams: 2_147_483_647,
    initialStreamWindowSize: 268_435_456,
    initialConnectionWindowSize: 268_435_456,
    maxOutboundFrames: 10_000,
    maxOutboundControlFrames: 1_000,
    maxConsecutiveInboundFramesWithEmptyPayload: 1,
    maxInboundPriorityFramesPerStream: 100,
    maxInboundWindowUpdateFramesPerDataFrameSent: 10,
  });
  assert.ok(Object.isFrozen(c.circuitBreakers.high) && Object.isFrozen(c.http2));
});

test('RANDOM, RING_HASH and MAGLEV with and without their configs', () => {
  assert.equal(valid(edsCluster('a', { lb_policy: 'RANDOM' })).lbPolicy, 'RANDOM');
  const rh = valid(edsCluster('a', { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 2048 }, maximum_ring_size: { value: 4096 }, hash_function: 'XX_HASH' } }));
  assert.equal(rh.lbPolicy, 'RING_HASH');
  assert.deepEqual(rh.ringHash, { minRingSize: 2048, maxRingSize: 4096 });
  assert.deepEqual(valid(edsCluster('a', { lb_policy: 'RING_HASH' })).ringHash, { minRingSize: 1024, maxRingSize: 8_388_608 });
  const mg = valid(edsCluster('a', { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 5_000_011 } } }));
  assert.deepEqual([mg.lbPolicy, mg.maglevTableSize], ['MAGLEV', 5_000_011]);
  assert.equal(valid(edsCluster('a', { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 131 } } })).maglevTableSize, 131);
});

test('LB policy config errors name their field', () => {
  hasError(validate(edsCluster('a', { lb_policy: 'LOAD_BALANCING_POLICY_CONFIG' })), 'lb_policy: LOAD_BALANCING_POLICY_CONFIG not supported by Tessera');
  hasError(validate(edsCluster('a', { lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } })), 'ring_hash_lb_config.hash_function: MURMUR_HASH_2 not supported by Tessera');
  hasError(
    validate(edsCluster('a', { lb_policy: 'RING_HASH', ring_hash_lb_config: { maximum_ring_size: { value: 8_388_609 } } })),
    'ring_hash_lb_config.maximum_ring_size: must be in [1, 8388608], got 8388609',
  );
  hasError(
    validate(edsCluster('a', { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 4096 }, maximum_ring_size: { value: 2048 } } })),
    'ring_hash_lb_config.minimum_ring_size: (4096) must not exceed maximum_ring_size (2048)',
  );
  hasError(validate(edsCluster('a', { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 65_536 } } })), 'maglev_lb_config.table_size: must be a prime number, got 65536');
  hasError(validate(edsCluster('a', { lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 5_000_012 } } })), 'maglev_lb_config.table_size: must be in [1, 5000011], got 5000012');
  hasError(validate(edsCluster('a', { lb_policy: 'MAGLEV', ring_hash_lb_config: {} })), 'ring_hash_lb_config: requires lb_policy RING_HASH');
  hasError(validate(edsCluster('a', { maglev_lb_config: {} })), 'maglev_lb_config: requires lb_policy MAGLEV');
  hasError(validate(edsCluster('a', { lb_policy: 'RING_HASH', round_robin_lb_config: {} })), 'round_robin_lb_config: requires lb_policy ROUND_ROBIN');
});

test('common_lb_config: panic threshold and locality-weighted LB', () => {
  const c = valid(edsCluster('a', { common_lb_config: { healthy_panic_threshold: { value: 0 }, locality_weighted_lb_config: {}, update_merge_window: { seconds: 1 } } }));
  assert.deepEqual([c.healthyPanicThresholdPercent, c.localityWeightedLb], [0, true]);
  assert.equal(valid(edsCluster('a', { common_lb_config: { healthy_panic_threshold: { value: 12.5 } } })).healthyPanicThresholdPercent, 12.5);
  assert.equal(valid(edsCluster('a', { common_lb_config: {} })).healthyPanicThresholdPercent, 50);
  hasError(validate(edsCluster('a', { common_lb_config: { healthy_panic_threshold: { value: 101 } } })), 'common_lb_config.healthy_panic_threshold.value: must be in [0, 100], got 101');
  hasError(validate(edsCluster('a', { common_lb_config: { zone_aware_lb_config: {} } })), 'common_lb_config.zone_aware_lb_config: not supported by Tessera');
  hasError(validate(edsCluster('a', { common_lb_config: { consistent_hashing_lb_config: { use_hostname_for_hashing: true } } })), 'common_lb_config.consistent_hashing_lb_config: not supported by Tessera');
  hasError(validate(edsCluster('a', { common_lb_config: { ignore_new_hosts_until_first_hc: true } })), 'common_lb_config.ignore_new_hosts_until_first_hc: not supported by Tessera');
});

// ---------- circuit breakers ----------

test('circuit breakers per priority, with retry budgets and defaults', () => {
  const c = valid(
    edsCluster('a', {
      circuit_breakers: {
        thresholds: [
          { max_connections: { value: 10 }, max_pending_requests: { value: 0 }, max_retries: { value: 1 }, track_remaining: true },
          { priority: 'HIGH', max_requests: { value: 50 }, retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: { value: 5 } } },
        ],
      },
    }),
  );
  assert.deepEqual(c.circuitBreakers.default, { maxConnections: 10, maxPendingRequests: 0, maxRequests: 1024, maxRetries: 1, retryBudget: null });
  assert.deepEqual(c.circuitBreakers.high, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 50, maxRetries: 3, retryBudget: { budgetPercent: 25, minRetryConcurrency: 5 } });
  const budget = valid(edsCluster('a', { circuit_breakers: { thresholds: [{ retry_budget: {} }] } }));
  assert.deepEqual(budget.circuitBreakers.default.retryBudget, { budgetPercent: 20, minRetryConcurrency: 3 });
  assert.deepEqual(budget.circuitBreakers.high, DEFAULT_CIRCUIT_BREAKER_THRESHOLDS);
});

test('circuit breaker errors name their field', () => {
  hasError(validate(edsCluster('a', { circuit_breakers: { thresholds: [{ priority: 'HIGH' }, { priority: 'HIGH' }] } })), 'circuit_breakers.thresholds[1].priority: HIGH already configured by thresholds[0]');
  hasError(validate(edsCluster('a', { circuit_breakers: { thresholds: [{}, { max_connections: { value: 1 } }] } })), 'circuit_breakers.thresholds[1].priority: DEFAULT already configured by thresholds[0]');
  hasError(
    validate(edsCluster('a', { circuit_breakers: { thresholds: [{ retry_budget: { budget_percent: { value: 150 } } }] } })),
    'circuit_breakers.thresholds[0].retry_budget.budget_percent.value: must be in [0, 100], got 150',
  );
  hasError(validate(edsCluster('a', { circuit_breakers: { thresholds: [{ max_connection_pools: { value: 4 } }] } })), 'circuit_breakers.thresholds[0].max_connection_pools: not supported by Tessera');
  hasError(validate(edsCluster('a', { circuit_breakers: { per_host_thresholds: [{ max_connections: { value: 4 } }] } })), 'circuit_breakers.per_host_thresholds: not supported by Tessera');
});

// ---------- outlier detection ----------

test('outlier_detection: Envoy defaults, explicit values, max ejection time follows the base', () => {
  assert.deepEqual(valid(edsCluster('a', { outlier_detection: {} })).outlierDetection, DEFAULT_OUTLIER_DETECTION);
  assert.deepEqual(DEFAULT_OUTLIER_DETECTION, {
    consecutive5xx: 5, consecutiveGatewayFailure: 5, consecutiveLocalOriginFailure: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000, maxEjectionTimeJitterMs: 0, maxEjectionPercent: 10, enforcingConsecutive5xx: 100,
    enforcingConsecutiveGatewayFailure: 0, enforcingConsecutiveLocalOriginFailure: 100, enforcingSuccessRate: 100,
    enforcingLocalOriginSuccessRate: 100, successRateMinimumHosts: 5, successRateRequestVolume: 100, successRateStdevFactor: 1900,
    failurePercentageThreshold: 85, enforcingFailurePercentage: 0, enforcingFailurePercentageLocalOrigin: 0,
    failurePercentageMinimumHosts: 5, failurePercentageRequestVolume: 50, splitExternalLocalOriginErrors: false, alwaysEjectOneHost: false,
  });
  const od = valid(
    edsCluster('a', {
      outlier_detection: {
        consecutive_5xx: { value: 3 }, consecutive_gateway_failure: { value: 2 }, consecutive_local_origin_failure: { value: 7 },
        interval: { nanos: 500_000_000 }, base_ejection_time: { seconds: 400 }, max_ejection_time_jitter: { seconds: 1 },
        max_ejection_percent: { value: 100 }, enforcing_consecutive_5xx: { value: 0 }, enforcing_consecutive_gateway_failure: { value: 100 },
        enforcing_consecutive_local_origin_failure: { value: 50 }, enforcing_success_rate: { value: 0 }, enforcing_local_origin_success_rate: { value: 10 },
        success_rate_minimum_hosts: { value: 1 }, success_rate_request_volume: { value: 20 }, success_rate_stdev_factor: { value: 1000 },
        failure_percentage_threshold: { value: 50 }, enforcing_failure_percentage: { value: 100 }, enforcing_failure_percentage_local_origin: { value: 30 },
        failure_percentage_minimum_hosts: { value: 2 }, failure_percentage_request_volume: { value: 10 }, split_external_local_origin_errors: true,
        successful_active_health_check_uneject_host: { value: true }, always_eject_one_host: { value: true },
      },
    }),
  ).outlierDetection;
  assert.deepEqual(od, {
    consecutive5xx: 3, consecutiveGatewayFailure: 2, consecutiveLocalOriginFailure: 7, intervalMs: 500, baseEjectionTimeMs: 400_000,
    maxEjectionTimeMs: 400_000, maxEjectionTimeJitterMs: 1000, maxEjectionPercent: 100, enforcingConsecutive5xx: 0,
    enforcingConsecutiveGatewayFailure: 100, enforcingConsecutiveLocalOriginFailure: 50, enforcingSuccessRate: 0,
    enforcingLocalOriginSuccessRate: 10, successRateMinimumHosts: 1, successRateRequestVolume: 20, successRateStdevFactor: 1000,
    failurePercentageThreshold: 50, enforcingFailurePercentage: 100, enforcingFailurePercentageLocalOrigin: 30,
    failurePercentageMinimumHosts: 2, failurePercentageRequestVolume: 10, splitExternalLocalOriginErrors: true, alwaysEjectOneHost: true,
  });
  const explicitMax = valid(edsCluster('a', { outlier_detection: { base_ejection_time: { seconds: 1 }, max_ejection_time: { seconds: 2 } } })).outlierDetection;
  assert.deepEqual([explicitMax?.baseEjectionTimeMs, explicitMax?.maxEjectionTimeMs], [1000, 2000]);
});

test('outlier_detection errors name their field', () => {
  const od = (o: object) => validate(edsCluster('a', { outlier_detection: o }));
  hasError(od({ max_ejection_percent: { value: 101 } }), 'outlier_detection.max_ejection_percent: must be in [0, 100], got 101');
  hasError(od({ enforcing_success_rate: { value: 200 } }), 'outlier_detection.enforcing_success_rate: must be in [0, 100], got 200');
  hasError(od({ failure_percentage_threshold: { value: 101 } }), 'outlier_detection.failure_percentage_threshold: must be in [0, 100], got 101');
  hasError(od({ interval: {} }), 'outlier_detection.interval: must be greater than 0');
  hasError(od({ base_ejection_time: { seconds: 0 } }), 'outlier_detection.base_ejection_time: must be greater than 0');
  hasError(od({ base_ejection_time: { seconds: 60 }, max_ejection_time: { seconds: 30 } }), 'outlier_detection.max_ejection_time: (30000 ms) must not be less than base_ejection_time (60000 ms)');
  hasError(od({ successful_active_health_check_uneject_host: { value: false } }), 'outlier_detection.successful_active_health_check_uneject_host: false not supported by Tessera');
  hasError(od({ monitors: [{ name: 'm' }] }), 'outlier_detection.monitors: not supported by Tessera');
});

// ---------- health checks ----------

const HC = { timeout: { seconds: 1 }, interval: { seconds: 5 }, unhealthy_threshold: { value: 3 }, healthy_threshold: { value: 2 } };

test('HTTP health check with defaults', () => {
  const [hc] = valid(edsCluster('a', { health_checks: [{ ...HC, http_health_check: { path: '/healthz' } }] })).healthChecks;
  assert.deepEqual(hc, {
    timeoutMs: 1000, intervalMs: 5000, intervalJitterMs: 0, intervalJitterPercent: 0, unhealthyThreshold: 3, healthyThreshold: 2,
    noTrafficIntervalMs: 60_000, unhealthyIntervalMs: null, unhealthyEdgeIntervalMs: null, healthyEdgeIntervalMs: null, alwaysLogFailures: false,
    check: { kind: 'http', host: '', path: '/healthz', expectedStatuses: [[200, 201]], requestHeadersToAdd: [], codec: 'HTTP1' },
  });
});

test('HTTP, TCP and gRPC health checks with every field', () => {
  const c = valid(
    edsCluster('a', {
      health_checks: [
        {
          ...HC, interval_jitter: { nanos: 100_000_000 }, interval_jitter_percent: 10, no_traffic_interval: { seconds: 30 },
          unhealthy_interval: { seconds: 2 }, unhealthy_edge_interval: { seconds: 3 }, healthy_edge_interval: { seconds: 4 },
          always_log_health_check_failures: true, reuse_connection: { value: true }, event_log_path: '/dev/null',
          http_health_check: {
            host: 'svc.local', path: '/ready', expected_statuses: [{ start: 200, end: 300 }, { start: 404, end: 405 }],
            request_headers_to_add: [{ header: { key: 'X-HC', value: '1' } }], codec_client_type: 'HTTP2', method: 'GET',
          },
        },
        { ...HC, tcp_health_check: { send: { text: '50494e47' }, receive: [{ text: '504f4e47' }, { binary: Buffer.from([0, 1]).toString('base64') }] } },
        { ...HC, tcp_health_check: {} },
        { ...HC, grpc_health_check: { service_name: 'pkg.Svc', authority: 'svc' } },
      ],
    }),
  );
  const [http, tcp, connectOnly, grpc] = c.healthChecks;
  assert.deepEqual(
    [http!.intervalJitterMs, http!.intervalJitterPercent, http!.noTrafficIntervalMs, http!.unhealthyIntervalMs, http!.unhealthyEdgeIntervalMs, http!.healthyEdgeIntervalMs, http!.alwaysLogFailures],
    [100, 10, 30_000, 2000, 3000, 4000, true],
  );
  assert.deepEqual(http!.check, {
    kind: 'http', host: 'svc.local', path: '/ready', expectedStatuses: [[200, 300], [404, 405]],
    requestHeadersToAdd: [{ key: 'x-hc', value: '1', action: 'APPEND_IF_EXISTS_OR_ADD' }], codec: 'HTTP2',
  });
  assert.equal(tcp!.check.kind, 'tcp');
  if (tcp!.check.kind === 'tcp') {
    assert.deepEqual(tcp!.check.send, Buffer.from('PING'));
    assert.deepEqual(tcp!.check.receive, [Buffer.from('PONG'), Buffer.from([0, 1])]);
  }
  assert.deepEqual(connectOnly!.check, { kind: 'tcp', send: null, receive: [] });
  assert.deepEqual(grpc!.check, { kind: 'grpc', serviceName: 'pkg.Svc', authority: 'svc' });
  assert.ok(Object.isFrozen(c.healthChecks) && Object.isFrozen(tcp!.check) && Object.isFrozen(http!.check));
});

test('health check errors name their field', () => {
  const hc = (o: object) => validate(edsCluster('a', { health_checks: [o] }));
  const P = 'health_checks[0]';
  const missing = hc({ http_health_check: { path: '/' } });
  for (const f of ['timeout', 'interval', 'unhealthy_threshold', 'healthy_threshold']) hasError(missing, `${P}.${f}: required`);
  hasError(hc({ ...HC, interval: {}, http_health_check: { path: '/' } }), `${P}.interval: must be greater than 0`);
  hasError(hc({ ...HC, unhealthy_interval: {}, http_health_check: { path: '/' } }), `${P}.unhealthy_interval: must be greater than 0`);
  hasError(hc(HC), `${P}: one of http_health_check, tcp_health_check, grpc_health_check is required`);
  hasError(hc({ ...HC, custom_health_check: { name: 'x' } }), `${P}.custom_health_check: not supported by Tessera`);
  hasError(hc({ ...HC, http_health_check: {} }), `${P}.http_health_check.path: required`);
  hasError(hc({ ...HC, http_health_check: { path: '/', codec_client_type: 'HTTP3' } }), `${P}.http_health_check.codec_client_type: HTTP3 not supported by Tessera`);
  hasError(hc({ ...HC, http_health_check: { path: '/', method: 'POST' } }), `${P}.http_health_check.method: POST not supported by Tessera`);
  hasError(hc({ ...HC, http_health_check: { path: '/', send: { text: '00' } } }), `${P}.http_health_check.send: not supported by Tessera`);
  hasError(hc({ ...HC, http_health_check: { path: '/', retriable_statuses: [{ start: 500, end: 501 }] } }), `${P}.http_health_check.retriable_statuses: not supported by Tessera`);
  hasError(hc({ ...HC, http_health_check: { path: '/', expected_statuses: [{ start: 99, end: 200 }] } }), `${P}.http_health_check.expected_statuses[0].start: must be at least 100, got 99`);
  hasError(hc({ ...HC, http_health_check: { path: '/', expected_statuses: [{ start: 200, end: 601 }] } }), `${P}.http_health_check.expected_statuses[0].end: must be at most 600, got 601`);
  hasError(hc({ ...HC, http_health_check: { path: '/', expected_statuses: [{ start: 300, end: 300 }] } }), `${P}.http_health_check.expected_statuses[0]: start (300) must be less than end (300)`);
  hasError(hc({ ...HC, tcp_health_check: { send: { text: 'xyz' } } }), `${P}.tcp_health_check.send.text: invalid hex string "xyz"`);
  hasError(hc({ ...HC, tcp_health_check: { receive: [{ text: 'abc' }] } }), `${P}.tcp_health_check.receive[0].text: invalid hex string "abc"`);
  hasError(hc({ ...HC, tcp_health_check: { send: {} } }), `${P}.tcp_health_check.send: one of text, binary is required`);
  hasError(hc({ ...HC, tcp_health_check: { proxy_protocol_config: {} } }), `${P}.tcp_health_check.proxy_protocol_config: not supported by Tessera`);
  hasError(hc({ ...HC, grpc_health_check: { initial_metadata: [{ header: { key: 'a', value: 'b' } }] } }), `${P}.grpc_health_check.initial_metadata: not supported by Tessera`);
  hasError(hc({ ...HC, reuse_connection: { value: false }, tcp_health_check: {} }), `${P}.reuse_connection: false not supported by Tessera`);
  hasError(hc({ ...HC, alt_port: { value: 81 }, tcp_health_check: {} }), `${P}.alt_port: not supported by Tessera`);
  hasError(hc({ ...HC, initial_jitter: { seconds: 1 }, tcp_health_check: {} }), `${P}.initial_jitter: not supported by Tessera`);
  hasError(hc({ ...HC, tls_options: { alpn_protocols: ['h2'] }, tcp_health_check: {} }), `${P}.tls_options: not supported by Tessera`);
});

// ---------- upstream protocol ----------

function typedOptions(body: object, key = HTTP_PROTOCOL_OPTIONS_KEY) {
  return { typed_extension_protocol_options: { [key]: { '@type': TypeUrl.HttpProtocolOptions, ...body } } };
}
const TP = `typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_KEY}"]`;

test('typed HttpProtocolOptions: explicit HTTP/2 with options, explicit HTTP/1, use_downstream', () => {
  const h2 = valid(
    edsCluster('a', {
      ...typedOptions({
        explicit_http_config: {
          http2_protocol_options: {
            max_concurrent_streams: { value: 100 }, initial_stream_window_size: { value: 65_535 }, initial_connection_window_size: { value: 2_147_483_647 },
            max_outbound_frames: { value: 5 }, max_outbound_control_frames: { value: 6 }, max_consecutive_inbound_frames_with_empty_payload: { value: 0 },
            max_inbound_priority_frames_per_stream: { value: 7 }, max_inbound_window_update_frames_per_data_frame_sent: { value: 8 },
            hpack_table_size: { value: 0 }, allow_connect: false,
          },
        },
        common_http_protocol_options: { idle_timeout: { seconds: 9 }, max_requests_per_connection: { value: 1000 } },
      }),
      common_http_protocol_options: { idle_timeout: { seconds: 1 } },
    }),
  );
  assert.equal(h2.upstreamProtocol, 'http2');
  assert.deepEqual(h2.http2, {
    maxConcurrentStreams: 100, initialStreamWindowSize: 65_535, initialConnectionWindowSize: 2_147_483_647, maxOutboundFrames: 5,
    maxOutboundControlFrames: 6, maxConsecutiveInboundFramesWithEmptyPayload: 0, maxInboundPriorityFramesPerStream: 7,
    maxInboundWindowUpdateFramesPerDataFrameSent: 8,
  });
  assert.deepEqual([h2.upstreamIdleTimeoutMs, h2.maxRequestsPerConnection], [9000, 1000]);
  const h1 = valid(edsCluster('a', { ...typedOptions({ explicit_http_config: { http_protocol_options: {} } }), max_requests_per_connection: { value: 7 } }));
  assert.deepEqual([h1.upstreamProtocol, h1.http2, h1.upstreamIdleTimeoutMs, h1.maxRequestsPerConnection], ['http1', UPSTREAM_HTTP2_DEFAULTS, 3_600_000, 7]);
  const ds = valid(edsCluster('a', typedOptions({ use_downstream_protocol_config: { http2_protocol_options: { max_concurrent_streams: { value: 10 } } } })));
  assert.deepEqual([ds.upstreamProtocol, ds.http2.maxConcurrentStreams, ds.http2.initialStreamWindowSize], ['downstream', 10, 268_435_456]);
  assert.equal(valid(edsCluster('a', typedOptions({ use_downstream_protocol_config: {} }))).upstreamProtocol, 'downstream');
});

test('deprecated cluster protocol fields select the upstream protocol', () => {
  const h2 = valid(edsCluster('a', { http2_protocol_options: { initial_stream_window_size: { value: 1_048_576 } } }));
  assert.deepEqual([h2.upstreamProtocol, h2.http2.initialStreamWindowSize, h2.http2.maxConcurrentStreams], ['http2', 1_048_576, 2_147_483_647]);
  assert.equal(valid(edsCluster('a', { http_protocol_options: {} })).upstreamProtocol, 'http1');
  const ds = valid(edsCluster('a', { protocol_selection: 'USE_DOWNSTREAM_PROTOCOL', http_protocol_options: {}, http2_protocol_options: { max_concurrent_streams: { value: 3 } } }));
  assert.deepEqual([ds.upstreamProtocol, ds.http2.maxConcurrentStreams], ['downstream', 3]);
  // typed options win over the deprecated fields (Envoy ignores those then)
  assert.equal(valid(edsCluster('a', { ...typedOptions({ explicit_http_config: { http_protocol_options: {} } }), http2_protocol_options: {} })).upstreamProtocol, 'http1');
});

test('upstream protocol errors name their field', () => {
  hasError(validate(edsCluster('a', typedOptions({ auto_config: {} }))), `${TP}.auto_config: not supported by Tessera`);
  hasError(validate(edsCluster('a', typedOptions({}))), `${TP}: one of explicit_http_config, use_downstream_protocol_config is required`);
  hasError(validate(edsCluster('a', typedOptions({ explicit_http_config: { http3_protocol_options: {} } }))), `${TP}.explicit_http_config.http3_protocol_options: not supported by Tessera`);
  hasError(validate(edsCluster('a', typedOptions({ explicit_http_config: { http_protocol_options: { enable_trailers: true } } }))), `${TP}.explicit_http_config.http_protocol_options.enable_trailers: not supported by Tessera`);
  hasError(validate(edsCluster('a', typedOptions({ explicit_http_config: { http_protocol_options: {} }, upstream_http_protocol_options: { auto_sni: true } }))), `${TP}.upstream_http_protocol_options: not supported by Tessera`);
  hasError(
    validate(edsCluster('a', typedOptions({ explicit_http_config: { http_protocol_options: {} }, common_http_protocol_options: { max_connection_duration: { seconds: 1 } } }))),
    `${TP}.common_http_protocol_options.max_connection_duration: not supported by Tessera`,
  );
  hasError(
    validate(edsCluster('a', { ...typedOptions({ explicit_http_config: { http_protocol_options: {} }, common_http_protocol_options: { max_requests_per_connection: { value: 1 } } }), max_requests_per_connection: { value: 2 } })),
    `max_requests_per_connection: cannot be combined with ${TP}.common_http_protocol_options.max_requests_per_connection`,
  );
  hasError(
    validate(edsCluster('a', typedOptions({ explicit_http_config: { http_protocol_options: {} } }, 'envoy.filters.network.thrift_proxy'))),
    'typed_extension_protocol_options["envoy.filters.network.thrift_proxy"]: not supported by Tessera',
  );
  hasError(
    validate(edsCluster('a', { typed_extension_protocol_options: { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': TypeUrl.Router } } })),
    `${TP}: type ${TypeUrl.Router} not supported by Tessera (expected ${TypeUrl.HttpProtocolOptions})`,
  );
  const h2 = (o: object) => validate(edsCluster('a', { http2_protocol_options: o }));
  hasError(h2({ initial_stream_window_size: { value: 1000 } }), 'http2_protocol_options.initial_stream_window_size: must be in [65535, 2147483647], got 1000');
  hasError(h2({ initial_connection_window_size: { value: 2_147_483_648 } }), 'http2_protocol_options.initial_connection_window_size: must be in [65535, 2147483647], got 2147483648');
  hasError(h2({ max_concurrent_streams: { value: 0 } }), 'http2_protocol_options.max_concurrent_streams: must be in [1, 2147483647], got 0');
  hasError(h2({ max_outbound_frames: { value: 0 } }), 'http2_protocol_options.max_outbound_frames: must be in [1, 4294967295], got 0');
  hasError(h2({ allow_connect: true }), 'http2_protocol_options.allow_connect: not supported by Tessera');
  hasError(h2({ allow_metadata: true }), 'http2_protocol_options.allow_metadata: not supported by Tessera');
  hasError(h2({ override_stream_error_on_invalid_http_message: { value: true } }), 'http2_protocol_options.override_stream_error_on_invalid_http_message: not supported by Tessera');
  hasError(h2({ connection_keepalive: { interval: { seconds: 1 } } }), 'http2_protocol_options.connection_keepalive: not supported by Tessera');
  hasError(h2({ custom_settings_parameters: [{ identifier: { value: 9 }, value: { value: 1 } }] }), 'http2_protocol_options.custom_settings_parameters: not supported by Tessera');
  hasError(validate(edsCluster('a', { http_protocol_options: {}, http2_protocol_options: {} })), 'http2_protocol_options: cannot be combined with http_protocol_options unless protocol_selection is USE_DOWNSTREAM_PROTOCOL');
  hasError(validate(edsCluster('a', { upstream_http_protocol_options: { auto_sni: true } })), 'upstream_http_protocol_options: not supported by Tessera');
});
