import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Result } from '../../../../../src/core/result.js';
import { validateCluster } from '../../../../../src/xds/resources/cluster.js';
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
  hasError(validate({ ...edsCluster('a'), lb_policy: 'RING_HASH' }), 'lb_policy: RING_HASH not supported by Tessera');
  hasError(validate(edsCluster('a', { outlier_detection: { consecutive_5xx: { value: 5 } } })), 'outlier_detection: not supported by Tessera');
  hasError(validate(edsCluster('a', { health_checks: [{ timeout: { seconds: 1 } }] })), 'health_checks: not supported by Tessera');
  hasError(validate(edsCluster('a', { transport_socket: { name: 'tls' } })), 'transport_socket: not supported by Tessera');
  hasError(validate(edsCluster('a', { circuit_breakers: { thresholds: [{ max_connections: { value: 10 } }] } })), 'circuit_breakers.thresholds[0].max_connections: non-default value not supported by Tessera');
  hasError(validate(edsCluster('a', { circuit_breakers: { thresholds: [{ priority: 'HIGH' }] } })), 'circuit_breakers.thresholds[0].priority: not supported by Tessera');
  hasError(validate(edsCluster('a', { http2_protocol_options: {} })), 'http2_protocol_options: not supported by Tessera');
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
